package schemadiff

import (
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// base is the schema every case changes.
const base = `
directive @cached(ttl: Int) on FIELD_DEFINITION | OBJECT
interface Node { id: ID! }
type Query {
  node(id: ID!): Node
  customers(first: Int, where: CustomerWhere, order: Order = ASC): [Customer!]!
  name: String
  tags: [String]
}
type Mutation { createCustomer(input: CreateCustomerInput!): Customer! }
type Customer implements Node { id: ID! name: String phone: String! tier: Tier }
type Order2 { id: ID! }
enum Tier { GOLD SILVER }
enum Order { ASC DESC }
union SearchResult = Customer | Order2
input CustomerWhere { name: String city: String }
input CreateCustomerInput { name: String! phone: String }
scalar Date
`

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		name    string
		from    string // replaced in base
		to      string
		changes []string // every change, in Compare's order
	}{
		{"an unchanged schema has no changes", "", "", nil},
		{"a removed type", "scalar Date\n", "", []string{"BREAKING Date: scalar removed"}},
		{"a type of another kind", "scalar Date", "type Date { iso: String }", []string{"BREAKING Date: changed from scalar to object type"}},
		{"a removed field", "name: String phone", "phone", []string{"BREAKING Customer.name: field removed"}},
		{"an added field", "tier: Tier }", "tier: Tier email: String }", []string{"SAFE Customer.email: field added"}},
		{"an output field made non-null", "  name: String\n", "  name: String!\n", []string{"SAFE Query.name: type changed from String to String!"}},
		{"an output field made nullable", "phone: String!", "phone: String", []string{"BREAKING Customer.phone: type changed from String! to String"}},
		{"an output list item made nullable", "[Customer!]!", "[Customer]!", []string{"BREAKING Query.customers: type changed from [Customer!]! to [Customer]!"}},
		{"an output list item made non-null", "tags: [String]", "tags: [String!]", []string{"SAFE Query.tags: type changed from [String] to [String!]"}},
		{"an output field of another type", "  name: String\n", "  name: Int\n", []string{"BREAKING Query.name: type changed from String to Int"}},
		{"an output field turned into a list", "  name: String\n", "  name: [String]\n", []string{"BREAKING Query.name: type changed from String to [String]"}},
		{"a removed argument", "node(id: ID!)", "node", []string{"BREAKING Query.node(id:): argument removed"}},
		{"an added required argument", "node(id: ID!)", "node(id: ID!, kind: String!)", []string{"BREAKING Query.node(kind:): required argument added"}},
		{"an added optional argument", "node(id: ID!)", "node(id: ID!, kind: String)", []string{"SAFE Query.node(kind:): optional argument added"}},
		{"an added non-null argument with a default", "node(id: ID!)", `node(id: ID!, kind: String! = "any")`, []string{"SAFE Query.node(kind:): optional argument added"}},
		{"an argument made nullable", "node(id: ID!)", "node(id: ID)", []string{"SAFE Query.node(id:): argument type changed from ID! to ID"}},
		{"an argument made non-null", "customers(first: Int,", "customers(first: Int!,", []string{"BREAKING Query.customers(first:): argument type changed from Int to Int!"}},
		{"an argument of another type", "node(id: ID!)", "node(id: String!)", []string{"BREAKING Query.node(id:): argument type changed from ID! to String!"}},
		{"a changed default", "order: Order = ASC", "order: Order = DESC", []string{"DANGEROUS Query.customers(order:): default value changed from ASC to DESC"}},
		{"a removed enum value", "enum Tier { GOLD SILVER }", "enum Tier { GOLD }", []string{"BREAKING Tier.SILVER: enum value removed"}},
		{"an added enum value", "enum Tier { GOLD SILVER }", "enum Tier { GOLD SILVER BRONZE }", []string{"DANGEROUS Tier.BRONZE: enum value added"}},
		{"a deprecated enum value", "enum Tier { GOLD SILVER }", `enum Tier { GOLD SILVER @deprecated(reason: "gone") }`, []string{"SAFE Tier.SILVER: deprecated"}},
		{"a removed union member", "= Customer | Order2", "= Customer", []string{"BREAKING SearchResult: union member Order2 removed"}},
		{"an added union member", "= Customer | Order2", "= Customer | Order2 | Node2\ntype Node2 { id: ID }", []string{
			"DANGEROUS SearchResult: union member Node2 added", "SAFE Node2: object type added"}},
		{"a removed input field", "input CustomerWhere { name: String city: String }", "input CustomerWhere { name: String }", []string{
			"BREAKING CustomerWhere.city: input field removed"}},
		{"an added required input field", "phone: String }", "phone: String store: ID! }", []string{"BREAKING CreateCustomerInput.store: required input field added"}},
		{"an added optional input field", "phone: String }", "phone: String store: ID }", []string{"SAFE CreateCustomerInput.store: optional input field added"}},
		{"an input field made non-null", "phone: String }", "phone: String! }", []string{
			"BREAKING CreateCustomerInput.phone: input field type changed from String to String!"}},
		{"an input field made nullable", "name: String! phone", "name: String phone", []string{
			"SAFE CreateCustomerInput.name: input field type changed from String! to String"}},
		{"an interface no longer implemented", "Customer implements Node", "Customer", []string{"BREAKING Customer: no longer implements Node"}},
		{"an interface newly implemented", "type Order2 {", "type Order2 implements Node {", []string{"DANGEROUS Order2: now implements Node"}},
		{"a removed directive", "directive @cached(ttl: Int) on FIELD_DEFINITION | OBJECT\n", "", []string{"BREAKING @cached: directive removed"}},
		{"a directive location removed", "on FIELD_DEFINITION | OBJECT", "on FIELD_DEFINITION", []string{"BREAKING @cached: location OBJECT removed"}},
		{"a directive argument removed", "@cached(ttl: Int)", "@cached", []string{"BREAKING @cached(ttl:): argument removed"}},
		{"a removed mutation root", "type Mutation { createCustomer(input: CreateCustomerInput!): Customer! }", "", []string{
			"BREAKING Mutation: object type removed", "BREAKING schema: mutation root type removed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("%q is not in the base schema", c.from)
			}
			newSDL := strings.Replace(base, c.from, c.to, 1)
			got := lines(Compare(load(t, base), load(t, newSDL)))
			if !slices.Equal(got, c.changes) {
				t.Errorf("changes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.changes, "\n  "))
			}
		})
	}
}

