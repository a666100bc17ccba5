package graph

import (
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// FieldGuard is the one place field-level permissions are applied: every
// field of every response (queries, mutation payloads, subscription
// events) passes through it, and so does every mutation input. It asks
// authz for the decision and does what it says:
//
//   - read denied: the field resolves to null with a FORBIDDEN error;
//   - masked: the resolver runs and its value is masked (a string the
//     client can show, never null);
//   - a mutation input setting a field the viewer may not write: the
//     mutation does not run; FORBIDDEN names the input field.
//
// Decisions are cached per role set (authz.Grants), so a field costs a
// map lookup. The observer, when set, is told of every sensitive field
// read in full and every mutation that succeeded (the audit trail).
func FieldGuard(schema *ast.Schema, observer FieldObserver) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		typ, field := fc.Object, fc.Field.Name
		if strings.HasPrefix(typ, "__") || strings.HasPrefix(field, "__") {
			return next(ctx) // introspection and __typename
		}
		g := authz.FromContext(ctx)
		if g == nil {
			return nil, apperr.Forbidden("no authorization for this request")
		}
		decision := g.Read(typ, field)
		if decision == authz.Deny {
			return nil, apperr.Forbidden("your role may not read %s.%s", typ, field)
		}
		if typ == "Mutation" {
			args := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
			if err := checkWrites(schema, g, fc, args); err != nil {
				return nil, err
			}
			res, err := next(ctx)
			if err == nil && observer != nil {
				observer.Mutated(ctx, field, args, res)
			}
			return res, err
		}
		res, err := next(ctx)
		if err != nil || res == nil {
			return res, err
		}
		obj := typ + "." + field
		if _, sensitive := authz.Sensitive[obj]; !sensitive {
			return res, nil
		}
		if decision == authz.Mask {
			return maskResult(obj, res, parentObject(fc)), nil
		}
		if observer != nil && !isEmpty(res) {
			observer.SensitiveRead(ctx, typ, field, parentObject(fc))
		}
		return res, nil
	}
}

func maskResult(obj string, res any, parent any) any {
	switch v := res.(type) {
	case string:
		return authz.MaskValue(obj, v, parent)
	case *string:
		m := authz.MaskValue(obj, *v, parent)
		return &m
	}
	// A sensitive field of a type that cannot carry a mask is withheld.
	return nil
}

func isEmpty(res any) bool {
	switch v := res.(type) {
	case string:
		return v == ""
	case *string:
		return v == nil || *v == ""
	}
	return false
}

// parentObject returns the object a field belongs to: the nearest
// enclosing result that is a struct (an ent entity).
func parentObject(fc *graphql.FieldContext) any {
	for p := fc.Parent; p != nil; p = p.Parent {
		if p.Result == nil {
			continue
		}
		v := reflect.ValueOf(p.Result)
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				break
			}
			if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
				return v.Interface()
			}
			v = v.Elem()
		}
	}
	return nil
}

// checkWrites refuses a mutation whose input objects set fields the viewer
// may not write. An input object Create<T>Input or Update<T>Input writes
// fields of T; its keys map to T's fields ("clearPhone" and "phone" to
// phone, "addTagIDs" to tags, "ownerID" to owner).
func checkWrites(schema *ast.Schema, g *authz.Grants, fc *graphql.FieldContext, args map[string]any) error {
	for _, def := range fc.Field.Definition.Arguments {
		target, ok := inputTarget(schema, def.Type.Name())
		if !ok {
			continue
		}
		input, _ := args[def.Name].(map[string]any)
		for _, k := range InputKeys(input) {
			f := objectField(schema.Types[target], k)
			if !g.CanWrite(target, f) {
				return &apperr.Error{Code: apperr.CodeForbidden, Field: k,
					Message: "your role may not write " + target + "." + f}
			}
		}
	}
	return nil
}

// FieldObserver is told what the guard let through.
type FieldObserver interface {
	// SensitiveRead: field of obj (its parent entity) was read unmasked.
	SensitiveRead(ctx context.Context, typ, field string, obj any)
	// Mutated: the mutation field succeeded with args, returning result.
	Mutated(ctx context.Context, field string, args map[string]any, result any)
}

// InputKeys returns the keys an input object sets, sorted.
func InputKeys(input map[string]any) []string {
	keys := make([]string, 0, len(input))
	for k := range input {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func inputTarget(schema *ast.Schema, input string) (string, bool) {
	name, ok := strings.CutSuffix(input, "Input")
	if !ok {
		return "", false
	}
	for _, prefix := range []string{"Create", "Update"} {
		if t, ok := strings.CutPrefix(name, prefix); ok {
			if def := schema.Types[t]; def != nil && def.Kind == ast.Object {
				return t, true
			}
		}
	}
	return "", false
}

// objectField maps an input key to the field of the object it writes.
func objectField(def *ast.Definition, key string) string {
	candidates := []string{key}
	base := key
	for _, p := range []string{"clear", "add", "remove"} {
		if rest, ok := strings.CutPrefix(base, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			base = strings.ToLower(rest[:1]) + rest[1:]
			break
		}
	}
	switch {
	case strings.HasSuffix(base, "IDs"):
		b := strings.TrimSuffix(base, "IDs")
		candidates = append(candidates, b+"s", b)
	case strings.HasSuffix(base, "ID"):
		candidates = append(candidates, strings.TrimSuffix(base, "ID"))
	default:
		candidates = append(candidates, base, base+"s")
	}
	for i := len(candidates) - 1; i >= 0; i-- {
		if def != nil && def.Fields.ForName(candidates[i]) != nil {
			return candidates[i]
		}
	}
	return key
}
