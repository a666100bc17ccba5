package persisted

import (
	"github.com/vektah/gqlparser/v2/ast"
)

// CheckManifest validates a manifest file's documents against schema
// without storing them (CI and `scrm pq check`): the problems, each naming
// source, and how many documents the manifest holds. A manifest that does
// not parse is one problem.
func CheckManifest(schema *ast.Schema, source string, data []byte) ([]Problem, int) {
	docs, err := ParseManifest(data)
	if err != nil {
		return []Problem{{Source: source, Errors: []string{err.Error()}}}, 0
	}
	problems := Validate(schema, docs)
	for i := range problems {
		problems[i].Source = source
	}
	return problems, len(docs)
}
