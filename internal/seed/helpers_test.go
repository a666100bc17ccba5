package seed_test

import (
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/tenant"
)

func tenantSlug(slug string) predicate.Tenant { return tenant.Slug(slug) }