func TestBreakingChangesComeFirst(t *testing.T) {
	newSDL := strings.NewReplacer("enum Tier { GOLD SILVER }", "enum Tier { GOLD SILVER BRONZE }",
		"name: String phone", "phone", "tier: Tier }", "tier: Tier email: String }").Replace(base)
	changes := Compare(load(t, base), load(t, newSDL))
	want := []string{"BREAKING Customer.name: field removed", "DANGEROUS Tier.BRONZE: enum value added", "SAFE Customer.email: field added"}
	if got := lines(changes); !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	if b := BreakingChanges(changes); len(b) != 1 || b[0].Path != "Customer.name" {
		t.Errorf("BreakingChanges = %v", b)
	}
}

func TestPrintIsStableAndLoadsBack(t *testing.T) {
	s := load(t, base)
	sdl := Print(s)
	if sdl != Print(load(t, base)) {
		t.Fatal("two prints of one schema differ")
	}
	for _, builtin := range []string{"scalar String", "directive @deprecated", "directive @include", "__Schema"} {
		if strings.Contains(sdl, builtin) {
			t.Errorf("the SDL holds the built-in %q", builtin)
		}
	}
	if !strings.Contains(sdl, "directive @cached") || !strings.Contains(sdl, "scalar Date") {
		t.Errorf("the SDL lacks the schema's own definitions:\n%s", sdl)
	}
	if changes := Compare(s, load(t, sdl)); len(changes) != 0 {
		t.Errorf("the printed schema differs from its source: %v", changes)
	}
}

func load(t *testing.T, sdl string) *ast.Schema {
	t.Helper()
	s, err := Load("test.graphql", sdl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lines(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return out
}

func TestPrintOmitsDirectivesWithoutChangingTheSchema(t *testing.T) {
	s := load(t, `directive @goModel(model: String) on OBJECT | ENUM
directive @goField(name: String) on FIELD_DEFINITION | ARGUMENT_DEFINITION
type Query @goModel(model: "x/y.Query") {
  a(n: Int @goField(name: "N")): Int @goField(name: "A") @deprecated
}
enum E @goModel(model: "x/y.E") { V }
`)
	sdl := Print(s, GqlgenDirectives...)
	if strings.Contains(sdl, "@go") || !strings.Contains(sdl, "@deprecated") {
		t.Errorf("SDL:\n%s", sdl)
	}
	if !strings.Contains(Print(s), "@goModel(model: \"x/y.Query\")") {
		t.Error("printing without omissions lost a directive: the schema was changed")
	}
}
