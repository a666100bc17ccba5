// Package gqlname spells ent's snake_case names the way entgql spells them
// in the GraphQL schema (platform_order_id -> platformOrderID), for code
// that maps between the two: error fields, exports, order fields.
package gqlname

import "strings"

// Field turns an ent field name into its GraphQL field name.
func Field(snake string) string {
	parts := strings.Split(snake, "_")
	for i, p := range parts {
		switch {
		case i == 0:
		case p == "id":
			parts[i] = "ID"
		case p != "":
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}
