package e2e_test

import (
	"encoding/json"
	"slices"
)

// collectIDs returns every "id" value in a JSON document, in order, once.
func collectIDs(raw json.RawMessage) []string {
	var doc any
	_ = json.Unmarshal(raw, &doc)
	var ids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if s, ok := v[k].(string); ok && k == "id" && !slices.Contains(ids, s) {
					ids = append(ids, s)
				}
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return ids
}
