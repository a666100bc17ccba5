package persisted

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Problem is a document that does not hold against the schema (or its
// manifest): where it is and what is wrong.
type Problem struct {
	// Tenant and List locate a stored document; Source names a manifest
	// file being checked.
	Tenant, List, Source string
	DocumentID           string
	OperationName        string
	Errors               []string
}

// String reads "tenant demo, list pos-3.2, document "abc" (Q): customers.edges.node.bogus: Cannot query …".
func (p Problem) String() string {
	var where []string
	if p.Tenant != "" {
		where = append(where, "tenant "+p.Tenant)
	}
	if p.List != "" {
		where = append(where, "list "+p.List)
	}
	if p.Source != "" {
		where = append(where, p.Source)
	}
	doc := fmt.Sprintf("document %q", p.DocumentID)
	if p.OperationName != "" {
		doc += " (" + p.OperationName + ")"
	}
	where = append(where, doc)
	return strings.Join(where, ", ") + ": " + strings.Join(p.Errors, "; ")
}

// Validate checks documents against schema: each parses, holds exactly one
// operation of the type the manifest says, passes the validation rules
// every request passes, and has the body its id names when the id is a
// SHA-256. It fills in missing operation names and types.
func Validate(schema *ast.Schema, docs []Document) []Problem {
	var problems []Problem
	for i := range docs {
		if errs := validateOne(schema, &docs[i]); len(errs) > 0 {
			problems = append(problems, Problem{DocumentID: docs[i].ID, OperationName: docs[i].Name, Errors: errs})
		}
	}
	return problems
}

func validateOne(schema *ast.Schema, d *Document) []string {
	var errs []string
	if h, ok := sha256ID(d.ID); ok && h != d.Hash {
		errs = append(errs, fmt.Sprintf("the id is a SHA-256 but the body's is %s", d.Hash))
	}
	doc, err := parser.ParseQuery(&ast.Source{Name: d.ID, Input: d.Body})
	if err != nil {
		return append(errs, "does not parse: "+messageOf(err))
	}
	if len(doc.Operations) != 1 {
		return append(errs, fmt.Sprintf("holds %d operations; a trusted document holds one", len(doc.Operations)))
	}
	op := doc.Operations[0]
	if d.Name == "" {
		d.Name = op.Name
	} else if d.Name != op.Name {
		errs = append(errs, fmt.Sprintf("the manifest names it %s but the operation is %q", d.Name, op.Name))
	}
	if d.Type == "" {
		d.Type = string(op.Operation)
	} else if d.Type != string(op.Operation) {
		errs = append(errs, fmt.Sprintf("the manifest says %s but the operation is a %s", d.Type, op.Operation))
	}
	for _, e := range validator.ValidateWithRules(schema, doc, nil) {
		errs = append(errs, located(doc, e))
	}
	return errs
}

func messageOf(err error) string {
	if e, ok := err.(*gqlerror.Error); ok {
		if len(e.Locations) > 0 {
			return fmt.Sprintf("%s (line %d)", e.Message, e.Locations[0].Line)
		}
		return e.Message
	}
	return err.Error()
}

// located prefixes a validation error with the path of the field it is
// about (gqlparser reports only a line and column), so a broken document
// reads "customers.edges.node.bogus: Cannot query field …".
func located(doc *ast.QueryDocument, e *gqlerror.Error) string {
	if len(e.Locations) == 0 {
		return e.Message
	}
	loc := e.Locations[0]
	for _, op := range doc.Operations {
		if p := pathAt(op.SelectionSet, loc, nil); p != nil {
			return strings.Join(p, ".") + ": " + e.Message
		}
	}
	for _, f := range doc.Fragments {
		if p := pathAt(f.SelectionSet, loc, []string{"..." + f.Name}); p != nil {
			return strings.Join(p, ".") + ": " + e.Message
		}
	}
	return fmt.Sprintf("line %d: %s", loc.Line, e.Message)
}

func pathAt(set ast.SelectionSet, loc gqlerror.Location, prefix []string) []string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			p := append(prefix[:len(prefix):len(prefix)], s.Alias)
			if at(s.Position, loc) {
				return p
			}
			for _, a := range s.Arguments {
				if at(a.Position, loc) || a.Value != nil && at(a.Value.Position, loc) {
					return append(p, "("+a.Name+")")
				}
			}
			if found := pathAt(s.SelectionSet, loc, p); found != nil {
				return found
			}
		case *ast.InlineFragment:
			if found := pathAt(s.SelectionSet, loc, prefix); found != nil {
				return found
			}
		}
	}
	return nil
}

func at(pos *ast.Position, loc gqlerror.Location) bool {
	return pos != nil && pos.Line == loc.Line && pos.Column == loc.Column
}

// summary is the message of a refused manifest: each failing document
// with its first few errors.
func summary(problems []Problem) string {
	const docs, errsPer = 10, 3
	var b strings.Builder
	fmt.Fprintf(&b, "%d of its documents do not validate against the schema, nothing was stored: ", len(problems))
	for i, p := range problems {
		if i == docs {
			fmt.Fprintf(&b, "; and %d more", len(problems)-docs)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		errs := p.Errors
		more := ""
		if len(errs) > errsPer {
			more = fmt.Sprintf(" (and %d more)", len(errs)-errsPer)
			errs = errs[:errsPer]
		}
		fmt.Fprintf(&b, "%s: %s%s", Document{ID: p.DocumentID, Name: p.OperationName}.describe(), strings.Join(errs, ", "), more)
	}
	return b.String()
}
