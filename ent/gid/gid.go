// Package gid encodes the data model's integer ids as the opaque, globally
// unique ID strings GraphQL clients see, and decodes them back.
//
// Ent's sql/globalid feature gives every type its own range of 1<<32 ids, so
// an integer id alone names its type. The string form adds the type name for
// support staff reading logs (base64url of "Customer:42", where 42 is the
// row's number within its type) and lets decoding refuse an id of the wrong
// shape. Clients must treat IDs as opaque.
package gid

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/internal"
)

const rangeSize = 1 << 32

var (
	typeByStart = map[int]string{}
	startByType = map[string]int{}
)

func init() {
	var starts map[string]int // table -> first id of its range
	if err := json.Unmarshal([]byte(internal.IncrementStarts), &starts); err != nil {
		panic(fmt.Sprintf("gid: reading ent's id ranges: %v", err))
	}
	for typ, table := range ent.NodeTables {
		start, ok := starts[table]
		if !ok {
			panic(fmt.Sprintf("gid: no id range for table %s", table))
		}
		typeByStart[start] = typ
		startByType[typ] = start
	}
}

// InvalidError is returned for a string that is not an ID of this API.
type InvalidError struct{ Value string }

func (e *InvalidError) Error() string { return fmt.Sprintf("%q is not a valid ID", e.Value) }

// TypeOf returns the node type an id belongs to, or "" if none.
func TypeOf(id int) string { return typeByStart[id/rangeSize*rangeSize] }

// Encode returns the opaque string form of id.
func Encode(id int) string {
	start := id / rangeSize * rangeSize
	typ, ok := typeByStart[start]
	if !ok {
		return strconv.Itoa(id) // not a node id; never produced by ent
	}
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + strconv.Itoa(id-start)))
}

// Decode parses the string form of an id.
func Decode(s string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, &InvalidError{s}
	}
	typ, local, ok := strings.Cut(string(raw), ":")
	start, known := startByType[typ]
	if !ok || !known {
		return 0, &InvalidError{s}
	}
	n, err := strconv.Atoi(local)
	if err != nil || n < 0 || n >= rangeSize || strconv.Itoa(n) != local {
		return 0, &InvalidError{s}
	}
	return start + n, nil
}

// MarshalID is gqlgen's marshaller for the ID scalar.
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(Encode(id)))
	})
}

// UnmarshalID is gqlgen's unmarshaller for the ID scalar.
func UnmarshalID(v any) (int, error) {
	s, ok := v.(string)
	if !ok {
		return 0, &InvalidError{fmt.Sprint(v)}
	}
	return Decode(s)
}
