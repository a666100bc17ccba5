package persisted_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/persisted"
)

// TestOurClientsDocumentsHoldAgainstTheSchema fails when a schema change
// breaks a document our own clients registered (graph/trusted), naming the
// document and the field: change the client (a new document id) first.
func TestOurClientsDocumentsHoldAgainstTheSchema(t *testing.T) {
	files, err := filepath.Glob("../../graph/trusted/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under graph/trusted (%v)", err)
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		problems, n := persisted.CheckManifest(schema, filepath.Base(f), data)
		for _, p := range problems {
			t.Error(p)
		}
		if n == 0 && len(problems) == 0 {
			t.Errorf("%s holds no documents", f)
		}
	}
}
