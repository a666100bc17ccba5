package authz

import "slices"

// Built-in roles. Tenants may add their own (a custom role is any role with
// policy lines or inheritance links in the tenant).
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleAgent      = "agent"
	RoleMarketer   = "marketer"
	RoleAuditor    = "auditor"
	// RolePartner and RoleCustomer are for the non-staff callers (partner
	// API keys, mini-program customers); they are granted nothing by
	// default.
	RolePartner  = "partner"
	RoleCustomer = "customer"
)

// BuiltinRoles lists the roles every tenant has.
var BuiltinRoles = []string{RoleAdmin, RoleSupervisor, RoleAgent, RoleMarketer, RoleAuditor, RolePartner, RoleCustomer}

// IsBuiltin reports whether role ships with the product.
func IsBuiltin(role string) bool { return slices.Contains(BuiltinRoles, role) }

// contact fields: who may see a customer's phone, address, email, ID
// number and birthday, and in what form, is the heart of the defaults.
var customerContact = []string{"Customer.phone", "Customer.address", "Customer.email", "Customer.idNumber", "Customer.birthday"}

var staffContact = []string{"Staff.mobile", "Staff.email"}

// adminOnly are root fields that manage the tenant itself.
var adminOnly = append([]string{
	"Query.policies", "Mutation.grant", "Mutation.revoke", "Mutation.assignRoles",
	"Mutation.defineRole", "Mutation.setRoleScope",
	"Mutation.updateTenant", "Mutation.createStaff", "Mutation.updateStaff",
	"Mutation.createDepartment", "Mutation.updateDepartment",
	"Mutation.eraseCustomer",
}, append(connectorAdminOnly, partnerAdminOnly...)...)

// connectorAdminOnly are the platform accounts and background jobs: admin
// only (added in defaults version 2).
var connectorAdminOnly = []string{
	"Query.connectorAccounts", "Mutation.createConnectorAccount", "Mutation.updateConnectorAccount",
	"Mutation.syncNow", "ConnectorAccount.*", "ConnectorAccountConnection.*", "ConnectorAccountEdge.*",
	"Query.jobQueues", "Mutation.retryJob", "JobQueue.*", "Job.*", "SyncNowPayload.*",
}

// ticketConfig are the ticket workflow's configuration: admin only
// (added in defaults version 3).
var ticketConfig = []string{
	"Mutation.createTicketType", "Mutation.updateTicketType",
	"Mutation.createSLAPolicy", "Mutation.updateSLAPolicy", "Mutation.deleteSLAPolicy",
	"Mutation.createBusinessCalendar", "Mutation.updateBusinessCalendar",
}

// ticketWork are the workflow's day-to-day mutations: agents and
// supervisors (added in defaults version 3).
var ticketWork = []string{
	"Mutation.transitionTicket", "Mutation.claimTicket", "Mutation.routeTicket",
	"Mutation.decideApproval", "Query.myApprovals",
}

// ticketTexts carry what agents and customers wrote (a transition's
// comment, an approver's reasons): hidden wherever TicketComment.body is.
var ticketTexts = []string{"TicketChange.note", "ApprovalDecision.comment", "Ticket.csatComment"}

// partnerAdminOnly manage the API's outside callers: partner keys,
// trusted documents and webhook endpoints (added in defaults version 4).
var partnerAdminOnly = []string{
	"Query.apiKeys", "Mutation.createAPIKey", "Mutation.revokeAPIKey",
	"Query.trustedDocuments", "Mutation.pushTrustedDocuments", "Mutation.deleteTrustedDocumentList",
	"Query.webhookEndpoints", "Mutation.createWebhookEndpoint", "Mutation.updateWebhookEndpoint",
	"Mutation.deleteWebhookEndpoint", "Mutation.redeliverWebhook",
	"APIKey.*", "TrustedDocument.*", "WebhookEndpoint.*", "WebhookDelivery.*",
}

// customerOnly are the root fields of a signed-in mini-program customer.
var customerOnly = []string{"Query.myCustomer", "Mutation.createMyTicket"}

// channelWrites manage channel QR codes: admins and marketers only.
var channelWrites = []string{"Mutation.createChannel", "Mutation.updateChannel", "Mutation.deleteChannel"}

// auditOnly are root fields and types of the audit trail.
var auditOnly = []string{"Query.auditLog", "Query.verifyAuditChain", "AuditLog.*", "AuditLogConnection.*", "AuditLogEdge.*"}

