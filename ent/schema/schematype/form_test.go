package schematype

import (
	"encoding/json"
	"testing"
)

func TestValidateFormFields(t *testing.T) {
	ok := []FormField{
		{Key: "name", Label: "姓名", Type: FormFieldText, Required: true},
		{Key: "size", Label: "尺码", Type: FormFieldSelect, Options: []string{"S", "M"}},
	}
	if err := ValidateFormFields(ok); err != nil {
		t.Fatal(err)
	}
	for want, fields := range map[string][]FormField{
		"fields[0].key":     {{Key: "1abc", Label: "x", Type: FormFieldText}},
		"fields[1].key":     {{Key: "a", Label: "x", Type: FormFieldText}, {Key: "a", Label: "y", Type: FormFieldText}},
		"fields[0].label":   {{Key: "a", Type: FormFieldText}},
		"fields[0].type":    {{Key: "a", Label: "x", Type: "COLOR"}},
		"fields[0].options": {{Key: "a", Label: "x", Type: FormFieldMultiSelect}},
	} {
		err := ValidateFormFields(fields)
		fe, isField := err.(*FieldError)
		if !isField || fe.Field != want {
			t.Errorf("want an error at %s, got %v", want, err)
		}
	}
}

func TestValidateAnswers(t *testing.T) {
	fields := []FormField{
		{Key: "text", Label: "t", Type: FormFieldText, Required: true},
		{Key: "n", Label: "n", Type: FormFieldNumber},
		{Key: "d", Label: "d", Type: FormFieldDate},
		{Key: "one", Label: "o", Type: FormFieldSelect, Options: []string{"a", "b"}},
		{Key: "many", Label: "m", Type: FormFieldMultiSelect, Options: []string{"a", "b"}},
		{Key: "yes", Label: "y", Type: FormFieldCheckbox},
		{Key: "tel", Label: "p", Type: FormFieldPhone},
		{Key: "mail", Label: "e", Type: FormFieldEmail},
	}
	good := map[string]any{"text": "hi", "n": json.Number("3.5"), "d": "2026-01-31", "one": "a",
		"many": []any{"a", "b"}, "yes": true, "tel": "13912345678", "mail": "a@b.cn"}
	if err := ValidateAnswers(fields, good, true); err != nil {
		t.Fatal(err)
	}
	if err := ValidateAnswers(fields, map[string]any{"n": 1.0}, false); err != nil {
		t.Errorf("a draft may leave required fields empty: %v", err)
	}
	for want, data := range map[string]map[string]any{
		"data.text":  {"n": 1.0},
		"data.n":     {"text": "x", "n": "three"},
		"data.d":     {"text": "x", "d": "2026-02-30"},
		"data.one":   {"text": "x", "one": "c"},
		"data.many":  {"text": "x", "many": []any{"a", "z"}},
		"data.yes":   {"text": "x", "yes": "true"},
		"data.tel":   {"text": "x", "tel": "1234"},
		"data.mail":  {"text": "x", "mail": "nobody"},
		"data.other": {"text": "x", "other": 1},
	} {
		err := ValidateAnswers(fields, data, true)
		fe, isField := err.(*FieldError)
		if !isField || fe.Field != want {
			t.Errorf("want an error at %s, got %v", want, err)
		}
	}
}
