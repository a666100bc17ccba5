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
	"github.com/scrm-dev/scrm/internal/gqlname"
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
		if len(fc.Field.Arguments) > 0 {
			if err := checkFilters(ctx, schema, g, fc); err != nil {
				return nil, err
			}
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
		if !authz.IsSensitive(typ, field) {
			return res, nil
		}
		if decision == authz.Mask {
			return maskResult(typ+"."+field, res, parentObject(fc)), nil
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

// checkFilters refuses a where or orderBy argument that filters or sorts
// on a field the viewer may not read in full: a masked name could
// otherwise be confirmed letter by letter (nameHasPrefix) or a denied
// phone tested. It walks where inputs through not/and/or and edge
// predicates (hasOwnerWith), each against its own type.
func checkFilters(ctx context.Context, schema *ast.Schema, g *authz.Grants, fc *graphql.FieldContext) error {
	var args map[string]any
	for _, def := range fc.Field.Definition.Arguments {
		name := def.Type.Name()
		isWhere, isOrder := strings.HasSuffix(name, "WhereInput"), strings.HasSuffix(name, "Order")
		if !isWhere && !isOrder {
			continue
		}
		if args == nil {
			args = fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
		}
		v, ok := args[def.Name]
		if !ok || v == nil {
			continue
		}
		var err error
		if isWhere {
			err = checkWhere(schema, g, def.Name, schema.Types[name], v)
		} else {
			err = checkOrder(g, def.Name, strings.TrimSuffix(name, "Order"), v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkWhere(schema *ast.Schema, g *authz.Grants, path string, input *ast.Definition, v any) error {
	if input == nil {
		return nil
	}
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if err := checkWhere(schema, g, path, input, item); err != nil {
				return err
			}
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	target := schema.Types[strings.TrimSuffix(input.Name, "WhereInput")]
	for _, key := range InputKeys(m) {
		f := input.Fields.ForName(key)
		if f == nil {
			continue
		}
		if inner := f.Type.Name(); strings.HasSuffix(inner, "WhereInput") {
			if err := checkWhere(schema, g, path+"."+key, schema.Types[inner], m[key]); err != nil {
				return err
			}
			if !strings.HasPrefix(key, "has") { // not, and, or: the same type
				continue
			}
		}
		field := predicateField(target, key)
		if field != "" && g.Read(target.Name, field) != authz.Allow {
			return &apperr.Error{Code: apperr.CodeForbidden, Field: path + "." + key,
				Message: "your role may not filter on " + target.Name + "." + field}
		}
	}
	return nil
}

// predicateSuffixes are what entgql appends to a field's name to form a
// where predicate, longest first.
var predicateSuffixes = []string{"ContainsFold", "EqualFold", "HasPrefix", "HasSuffix", "Contains", "NotNil", "IsNil", "NotIn", "NEQ", "GTE", "LTE", "GT", "LT", "In", ""}

// predicateField names the field of target a where key tests: nameHasPrefix
// tests name, hasOwnerWith and hasOwner test owner.
func predicateField(target *ast.Definition, key string) string {
	if target == nil {
		return ""
	}
	if rest, ok := strings.CutPrefix(key, "has"); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
		rest = strings.TrimSuffix(rest, "With")
		return objectField(target, strings.ToLower(rest[:1])+rest[1:])
	}
	for _, suffix := range predicateSuffixes {
		if base, ok := strings.CutSuffix(key, suffix); ok && base != "" {
			for _, f := range target.Fields {
				if strings.EqualFold(f.Name, base) {
					return f.Name
				}
			}
		}
	}
	return ""
}

// checkOrder refuses sorting by a field the viewer may not read in full.
func checkOrder(g *authz.Grants, path, typ string, v any) error {
	var orders []any
	switch x := v.(type) {
	case []any:
		orders = x
	default:
		orders = []any{x}
	}
	for _, o := range orders {
		m, _ := o.(map[string]any)
		enum, _ := m["field"].(string)
		if enum == "" {
			continue
		}
		field := gqlname.Field(strings.ToLower(enum)) // LAST_ORDER_AT sorts by lastOrderAt
		if g.Read(typ, field) != authz.Allow {
			return &apperr.Error{Code: apperr.CodeForbidden, Field: path + ".field",
				Message: "your role may not sort by " + typ + "." + field}
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
	if def != nil {
		for i := len(candidates) - 1; i >= 0; i-- {
			for _, f := range def.Fields { // clearIDNumber names idNumber
				if strings.EqualFold(f.Name, candidates[i]) {
					return f.Name
				}
			}
		}
	}
	return key
}