// DefaultPolicies returns the policy lines every new tenant starts with.
//
//   - admin: everything, data scope all.
//   - supervisor: everything but tenant administration and the audit trail,
//     contact data in full, data scope: their departments and below.
//   - agent: contact data masked (revealable one value at a time), writes
//     customers, tickets, comments and submissions (and tags of their
//     customers, markCustomerTags), data scope own; reads channel QR
//     codes but does not manage them or hand customers over.
//   - marketer: no contact data at all, masked names; writes campaigns,
//     tags, forms and channel QR codes and tags customers; data scope
//     all (to target segments).
//   - auditor: the audit trail, the organisation, and nothing personal.
//   - partner, customer: nothing until their issues grant it.
func DefaultPolicies() []Policy {
	var ps []Policy
	add := func(role string, act Act, effect string, objects ...string) {
		for _, o := range objects {
			ps = append(ps, Policy{Role: role, Object: o, Act: act, Effect: effect})
		}
	}
	allow, mask, deny := EffectAllow, EffectMask, EffectDeny

	add(RoleAdmin, ActRead, allow, "*")
	add(RoleAdmin, ActWrite, allow, "*")
	add(RoleAdmin, ActReveal, allow, "*")
	add(RoleAdmin, ActScope, allow, ScopePrefix+string(ScopeAll))

	add(RoleSupervisor, ActRead, allow, "*")
	add(RoleSupervisor, ActRead, deny, adminOnly...)
	add(RoleSupervisor, ActRead, deny, auditOnly...)
	add(RoleSupervisor, ActWrite, allow, "*")
	add(RoleSupervisor, ActRead, deny, channelWrites...)
	add(RoleSupervisor, ActRead, deny, ticketConfig...)
	add(RoleSupervisor, ActWrite, deny, "Tenant.*", "Staff.*", "Department.*", "ConnectorAccount.*", "Channel.*")
	add(RoleSupervisor, ActReveal, allow, "*")
	add(RoleSupervisor, ActScope, allow, ScopePrefix+string(ScopeDepartmentSubtree))

	add(RoleAgent, ActRead, allow, "*")
	add(RoleAgent, ActRead, deny, adminOnly...)
	add(RoleAgent, ActRead, deny, auditOnly...)
	add(RoleAgent, ActRead, deny, "Mutation.exportCustomerData", "Mutation.createOrder", "Mutation.updateOrder",
		"Mutation.createCampaign", "Mutation.updateCampaign", "Mutation.createForm", "Mutation.updateForm",
		"Mutation.createTagGroup", "Mutation.updateTagGroup", "Mutation.createTag", "Mutation.updateTag",
		"Mutation.handOverCustomers")
	add(RoleAgent, ActRead, deny, channelWrites...)
	add(RoleAgent, ActRead, deny, ticketConfig...)
	add(RoleAgent, ActRead, deny, "Mutation.assignTicket", "Query.ticketMetrics")
	add(RoleAgent, ActRead, mask, customerContact...)
	add(RoleAgent, ActRead, mask, staffContact...)
	add(RoleAgent, ActWrite, allow, "Customer.*", "CustomerIdentity.*", "Ticket.*", "TicketComment.*", "FormSubmission.*")
	add(RoleAgent, ActReveal, allow, "Customer.phone", "Customer.address")
	add(RoleAgent, ActScope, allow, ScopePrefix+string(ScopeOwn))

	add(RoleMarketer, ActRead, allow, "*")
	add(RoleMarketer, ActRead, deny, adminOnly...)
	add(RoleMarketer, ActRead, deny, auditOnly...)
	add(RoleMarketer, ActRead, deny, "Mutation.exportCustomerData", "Mutation.createOrder", "Mutation.updateOrder",
		"Mutation.createTicket", "Mutation.updateTicket", "Mutation.addTicketComment", "Mutation.revealCustomerField",
		"Query.customersByPhone", "Mutation.handOverCustomers")
	add(RoleMarketer, ActRead, deny, ticketConfig...)
	add(RoleMarketer, ActRead, deny, ticketWork...)
	add(RoleMarketer, ActRead, deny, "Mutation.assignTicket", "Query.ticketMetrics")
	add(RoleMarketer, ActRead, deny, ticketTexts...)
	add(RoleMarketer, ActRead, deny, "Customer.phone", "Customer.address", "Customer.email", "Customer.idNumber")
	add(RoleMarketer, ActRead, deny, "Customer.customAttributes", "CustomerIdentity.externalID", "TicketComment.body", "FormSubmission.data")
	add(RoleMarketer, ActRead, mask, "Customer.name", "Customer.birthday")
	add(RoleMarketer, ActRead, mask, staffContact...)
	add(RoleMarketer, ActWrite, allow, "Campaign.*", "Tag.*", "TagGroup.*", "Form.*", "Customer.tags", "Channel.*")
	add(RoleMarketer, ActScope, allow, ScopePrefix+string(ScopeAll))

	add(RoleAuditor, ActRead, allow, auditOnly...)
	add(RoleAuditor, ActRead, allow, "Query.me", "Query.tenant", "Query.roles", "Query.node", "Query.nodes",
		"Query.staff", "Query.departments", "Tenant.*", "Staff.*", "Department.*", "Role.*",
		"StaffConnection.*", "StaffEdge.*", "DepartmentConnection.*", "DepartmentEdge.*", "PageInfo.*", "AuditChainReport.*")
	add(RoleAuditor, ActRead, mask, staffContact...)
	add(RoleAuditor, ActScope, allow, ScopePrefix+string(ScopeOwn))

	ps = append(ps, partnerDefaults()...)
	ps = append(ps, customerDefaults()...)
	return ps
}

