// Package apperr defines the few kinds of error the product distinguishes
// for its callers: invalid input (naming the field at fault), not found,
// conflict, forbidden and unauthenticated. Domain code and ent hooks return
// them; the GraphQL boundary (resolvers) maps them, and anything else, to an
// extensions.code once. It holds no transport logic.
package apperr

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an error, as clients see it in
// extensions.code.
type Code string

// Codes understood by clients.
const (
	CodeBadUserInput Code = "BAD_USER_INPUT"
	// CodeBadRequest: the HTTP request is not a GraphQL request at all
	// (a body that is not JSON, or not of the request's shape).
	CodeBadRequest      Code = "BAD_REQUEST"
	CodeNotFound        Code = "NOT_FOUND"
	CodeConflict        Code = "CONFLICT"
	CodeForbidden       Code = "FORBIDDEN"
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeRateLimited     Code = "RATE_LIMITED"
	// CodeTimeout: the request's execution deadline passed.
	CodeTimeout Code = "TIMEOUT"
	// CodeUnavailable: a platform we depend on is busy or unreachable;
	// the same request may succeed if sent again shortly.
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeCursorExpired: a subscription's cursor is older than the events
	// kept; the client refetches and subscribes from now.
	CodeCursorExpired Code = "CURSOR_EXPIRED"
	// CodeTooSlow: a subscriber fell too far behind the live events and
	// was dropped; it resumes from its last cursor.
	CodeTooSlow  Code = "TOO_SLOW"
	CodeInternal Code = "INTERNAL"
)

// Error is an error whose message is safe to show to the caller.
type Error struct {
	Code Code
	// Field names the input field at fault, as the client wrote it
	// (GraphQL camelCase), when there is one.
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that what was asked for does not exist for this caller.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a write that clashes with existing data.
func Conflict(field, format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports an action the caller may not take.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// Unauthenticated reports a missing or invalid credential.
func Unauthenticated(format string, args ...any) *Error {
	return &Error{Code: CodeUnauthenticated, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
