// Package authz will own every permission decision of the product: roles
// and policies (Casbin, RBAC with tenant domains), field-level read/write
// masks, data scopes (own, department, subtree, all) and their defaults.
// Nothing else calls Casbin. Until it lands, a signed-in staff member may
// read and write everything in their own tenant; tenant isolation itself is
// enforced in the data layer (ent/schema) and does not depend on this
// package.
package authz
