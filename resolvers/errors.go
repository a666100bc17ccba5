package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/gqlname"
	"github.com/scrm-dev/scrm/internal/requestid"
)

// ErrorPresenter maps every error a resolver (or the data layer under it)
// returns to what the client sees: extensions.code, extensions.field for
// input errors, and a message safe to show. Anything unrecognised is an
// internal error: logged in full with the request id, answered with only
// the request id, never SQL or a stack trace.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if code, coded := gqlErr.Extensions["code"]; coded {
			if code == errcode.ValidationFailed {
				variableError(gqlErr)
			}
			return gqlErr // parse, validation and limit errors come coded
		}
		code, field, message := classify(ctx, err, gqlErr)
		if code == apperr.CodeInternal {
			id := requestid.FromContext(ctx)
			logger.ErrorContext(ctx, "internal error", "request_id", id, "path", gqlErr.Path.String(), "error", err)
			message = "internal error; quote request id " + id + " when reporting it"
			gqlErr.Err = nil
		}
		gqlErr.Message = message
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = string(code)
		if field != "" {
			gqlErr.Extensions["field"] = field
		}
		if id := requestid.FromContext(ctx); id != "" {
			gqlErr.Extensions["requestId"] = id
		}
		return gqlErr
	}
}

// variableError recodes a variable that failed coercion (an unknown enum
// value, a string where a number belongs) as the bad input it is, naming the
// field. It stays a request error: HTTP 400.
func variableError(gqlErr *gqlerror.Error) {
	if len(gqlErr.Path) < 2 || gqlErr.Path[0] != ast.PathName("variable") {
		return
	}
	rest := gqlErr.Path[1:]
	if len(rest) > 1 { // inside an input object: name the field, not the variable
		rest = rest[1:]
	}
	gqlErr.Extensions["code"] = string(apperr.CodeBadUserInput)
	gqlErr.Extensions["field"] = pathString(rest)
}

// RecoverFunc turns a resolver panic into an internal error, logging the
// stack with the request id.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "request_id", requestid.FromContext(ctx),
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("panic in resolver") // classified as internal
	}
}

func classify(ctx context.Context, err error, gqlErr *gqlerror.Error) (code apperr.Code, field, message string) {
	var (
		appErr     *apperr.Error
		validation *ent.ValidationError
		notFound   *ent.NotFoundError
		constraint *ent.ConstraintError
		badID      *gid.InvalidError
	)
	argField, inArguments := argumentField(ctx, gqlErr)
	switch {
	case errors.As(err, &appErr):
		field = appErr.Field
		if field == "" {
			field = argField
		}
		return appErr.Code, field, appErr.Error()
	case errors.As(err, &validation):
		field = gqlname.Field(validation.Name)
		return apperr.CodeBadUserInput, field, field + ": " + validationMessage(validation)
	case errors.As(err, &notFound):
		return apperr.CodeNotFound, "", notFoundMessage(notFound)
	case errors.As(err, &constraint):
		return apperr.CodeConflict, conflictField(constraint), conflictMessage(constraint)
	case errors.As(err, &badID):
		return apperr.CodeBadUserInput, argField, badID.Error()
	case errors.Is(err, context.DeadlineExceeded) || (errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.DeadlineExceeded)):
		return apperr.CodeTimeout, "", "the request ran out of time; ask for less (smaller pages, fewer fields) or try again"
	case inArguments:
		// gqlgen's own coercion of arguments (enums, scalars, cursors):
		// its messages describe the input, never the server.
		return apperr.CodeBadUserInput, argField, argField + ": " + gqlErr.Message
	}
	return apperr.CodeInternal, "", ""
}

// argumentField reports whether gqlErr arose while reading a field's
// arguments (gqlgen then reports a path below the field's own) and names
// the argument at fault the way clients write it, relative to the input
// object: "birthday", "items[0].quantity", "id". It resets the error's path
// to the response field, as the GraphQL spec defines it.
func argumentField(ctx context.Context, gqlErr *gqlerror.Error) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return "", false
	}
	own := fc.Path()
	if len(gqlErr.Path) <= len(own) {
		return "", false
	}
	rest := gqlErr.Path[len(own):]
	if name, ok := rest[0].(ast.PathName); ok && name == "input" && len(rest) > 1 {
		rest = rest[1:]
	}
	gqlErr.Path = own
	return pathString(rest), true
}

func pathString(path ast.Path) string {
	var b strings.Builder
	for _, el := range path {
		switch el := el.(type) {
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(el))
		case ast.PathName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(el))
		}
	}
	return b.String()
}

// formatHints explain the patterns that ent reports only as "does not match".
var formatHints = map[string]string{
	"phone":  "must be an 11-digit mainland mobile number starting 13-19",
	"mobile": "must be an 11-digit mainland mobile number starting 13-19",
	"slug":   "must be 2-63 lowercase letters, digits or dashes, starting with a letter",
	"login":  "may hold only letters, digits and . _ @ -",
}

func validationMessage(e *ent.ValidationError) string {
	inner := e.Unwrap()
	if inner == nil {
		return "is invalid"
	}
	msg := inner.Error()
	if hint, ok := formatHints[e.Name]; ok && strings.Contains(msg, "does not match") {
		return hint
	}
	switch {
	case strings.Contains(msg, "less than the required length"):
		return "must not be empty"
	case strings.Contains(msg, "greater than the required length"):
		return "is too long"
	case strings.Contains(msg, "value out of range"):
		return "is out of range"
	case strings.Contains(msg, "invalid enum value"):
		return "is not one of the allowed values"
	}
	// Custom validators in ent/schema write messages for clients.
	return strings.TrimPrefix(msg, "ent: ")
}

func notFoundMessage(e *ent.NotFoundError) string {
	// ent's message is "ent: customer not found".
	return strings.TrimPrefix(e.Error(), "ent: ")
}

// uniqueFields are the columns of unique indexes whose clash clients can
// fix; the last column of an index names it.
var uniqueFields = []string{
	"platform_order_id", "external_id", "wecom_user_id", "wecom_dept_id",
	"wecom_group_id", "wecom_tag_id", "number", "login", "slug", "name",
}

// SQLite names the columns; modernc.org/sqlite appends the error code.
var sqliteUnique = regexp.MustCompile(`UNIQUE constraint failed: ([^(]*)`)

func conflictField(e *ent.ConstraintError) string {
	msg := e.Error()
	if m := sqliteUnique.FindStringSubmatch(msg); m != nil {
		cols := strings.Split(strings.TrimSpace(m[1]), ", ")
		last := cols[len(cols)-1]
		if _, col, ok := strings.Cut(last, "."); ok {
			return gqlname.Field(col)
		}
	}
	if _, key, ok := strings.Cut(msg, "for key '"); ok { // MySQL / MariaDB
		key = strings.TrimSuffix(strings.TrimSpace(key), "'")
		for _, f := range uniqueFields {
			if strings.HasSuffix(key, f) {
				return gqlname.Field(f)
			}
		}
	}
	return ""
}

func conflictMessage(e *ent.ConstraintError) string {
	msg := e.Error()
	if strings.Contains(msg, "FOREIGN KEY") || strings.Contains(msg, "foreign key") {
		return "the record is still referenced by other records"
	}
	if f := conflictField(e); f != "" {
		return fmt.Sprintf("%s: another record already has this %s", f, f)
	}
	return "conflicts with an existing record"
}
