package workflow

import (
	"fmt"
	"io"
	"slices"
	"strconv"
)

// GraphQL enums: each kind marshals as its name and refuses names it does
// not know.

var (
	approverKinds = []ApproverKind{ApproverRole, ApproverDepartmentHead, ApproverStaff}
	approvalModes = []ApprovalMode{ModeAnyOf, ModeAllOf}
	targets       = []Target{FirstResponse, NextUpdate, Resolution}
	actions       = []Action{NotifyAssignee, NotifySupervisor, RaisePriority, ReassignSupervisor, ReassignQueue, BumpLevel}
)

func unmarshalEnum[T ~string](v any, known []T, name string) (T, error) {
	s, ok := v.(string)
	if !ok || !slices.Contains(known, T(s)) {
		return "", fmt.Errorf("%v is not a valid %s", v, name)
	}
	return T(s), nil
}

func writeQuoted(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

// MarshalGQL implements graphql.Marshaler.
func (k ApproverKind) MarshalGQL(w io.Writer) { writeQuoted(w, string(k)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *ApproverKind) UnmarshalGQL(v any) (err error) {
	*k, err = unmarshalEnum(v, approverKinds, "ApproverKind")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (m ApprovalMode) MarshalGQL(w io.Writer) { writeQuoted(w, string(m)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (m *ApprovalMode) UnmarshalGQL(v any) (err error) {
	*m, err = unmarshalEnum(v, approvalModes, "ApprovalMode")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (t Target) MarshalGQL(w io.Writer) { writeQuoted(w, string(t)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *Target) UnmarshalGQL(v any) (err error) {
	*t, err = unmarshalEnum(v, targets, "SLATarget")
	return err
}

// MarshalGQL implements graphql.Marshaler.
func (a Action) MarshalGQL(w io.Writer) { writeQuoted(w, string(a)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (a *Action) UnmarshalGQL(v any) (err error) {
	*a, err = unmarshalEnum(v, actions, "EscalationAction")
	return err
}
