package querylimit

import (
	"encoding/json"
	"fmt"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// checkVariables refuses variables larger than maxBytes, counted as the
// JSON they came as, or holding a list longer than maxList. It stops
// counting as soon as either is over, so a huge request costs no more than
// a request at the limit; gqlgen has decoded it already, but coercing it
// against the operation (which copies it) has not happened yet.
func checkVariables(vars map[string]any, maxBytes, maxList int) *gqlerror.Error {
	if len(vars) == 0 {
		return nil
	}
	s := sizer{left: maxBytes, maxList: maxList}
	if maxBytes <= 0 {
		s.left = int(^uint(0) >> 1)
	}
	s.left -= 2 // {}
	for name, v := range vars {
		s.variable = name
		s.left -= len(name) + 4 // "name":,
		if !s.value(v) {
			break
		}
	}
	switch {
	case s.list > 0:
		return refusal(CodeVariablesTooLarge,
			fmt.Sprintf("variable $%s holds a list of %d items; the limit is %d items per list", s.variable, s.list, maxList),
			int64(maxList), int64(s.list), nil)
	case s.left < 0:
		return refusal(CodeVariablesTooLarge,
			fmt.Sprintf("the variables are larger than %d bytes, the variables size limit", maxBytes),
			int64(maxBytes), int64(maxBytes-s.left), nil)
	}
	return nil
}

type sizer struct {
	left     int    // bytes still allowed
	maxList  int    // <= 0: lists of any length
	variable string // the top-level variable being counted
	list     int    // the length of a list over maxList
}

// value counts v and reports whether to go on.
func (s *sizer) value(v any) bool {
	switch v := v.(type) {
	case nil:
		s.left -= 4
	case bool:
		s.left -= 5
	case string:
		s.left -= len(v) + 2
	case json.Number:
		s.left -= len(v)
	case map[string]any:
		s.left -= 2
		for k, e := range v {
			s.left -= len(k) + 4
			if s.left < 0 || !s.value(e) {
				return false
			}
		}
	case []any:
		if s.maxList > 0 && len(v) > s.maxList {
			s.list = len(v)
			return false
		}
		s.left -= 2
		for _, e := range v {
			s.left--
			if s.left < 0 || !s.value(e) {
				return false
			}
		}
	default: // numbers decoded without UseNumber, and the like
		s.left -= 8
	}
	return s.left >= 0
}
