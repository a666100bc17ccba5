package authz

import (
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/schema"
)

type predicateCasbin = predicate.CasbinRule

func departmentIDIn(ids []int) predicate.Department { return department.IDIn(ids...) }

// The data layer installs the default policies in the transaction that
// creates a tenant, and refuses staff changes that would leave nobody to
// manage it; this package owns both rules.
func init() {
	schema.DefaultPolicyLines = DefaultLines
	schema.DefaultPolicyVersion = DefaultsVersion
	schema.CheckManagers = checkNotLockedOut
}
