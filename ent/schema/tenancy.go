package schema

import "entgo.io/ent"

func tenantFilter() ent.Interceptor { return nil }
func tenantWriteGuard() ent.Hook    { return nil }
func tenantEdgeGuard() ent.Hook     { return nil }
