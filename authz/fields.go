package authz

import (
	"strings"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/pii"
)

// Sensitive classifies every GraphQL field that holds personal data and so
// can be masked, by "Type.field". A field that looks personal by its name
// must be here or in NotPersonal (TestEveryPersonalFieldIsClassified).
var Sensitive = map[string]pii.Class{
	"Customer.name":     pii.ClassName,
	"Customer.phone":    pii.ClassPhone,
	"Customer.email":    pii.ClassEmail,
	"Customer.address":  pii.ClassAddress,
	"Customer.idNumber": pii.ClassIDCard,
	"Customer.birthday": pii.ClassBirthday,
	"Staff.mobile":      pii.ClassPhone,
	"Staff.email":       pii.ClassEmail,
}

// NotPersonal lists fields whose names look personal but that hold no
// personal data (organisation and catalogue names, login names of staff
// accounts, flags about personal data).
var NotPersonal = map[string]string{
	"ApprovalDecision.staffName":    "a colleague's display name, as Staff.name",
	"ApprovalStep.name":             "the label of a workflow's approval step",
	"APIKey.name":                   "the label of a partner's API key",
	"TrustedDocument.operationName": "the name of a client's GraphQL operation",
	"BusinessCalendar.name":         "the label of a business calendar",
	"SLAPolicy.name":                "the label of an SLA policy",
	"TicketApproval.name":           "the label of the approval step the ticket waits on",
	"TicketType.name":               "the label of a ticket type",
	"Staff.name":                    "a colleague's display name, shown on every ticket",
	"Staff.login":                   "an account name",
	"Tenant.name":                   "an organisation",
	"Department.name":               "an organisation unit",
	"Tag.name":                      "a label",
	"TagGroup.name":                 "a label",
	"Form.name":                     "a form's title",
	"Campaign.name":                 "a campaign's title",
	"OrderItem.name":                "a product",
	"Role.name":                     "a role",
	"ConnectorAccount.name":         "an admin's label for a corp or shop",
	"JobQueue.name":                 "a background queue",
	"Channel.name":                  "a marketer's label for a QR code",
	"Customer.customAttributes":     "denied, not masked, where roles must not see it",
}

// sensitiveFields indexes Sensitive by type and field, so the per-field
// check of the guard builds no string.
var sensitiveFields = func() map[objKey]bool {
	m := map[objKey]bool{}
	for obj := range Sensitive {
		typ, field, _ := strings.Cut(obj, ".")
		m[objKey{typ, field}] = true
	}
	return m
}()

// IsSensitive reports whether typ.field holds personal data (Sensitive).
func IsSensitive(typ, field string) bool { return sensitiveFields[objKey{typ, field}] }

// MaskValue masks value of the sensitive field obj ("Type.field"). parent
// is the object the field belongs to: an address is masked down to the
// province and city of its customer.
func MaskValue(obj, value string, parent any) string {
	class := Sensitive[obj]
	if class == pii.ClassAddress {
		if c, ok := parent.(*ent.Customer); ok {
			return pii.MaskAddress(c.Province, c.City, value)
		}
	}
	return pii.Mask(class, value)
}
