package gqlname

import "testing"

func TestField(t *testing.T) {
	for in, want := range map[string]string{
		"name": "name", "platform_order_id": "platformOrderID", "id_number": "idNumber",
		"object_ids": "objectIds", "last_order_at": "lastOrderAt", "id": "id",
	} {
		if got := Field(in); got != want {
			t.Errorf("Field(%q) = %q, want %q", in, got, want)
		}
	}
}