// partnerDefaults are the partner role's lines: the ceiling of what any
// API key may do; each key narrows it to its scopes (see KeyGrants).
// Partners read and write the tenant's customers, orders and tickets,
// with contact data masked; they never manage the tenant, its people,
// platforms, keys or the audit trail.
func partnerDefaults() []Policy {
	var ps []Policy
	add := func(act Act, effect string, objects ...string) {
		for _, o := range objects {
			ps = append(ps, Policy{Role: RolePartner, Object: o, Act: act, Effect: effect})
		}
	}
	add(ActRead, EffectAllow, "*")
	add(ActRead, EffectDeny, adminOnly...)
	add(ActRead, EffectDeny, auditOnly...)
	add(ActRead, EffectDeny, ticketConfig...)
	add(ActRead, EffectDeny, ticketWork...)
	add(ActRead, EffectDeny, customerOnly...)
	add(ActRead, EffectDeny, "Mutation.revealCustomerField", "Mutation.exportCustomerData", "Mutation.assignTicket",
		"Mutation.handOverCustomers", "Query.ticketMetrics", "Query.me")
	add(ActRead, EffectDeny, channelWrites...)
	add(ActRead, EffectMask, customerContact...)
	add(ActRead, EffectMask, staffContact...)
	add(ActWrite, EffectAllow, "Customer.*", "CustomerIdentity.*", "Order.*", "OrderItem.*", "Ticket.*", "TicketComment.*", "FormSubmission.*")
	add(ActScope, EffectAllow, ScopePrefix+string(ScopeAll))
	return ps
}

// customerDefaults are the customer role's lines: a mini-program customer
// reads their own profile, orders, tickets and form answers (the data
// layer confines them to their own rows and hides internal comments) and
// the forms they may fill in, submits forms (as themselves: the data layer
// refuses another customer) and opens tickets through createMyTicket.
// Nothing about staff (not even a ticket's assignee), internal notes,
// tags or other customers.
func customerDefaults() []Policy {
	var ps []Policy
	add := func(act Act, effect string, objects ...string) {
		for _, o := range objects {
			ps = append(ps, Policy{Role: RoleCustomer, Object: o, Act: act, Effect: effect})
		}
	}
	add(ActRead, EffectAllow, customerOnly...)
	add(ActRead, EffectAllow, "Mutation.createFormSubmission", "Query.forms",
		"Customer.id", "Customer.name", "Customer.gender", "Customer.phone", "Customer.email", "Customer.birthday",
		"Customer.province", "Customer.city", "Customer.district", "Customer.address", "Customer.orders", "Customer.tickets",
		"Customer.tier", "Customer.pointsBalance", "Customer.formSubmissions",
		"Order.*", "OrderItem.*", "OrderConnection.*", "OrderEdge.*",
		"Ticket.id", "Ticket.number", "Ticket.title", "Ticket.description", "Ticket.status", "Ticket.priority",
		"Ticket.createdAt", "Ticket.updatedAt", "Ticket.resolvedAt", "Ticket.closedAt", "Ticket.comments", "Ticket.ticketType",
		"Ticket.source", "Ticket.order",
		"TicketConnection.*", "TicketEdge.*", "TicketComment.id", "TicketComment.body", "TicketComment.createdAt",
		"TicketCommentConnection.*", "TicketCommentEdge.*", "TicketType.key", "TicketType.name",
		"Form.id", "Form.name", "Form.fields", "Form.status", "FormField.*", "FormConnection.*", "FormEdge.*",
		"FormSubmission.id", "FormSubmission.createdAt", "FormSubmission.status", "FormSubmission.data",
		"FormSubmission.submittedAt", "FormSubmission.form", "FormSubmissionConnection.*", "FormSubmissionEdge.*",
		"PageInfo.*", "CustomerLoginPayload.*")
	add(ActWrite, EffectAllow, "FormSubmission.*", "Ticket.title", "Ticket.description")
	add(ActScope, EffectAllow, ScopePrefix+string(ScopeOwn))
	return ps
}
