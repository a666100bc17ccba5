// Package authz owns every permission decision of the product: roles and
// policies (Casbin, RBAC with tenant domains), field-level read, mask, write
// and reveal decisions, and data scopes (own, department, subtree, chosen
// departments, all). Nothing else calls Casbin.
//
// Policies live in the casbin_rule table (written through ent in the
// caller's transaction, read by the Blank-Xu/sql-adapter). Every replica
// holds them in memory; a change publishes on Redis (casbin redis-watcher)
// and every replica reloads, with a periodic reload as the backstop for a
// message dropped while a replica was disconnected.
//
// Requests never call Casbin per field: a request's Grants compile each
// (tenant, role set) decision once and keep it until the policies change,
// so a field check costs a map lookup.
//
// The layers that apply the decisions are elsewhere, each in one place:
// the GraphQL field middleware (graph/) for reads, masks and writes, and
// the ent interceptors and hooks (ent/schema) for data scopes.
package authz
