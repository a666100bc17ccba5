package persisted

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/scrm-dev/scrm/internal/apperr"
)

// Document is one operation of a manifest.
type Document struct {
	// ID is the manifest's id for the document, sent as documentId.
	ID string
	// Name is the operation name (the manifest's, or the body's).
	Name string
	// Type is query, mutation or subscription when the manifest says.
	Type string
	Body string
	// Hash is the hex SHA-256 of Body, as an automatic persisted query
	// names it.
	Hash string
}

// apolloFormat is the format member of Apollo's persisted query list
// (generate-persisted-query-manifest).
const apolloFormat = "apollo-persisted-query-manifest"

// ParseManifest reads a persisted-operation manifest: Apollo's persisted
// query list ({"format": "apollo-persisted-query-manifest", "version": 1,
// "operations": [{"id", "name", "type", "body"}]}) or what Relay's
// persistConfig writes (a flat object of id → document text, returned in
// id order). It checks the shape only; Validate checks the documents.
func ParseManifest(data []byte) ([]Document, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, apperr.Invalid("manifest", "is not a JSON object: %v", err)
	}
	var docs []Document
	if raw, ok := top["format"]; ok && isJSONString(raw) {
		var err error
		if docs, err = parseApollo(data); err != nil {
			return nil, err
		}
	} else {
		if _, ok := top["operations"]; ok {
			return nil, apperr.Invalid("manifest", "has operations but no format; an Apollo manifest starts {\"format\": %q, \"version\": 1", apolloFormat)
		}
		ids := make([]string, 0, len(top))
		for id, raw := range top {
			var body string
			if err := json.Unmarshal(raw, &body); err != nil {
				return nil, apperr.Invalid("manifest", "is neither an Apollo persisted query list nor a Relay persisted query map: the value of %q is not a string", id)
			}
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			var body string
			_ = json.Unmarshal(top[id], &body)
			docs = append(docs, Document{ID: id, Body: body})
		}
	}
	if len(docs) == 0 {
		return nil, apperr.Invalid("manifest", "holds no operations")
	}
	seen := make(map[string]string, len(docs))
	out := docs[:0]
	for i := range docs {
		d := &docs[i]
		switch {
		case d.ID == "":
			return nil, apperr.Invalid("manifest", "operation %d has no id", i)
		case len(d.ID) > 200:
			return nil, apperr.Invalid("manifest", "id %.40q… is longer than 200 characters", d.ID)
		case strings.TrimSpace(d.Body) == "":
			return nil, apperr.Invalid("manifest", "document %q has no body", d.ID)
		}
		d.Hash = Hash(d.Body)
		if prev, dup := seen[d.ID]; dup && prev != d.Hash {
			return nil, apperr.Invalid("manifest", "id %q names two different documents", d.ID)
		}
		if _, dup := seen[d.ID]; !dup {
			out = append(out, *d) // the same document twice is listed once
		}
		seen[d.ID] = d.Hash
	}
	return out, nil
}

func parseApollo(data []byte) ([]Document, error) {
	var m struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, apperr.Invalid("manifest", "is not an Apollo persisted query list: %v", err)
	}
	if m.Format != apolloFormat {
		return nil, apperr.Invalid("manifest", "has format %q; only %q (or a Relay map) is understood", m.Format, apolloFormat)
	}
	if m.Version != 1 {
		return nil, apperr.Invalid("manifest", "has version %d; only version 1 is understood", m.Version)
	}
	docs := make([]Document, len(m.Operations))
	for i, op := range m.Operations {
		switch op.Type {
		case "", "query", "mutation", "subscription":
		default:
			return nil, apperr.Invalid("manifest", "operation %q has type %q (query, mutation or subscription)", op.ID, op.Type)
		}
		docs[i] = Document{ID: op.ID, Name: op.Name, Type: op.Type, Body: op.Body}
	}
	return docs, nil
}

func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// Hash returns the hex SHA-256 of a document, the name an automatic
// persisted query and an Apollo manifest give it.
func Hash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// sha256ID returns the hex hash an id names when it is a SHA-256 (Apollo's
// ids, or "sha256:<hex>" as the GraphQL-over-HTTP draft writes them).
func sha256ID(id string) (string, bool) {
	h := strings.TrimPrefix(id, "sha256:")
	if !isHexHash(h) {
		return "", false
	}
	return strings.ToLower(h), true
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkListName refuses list names that would not read well in logs and
// CLI output (and the column's length).
func checkListName(list string) error {
	if list == "" || len(list) > 64 {
		return apperr.Invalid("list", "must be 1-64 characters")
	}
	for _, c := range list {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return apperr.Invalid("list", "may hold only letters, digits and . - _ (e.g. pos-3.2), got %q", list)
		}
	}
	return nil
}

// describe names a document for messages: its id and operation name.
func (d Document) describe() string {
	if d.Name != "" {
		return fmt.Sprintf("%q (%s)", d.ID, d.Name)
	}
	return fmt.Sprintf("%q", d.ID)
}
