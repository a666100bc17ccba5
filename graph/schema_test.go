package graph_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/graph"
)

// TestCommittedSchemaIsCurrent keeps graph/schema.graphql, the contract
// clients are given, equal to the schema the server serves.
func TestCommittedSchemaIsCurrent(t *testing.T) {
	committed, err := os.ReadFile("schema.graphql")
	if err != nil {
		t.Fatalf("%v: run make schema", err)
	}
	if string(committed) != graph.SDL() {
		t.Fatal("graph/schema.graphql differs from the served schema: run make schema " +
			"(bin/scrm schema check lists what changed, breaking changes first)")
	}
}

// TestGqlgenLoadsEverySourceOnce: gqlgen.yml names the SDL sources one by
// one, so that the exported graph/schema.graphql is not loaded as a
// source; a new graph/*.graphql must be named there.
func TestGqlgenLoadsEverySourceOnce(t *testing.T) {
	cfg, err := os.ReadFile("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	inSchema := false
	for line := range strings.Lines(string(cfg)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "schema:":
			inSchema = true
		case inSchema && strings.HasPrefix(line, "  - "):
			listed = append(listed, strings.TrimPrefix(line, "  - "))
		case inSchema:
			inSchema = false
		}
	}
	files, err := filepath.Glob("*.graphql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := "graph/" + f
		if f == "schema.graphql" {
			if slices.Contains(listed, name) {
				t.Errorf("gqlgen.yml loads %s, the exported contract, as a source", name)
			}
			continue
		}
		if !slices.Contains(listed, name) {
			t.Errorf("gqlgen.yml does not list %s under schema:", name)
		}
	}
	for _, l := range listed {
		if strings.ContainsAny(l, "*?[") {
			t.Errorf("gqlgen.yml schema entry %s is a glob: it would match graph/schema.graphql", l)
		}
	}
}
