package schema

import "entgo.io/ent"

func ownTenantOnly() ent.Interceptor       { return nil }
func validateOrderAmounts() ent.Hook       { return nil }
func keepCustomerTotals() ent.Hook         { return nil }
func assignTicketNumber() ent.Hook         { return nil }
func stampTicketStatusTimes() ent.Hook     { return nil }
func stampCommentAuthor() ent.Hook         { return nil }
func bumpFormVersion() ent.Hook            { return nil }
func checkSubmissionAgainstForm() ent.Hook { return nil }
func validateCampaignSchedule() ent.Hook   { return nil }
func checkStaffRoles() ent.Hook            { return nil }
