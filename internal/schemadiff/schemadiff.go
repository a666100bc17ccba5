// Package schemadiff prints a GraphQL schema as canonical SDL and compares
// two schemas, classifying each difference as breaking (an existing client
// may fail), dangerous (an existing client may behave differently) or safe.
// It knows GraphQL's type system only, not this product's schema or where
// the committed SDL lives.
package schemadiff

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// GqlgenDirectives are gqlgen's code generation directives: they bind
// types to Go and mean nothing to a client.
var GqlgenDirectives = []string{"goModel", "goField", "goTag", "goExtraField", "goEnum"}

// Print writes schema as SDL: types and directives sorted by name, fields
// in declaration order, without GraphQL's built-in types and directives
// and without the directives named in omit (their definitions and every
// use). The same schema always prints the same bytes; schema itself is
// not changed.
func Print(schema *ast.Schema, omit ...string) string {
	if len(omit) > 0 {
		schema = withoutDirectives(schema, omit)
	}
	var buf bytes.Buffer
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).FormatSchema(schema)
	return buf.String()
}

// withoutDirectives returns a copy of s, as deep as the formatter reads,
// without the named directives.
func withoutDirectives(s *ast.Schema, names []string) *ast.Schema {
	keep := func(list ast.DirectiveList) ast.DirectiveList {
		var out ast.DirectiveList
		for _, d := range list {
			if !slices.Contains(names, d.Name) {
				out = append(out, d)
			}
		}
		return out
	}
	args := func(list ast.ArgumentDefinitionList) ast.ArgumentDefinitionList {
		out := make(ast.ArgumentDefinitionList, len(list))
		for i, a := range list {
			c := *a
			c.Directives = keep(a.Directives)
			out[i] = &c
		}
		return out
	}
	c := *s
	c.SchemaDirectives = keep(s.SchemaDirectives)
	c.Directives = make(map[string]*ast.DirectiveDefinition, len(s.Directives))
	for name, d := range s.Directives {
		if !slices.Contains(names, name) {
			c.Directives[name] = d
		}
	}
	c.Types = make(map[string]*ast.Definition, len(s.Types))
	for name, def := range s.Types {
		d := *def
		d.Directives = keep(def.Directives)
		d.Fields = make(ast.FieldList, len(def.Fields))
		for i, f := range def.Fields {
			fc := *f
			fc.Directives = keep(f.Directives)
			fc.Arguments = args(f.Arguments)
			d.Fields[i] = &fc
		}
		d.EnumValues = make(ast.EnumValueList, len(def.EnumValues))
		for i, v := range def.EnumValues {
			vc := *v
			vc.Directives = keep(v.Directives)
			d.EnumValues[i] = &vc
		}
		c.Types[name] = &d
	}
	for _, root := range []**ast.Definition{&c.Query, &c.Mutation, &c.Subscription} {
		if *root != nil {
			*root = c.Types[(*root).Name]
		}
	}
	return &c
}

// Load parses SDL into a schema (with GraphQL's built-ins), validating it.
func Load(name, sdl string) (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return s, nil
}

// Severity says what a change does to existing clients.
type Severity int

const (
	// Safe changes cannot affect an existing client.
	Safe Severity = iota
	// Dangerous changes keep every existing operation valid but may
	// change what a client sees (a new enum value in a response, a new
	// union member, a changed default).
	Dangerous
	// Breaking changes can make an existing operation invalid or its
	// result unreadable to the client that sent it.
	Breaking
)

func (s Severity) String() string {
	switch s {
	case Breaking:
		return "BREAKING"
	case Dangerous:
		return "DANGEROUS"
	}
	return "SAFE"
}

// Change is one difference between two schemas.
type Change struct {
	Severity Severity
	// Path names what changed: Type, Type.field, Type.field(arg:),
	// Enum.VALUE, @directive or @directive(arg:).
	Path    string
	Message string
}

func (c Change) String() string { return c.Severity.String() + " " + c.Path + ": " + c.Message }

// BreakingChanges returns the breaking changes among changes.
func BreakingChanges(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Severity == Breaking {
			out = append(out, c)
		}
	}
	return out
}

