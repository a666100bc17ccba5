package routing

import (
	"fmt"
	"io"
	"strconv"
)

// MarshalGQL writes the step kind as its GraphQL enum value.
func (k StepKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads a RoutingStepKind enum value.
func (k *StepKind) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !StepKind(s).known() {
		return fmt.Errorf("%v is not a valid RoutingStepKind", v)
	}
	*k = StepKind(s)
	return nil
}
