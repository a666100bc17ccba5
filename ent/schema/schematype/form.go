// Package schematype holds the Go types stored in JSON columns of the data
// model, with the validation that keeps them well formed. It depends on
// nothing but the standard library so that ent/schema, resolvers and domain
// packages can all share it.
package schematype

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// FormFieldType is the kind of value a form field takes.
type FormFieldType string

// Form field types.
const (
	FormFieldText        FormFieldType = "TEXT"
	FormFieldTextarea    FormFieldType = "TEXTAREA"
	FormFieldNumber      FormFieldType = "NUMBER"
	FormFieldDate        FormFieldType = "DATE"
	FormFieldSelect      FormFieldType = "SELECT"
	FormFieldMultiSelect FormFieldType = "MULTI_SELECT"
	FormFieldCheckbox    FormFieldType = "CHECKBOX"
	FormFieldPhone       FormFieldType = "PHONE"
	FormFieldEmail       FormFieldType = "EMAIL"
)

var formFieldTypes = []FormFieldType{
	FormFieldText, FormFieldTextarea, FormFieldNumber, FormFieldDate, FormFieldSelect,
	FormFieldMultiSelect, FormFieldCheckbox, FormFieldPhone, FormFieldEmail,
}

// Values lists every form field type (for GraphQL enum generation).
func (FormFieldType) Values() []string {
	out := make([]string, len(formFieldTypes))
	for i, t := range formFieldTypes {
		out[i] = string(t)
	}
	return out
}

// MarshalGQL writes the type as a GraphQL enum value.
func (t FormFieldType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL reads a GraphQL enum value.
func (t *FormFieldType) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(formFieldTypes, FormFieldType(s)) {
		return fmt.Errorf("%v is not a valid FormFieldType", v)
	}
	*t = FormFieldType(s)
	return nil
}

// FormField defines one field of a form.
type FormField struct {
	Key      string        `json:"key"`
	Label    string        `json:"label"`
	Type     FormFieldType `json:"type"`
	Required bool          `json:"required"`
	// Options are the allowed answers of SELECT and MULTI_SELECT fields.
	Options  []string `json:"options,omitempty"`
	HelpText *string  `json:"helpText,omitempty"`
}

// FieldError is a problem with one form field definition or one answer.
// Field is the path of the offending value, such as "fields[2].key" or
// "data.email".
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var keyPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,63}$`)

// ValidateFormFields checks a form's field definitions: well-formed unique
// keys, known types, and options for choice fields.
func ValidateFormFields(fields []FormField) error {
	seen := make(map[string]bool, len(fields))
	for i, f := range fields {
		at := func(name string) string { return fmt.Sprintf("fields[%d].%s", i, name) }
		switch {
		case !keyPattern.MatchString(f.Key):
			return &FieldError{at("key"), "must start with a letter and hold only letters, digits and _ (at most 64)"}
		case seen[f.Key]:
			return &FieldError{at("key"), fmt.Sprintf("%q is used twice", f.Key)}
		case f.Label == "":
			return &FieldError{at("label"), "must not be empty"}
		case !slices.Contains(formFieldTypes, f.Type):
			return &FieldError{at("type"), fmt.Sprintf("unknown type %q", f.Type)}
		}
		seen[f.Key] = true
		choice := f.Type == FormFieldSelect || f.Type == FormFieldMultiSelect
		if choice && len(f.Options) == 0 {
			return &FieldError{at("options"), "a choice field needs at least one option"}
		}
		if !choice && len(f.Options) > 0 {
			return &FieldError{at("options"), "only SELECT and MULTI_SELECT fields take options"}
		}
	}
	return nil
}

var (
	mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	emailPattern  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// ValidateAnswers checks submission data against a form's fields: no
// unknown keys, values of the declared types, and, when complete is true,
// every required field answered.
func ValidateAnswers(fields []FormField, data map[string]any, complete bool) error {
	byKey := make(map[string]FormField, len(fields))
	for _, f := range fields {
		byKey[f.Key] = f
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same error for the same input
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			return &FieldError{"data." + k, "the form has no such field"}
		}
		if data[k] == nil {
			continue
		}
		if msg := checkAnswer(f, data[k]); msg != "" {
			return &FieldError{"data." + k, msg}
		}
	}
	if complete {
		for _, f := range fields {
			if f.Required && isBlank(data[f.Key]) {
				return &FieldError{"data." + f.Key, "is required"}
			}
		}
	}
	return nil
}

func isBlank(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return false
}

func checkAnswer(f FormField, v any) string {
	switch f.Type {
	case FormFieldText, FormFieldTextarea:
		s, ok := v.(string)
		limit := 2000
		if f.Type == FormFieldTextarea {
			limit = 20000
		}
		if !ok {
			return "must be a string"
		}
		if len([]rune(s)) > limit {
			return fmt.Sprintf("must be at most %d characters", limit)
		}
	case FormFieldNumber:
		switch n := v.(type) {
		case json.Number:
			if _, err := n.Float64(); err != nil {
				return "must be a number"
			}
		case float64, float32, int, int64, int32:
		default:
			return "must be a number"
		}
	case FormFieldDate:
		s, ok := v.(string)
		if !ok {
			return "must be a date (YYYY-MM-DD)"
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "must be a date (YYYY-MM-DD)"
		}
	case FormFieldSelect:
		s, ok := v.(string)
		if !ok || !slices.Contains(f.Options, s) {
			return fmt.Sprintf("must be one of %q", f.Options)
		}
	case FormFieldMultiSelect:
		list, ok := v.([]any)
		if !ok {
			return "must be a list of options"
		}
		for _, item := range list {
			s, ok := item.(string)
			if !ok || !slices.Contains(f.Options, s) {
				return fmt.Sprintf("every choice must be one of %q", f.Options)
			}
		}
	case FormFieldCheckbox:
		if _, ok := v.(bool); !ok {
			return "must be true or false"
		}
	case FormFieldPhone:
		s, ok := v.(string)
		if !ok || !mobilePattern.MatchString(s) {
			return "must be an 11-digit mainland mobile number"
		}
	case FormFieldEmail:
		s, ok := v.(string)
		if !ok || !emailPattern.MatchString(s) {
			return "must be an email address"
		}
	}
	return ""
}