// Compare lists what changed from oldSchema to newSchema, most severe
// first, then by path.
func Compare(oldSchema, newSchema *ast.Schema) []Change {
	d := &differ{}
	d.roots(oldSchema, newSchema)
	for _, name := range sortedKeys(oldSchema.Types) {
		o := oldSchema.Types[name]
		if o.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		n, ok := newSchema.Types[name]
		if !ok {
			d.add(Breaking, name, "%s removed", kindName(o.Kind))
			continue
		}
		if o.Kind != n.Kind {
			d.add(Breaking, name, "changed from %s to %s", kindName(o.Kind), kindName(n.Kind))
			continue
		}
		d.definition(o, n)
	}
	for _, name := range sortedKeys(newSchema.Types) {
		if n := newSchema.Types[name]; !n.BuiltIn && oldSchema.Types[name] == nil {
			d.add(Safe, name, "%s added", kindName(n.Kind))
		}
	}
	d.directives(oldSchema, newSchema)
	slices.SortStableFunc(d.changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Path, b.Path))
	})
	return d.changes
}

type differ struct{ changes []Change }

func (d *differ) add(s Severity, path, format string, args ...any) {
	d.changes = append(d.changes, Change{Severity: s, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *differ) roots(o, n *ast.Schema) {
	for _, r := range []struct {
		op       string
		old, new *ast.Definition
	}{{"query", o.Query, n.Query}, {"mutation", o.Mutation, n.Mutation}, {"subscription", o.Subscription, n.Subscription}} {
		switch {
		case r.old != nil && r.new == nil:
			d.add(Breaking, "schema", "%s root type removed", r.op)
		case r.old != nil && r.old.Name != r.new.Name:
			d.add(Breaking, "schema", "%s root type changed from %s to %s", r.op, r.old.Name, r.new.Name)
		}
	}
}

func (d *differ) definition(o, n *ast.Definition) {
	switch o.Kind {
	case ast.Object, ast.Interface:
		d.outputFields(o, n)
		d.interfaces(o, n)
	case ast.InputObject:
		d.inputFields(o, n)
	case ast.Enum:
		d.enumValues(o, n)
	case ast.Union:
		d.unionMembers(o, n)
	}
}

func (d *differ) outputFields(o, n *ast.Definition) {
	for _, of := range o.Fields {
		if strings.HasPrefix(of.Name, "__") {
			continue
		}
		path := o.Name + "." + of.Name
		nf := n.Fields.ForName(of.Name)
		if nf == nil {
			d.add(Breaking, path, "field removed")
			continue
		}
		if !sameType(of.Type, nf.Type) {
			if outputCompatible(of.Type, nf.Type) {
				d.add(Safe, path, "type changed from %s to %s", of.Type, nf.Type)
			} else {
				d.add(Breaking, path, "type changed from %s to %s", of.Type, nf.Type)
			}
		}
		d.arguments(path, of.Arguments, nf.Arguments)
		d.deprecation(path, of.Directives, nf.Directives)
	}
	for _, nf := range n.Fields {
		if o.Fields.ForName(nf.Name) == nil && !strings.HasPrefix(nf.Name, "__") {
			d.add(Safe, o.Name+"."+nf.Name, "field added")
		}
	}
}

// arguments compares the arguments of a field or directive at path.
func (d *differ) arguments(path string, o, n ast.ArgumentDefinitionList) {
	for _, oa := range o {
		apath := path + "(" + oa.Name + ":)"
		na := n.ForName(oa.Name)
		if na == nil {
			d.add(Breaking, apath, "argument removed")
			continue
		}
		d.inputValue(apath, "argument", oa.Type, na.Type, oa.DefaultValue, na.DefaultValue)
	}
	for _, na := range n {
		if o.ForName(na.Name) != nil {
			continue
		}
		if required(na.Type, na.DefaultValue) {
			d.add(Breaking, path+"("+na.Name+":)", "required argument added")
		} else {
			d.add(Safe, path+"("+na.Name+":)", "optional argument added")
		}
	}
}

func (d *differ) inputFields(o, n *ast.Definition) {
	for _, of := range o.Fields {
		path := o.Name + "." + of.Name
		nf := n.Fields.ForName(of.Name)
		if nf == nil {
			d.add(Breaking, path, "input field removed")
			continue
		}
		d.inputValue(path, "input field", of.Type, nf.Type, of.DefaultValue, nf.DefaultValue)
		d.deprecation(path, of.Directives, nf.Directives)
	}
	for _, nf := range n.Fields {
		if o.Fields.ForName(nf.Name) != nil {
			continue
		}
		if required(nf.Type, nf.DefaultValue) {
			d.add(Breaking, o.Name+"."+nf.Name, "required input field added")
		} else {
			d.add(Safe, o.Name+"."+nf.Name, "optional input field added")
		}
	}
}

// inputValue compares an argument or input field's type and default.
func (d *differ) inputValue(path, what string, ot, nt *ast.Type, odef, ndef *ast.Value) {
	if !sameType(ot, nt) {
		if inputCompatible(ot, nt) {
			d.add(Safe, path, "%s type changed from %s to %s", what, ot, nt)
		} else {
			d.add(Breaking, path, "%s type changed from %s to %s", what, ot, nt)
		}
	}
	switch o, n := valueString(odef), valueString(ndef); {
	case o != "" && n == "" && nt.NonNull:
		d.add(Breaking, path, "default value %s removed from a required %s", o, what)
	case o != n && o != "":
		d.add(Dangerous, path, "default value changed from %s to %s", o, orNone(n))
	}
}

func (d *differ) enumValues(o, n *ast.Definition) {
	for _, ov := range o.EnumValues {
		path := o.Name + "." + ov.Name
		nv := n.EnumValues.ForName(ov.Name)
		if nv == nil {
			d.add(Breaking, path, "enum value removed")
			continue
		}
		d.deprecation(path, ov.Directives, nv.Directives)
	}
	for _, nv := range n.EnumValues {
		if o.EnumValues.ForName(nv.Name) == nil {
			// A client switching over the values it knows meets one it
			// does not.
			d.add(Dangerous, o.Name+"."+nv.Name, "enum value added")
		}
	}
}

func (d *differ) unionMembers(o, n *ast.Definition) {
	for _, t := range o.Types {
		if !slices.Contains(n.Types, t) {
			d.add(Breaking, o.Name, "union member %s removed", t)
		}
	}
	for _, t := range n.Types {
		if !slices.Contains(o.Types, t) {
			d.add(Dangerous, o.Name, "union member %s added", t)
		}
	}
}

func (d *differ) interfaces(o, n *ast.Definition) {
	for _, i := range o.Interfaces {
		if !slices.Contains(n.Interfaces, i) {
			d.add(Breaking, o.Name, "no longer implements %s", i)
		}
	}
	for _, i := range n.Interfaces {
		if !slices.Contains(o.Interfaces, i) {
			// Fragments on the interface now match this type too.
			d.add(Dangerous, o.Name, "now implements %s", i)
		}
	}
}

func (d *differ) directives(o, n *ast.Schema) {
	for _, name := range sortedKeys(o.Directives) {
		od := o.Directives[name]
		if builtIn(od) {
			continue
		}
		path := "@" + name
		nd := n.Directives[name]
		if nd == nil {
			d.add(Breaking, path, "directive removed")
			continue
		}
		for _, loc := range od.Locations {
			if !slices.Contains(nd.Locations, loc) {
				d.add(Breaking, path, "location %s removed", loc)
			}
		}
		if od.IsRepeatable && !nd.IsRepeatable {
			d.add(Breaking, path, "no longer repeatable")
		}
		d.arguments(path, od.Arguments, nd.Arguments)
	}
	for _, name := range sortedKeys(n.Directives) {
		if nd := n.Directives[name]; !builtIn(nd) && o.Directives[name] == nil {
			d.add(Safe, "@"+name, "directive added")
		}
	}
}

func (d *differ) deprecation(path string, o, n ast.DirectiveList) {
	if o.ForName("deprecated") == nil && n.ForName("deprecated") != nil {
		d.add(Safe, path, "deprecated")
	}
}

func builtIn(def *ast.DirectiveDefinition) bool {
	return def.Position != nil && def.Position.Src != nil && def.Position.Src.BuiltIn
}

// sameType reports whether two type references are identical.
func sameType(a, b *ast.Type) bool { return a.String() == b.String() }

// outputCompatible reports whether a field whose type was o may now
// return n without surprising a client: the same named type at every
// level, where non-null may be added (a client ready for null copes
// without) but never removed.
func outputCompatible(o, n *ast.Type) bool {
	if o.NonNull && !n.NonNull {
		return false
	}
	if (o.Elem == nil) != (n.Elem == nil) {
		return false
	}
	if o.Elem != nil {
		return outputCompatible(o.Elem, n.Elem)
	}
	return o.NamedType == n.NamedType
}

// inputCompatible reports whether every value a client could send for
// type o is still valid for n: the same named type at every level, where
// non-null may be dropped but never added.
func inputCompatible(o, n *ast.Type) bool {
	if !o.NonNull && n.NonNull {
		return false
	}
	if (o.Elem == nil) != (n.Elem == nil) {
		return false
	}
	if o.Elem != nil {
		return inputCompatible(o.Elem, n.Elem)
	}
	return o.NamedType == n.NamedType
}

func required(t *ast.Type, def *ast.Value) bool { return t.NonNull && def == nil }

func valueString(v *ast.Value) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func kindName(k ast.DefinitionKind) string {
	switch k {
	case ast.InputObject:
		return "input type"
	case ast.Object:
		return "object type"
	}
	return strings.ToLower(string(k))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
