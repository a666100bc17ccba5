package persisted

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Error codes of persisted operations (extensions.code).
const (
	// CodeNotFound is gqlgen's: an APQ hash this server does not know;
	// Apollo clients answer it by sending the document with its hash.
	CodeNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodeDocumentNotFound: a documentId on none of the caller's lists.
	CodeDocumentNotFound = "PERSISTED_DOCUMENT_NOT_FOUND"
	// CodeRequired: a persisted-only caller sent a document that is not
	// on its lists (or tried to register one).
	CodeRequired = "PERSISTED_QUERY_REQUIRED"
)

// Extensions returns the gqlgen extensions of persisted operations, in the
// order they must be installed (handler.Server.Use runs parameter mutators
// in order):
//
//  1. the gate: resolves documentId from the caller's lists, serves APQ
//     hashes of trusted documents, and refuses persisted-only callers
//     anything else. It must run before APQ, which would otherwise
//     register a persisted-only caller's document before anyone checked.
//  2. gqlgen's AutomaticPersistedQuery over the Store's APQCache.
//  3. the cache policy, which reads @cacheControl once the document is
//     parsed and validated (CacheControl reports it to the transport).
func (s *Store) Extensions() []graphql.HandlerExtension {
	return []graphql.HandlerExtension{
		gate{s},
		extension.AutomaticPersistedQuery{Cache: s.apq},
		&cachePolicy{schema: s.opts.Schema},
	}
}

// gate is the OperationParameterMutator in front of APQ.
type gate struct{ s *Store }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = gate{}

func (gate) ExtensionName() string                   { return "TrustedDocuments" }
func (gate) Validate(graphql.ExecutableSchema) error { return nil }

func (g gate) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	v := viewer.FromContext(ctx)
	docID, hasID, err := documentID(raw.Extensions)
	if err != nil {
		return err
	}
	hash, hasHash, err := apqHash(raw.Extensions)
	if err != nil {
		return err
	}
	limited := v != nil && v.PersistedOnly
	switch {
	case hasID:
		if raw.Query != "" || hasHash {
			return badRequest("send either a documentId or a query (or an APQ hash), not both")
		}
		body, err := g.resolveID(ctx, v, docID)
		if err != nil {
			return err
		}
		raw.Query = body
		markPersisted(ctx)
	case hasHash && raw.Query == "":
		// A trusted document's hash needs no registration; anything else
		// is APQ's, which persisted-only callers may not use.
		body, found, err := g.trusted(ctx, v, hash)
		if err != nil {
			return err
		}
		switch {
		case found:
			raw.Query = body
			delete(raw.Extensions, "persistedQuery") // the request's own map
		case limited:
			return required(v)
		}
		markPersisted(ctx)
	case raw.Query != "":
		if hasHash && Hash(raw.Query) != hash {
			// gqlgen's own check answers without a code (an internal
			// error once presented); same message, with one.
			return badRequest("provided APQ hash does not match query")
		}
		if !limited {
			return nil
		}
		if _, found, err := g.trusted(ctx, v, Hash(raw.Query)); err != nil {
			return err
		} else if !found {
			return required(v)
		}
		// Trusted already: nothing for APQ to register.
		delete(raw.Extensions, "persistedQuery")
	case limited:
		return required(v)
	}
	return nil
}

// resolveID finds the body of documentId on the caller's lists.
func (g gate) resolveID(ctx context.Context, v *viewer.Viewer, id string) (string, *gqlerror.Error) {
	if v == nil || v.TenantID == 0 {
		return "", notFound(id)
	}
	var docs []stored
	var err error
	if h, ok := sha256ID(id); ok && strings.HasPrefix(id, "sha256:") {
		docs, err = g.s.byHash(ctx, v.TenantID, h)
	} else {
		docs, err = g.s.byID(ctx, v.TenantID, id)
	}
	if err != nil {
		return "", g.internal(ctx, err)
	}
	var body string
	var lists []string
	for _, d := range docs {
		if !allowed(v, d.List) {
			continue
		}
		if body != "" && d.Body != body {
			lists = append(lists, d.List)
			return "", badRequest(fmt.Sprintf("documentId %q names different documents on lists %s; send documentId \"sha256:<hash of the body>\"",
				id, strings.Join(lists, ", ")))
		}
		body = d.Body
		lists = append(lists, d.List)
	}
	if body == "" {
		return "", notFound(id)
	}
	return body, nil
}

// trusted finds a document by hash on the caller's lists.
func (g gate) trusted(ctx context.Context, v *viewer.Viewer, hash string) (string, bool, *gqlerror.Error) {
	if v == nil || v.TenantID == 0 {
		return "", false, nil
	}
	docs, err := g.s.byHash(ctx, v.TenantID, hash)
	if err != nil {
		return "", false, g.internal(ctx, err)
	}
	for _, d := range docs {
		if allowed(v, d.List) {
			return d.Body, true, nil
		}
	}
	return "", false, nil
}

// allowed reports whether the viewer may run documents of list: a viewer
// limited to lists (a persisted-only one always is) only those, anyone
// else every list of their tenant.
func allowed(v *viewer.Viewer, list string) bool {
	if !v.PersistedOnly && len(v.DocumentLists) == 0 {
		return true
	}
	for _, l := range v.DocumentLists {
		if l == list {
			return true
		}
	}
	return false
}

func (g gate) internal(ctx context.Context, err error) *gqlerror.Error {
	g.s.opts.Logger.ErrorContext(ctx, "look up trusted documents", "err", err)
	e := gqlerror.Errorf("internal error looking up the document")
	errcode.Set(e, string(apperr.CodeInternal))
	return e
}

// documentID reads the GraphQL-over-HTTP documentId the transports put in
// extensions.
func documentID(ext map[string]any) (string, bool, *gqlerror.Error) {
	raw, ok := ext["documentId"]
	if !ok || raw == nil {
		return "", false, nil
	}
	id, ok := raw.(string)
	if !ok || id == "" || len(id) > 200 {
		return "", false, badRequest("documentId must be a string of 1-200 characters")
	}
	return id, true, nil
}

// apqHash reads Apollo's persistedQuery extension, refusing what gqlgen
// would answer uncoded (and so, presented, as an internal error).
func apqHash(ext map[string]any) (string, bool, *gqlerror.Error) {
	raw, ok := ext["persistedQuery"]
	if !ok || raw == nil {
		return "", false, nil
	}
	pq, ok := raw.(map[string]any)
	if !ok {
		return "", false, badRequest("invalid APQ extension data")
	}
	if !versionOne(pq["version"]) {
		return "", false, badRequest("unsupported APQ version")
	}
	hash, _ := pq["sha256Hash"].(string)
	if !isHexHash(hash) {
		return "", false, badRequest("persistedQuery.sha256Hash must be a hex SHA-256")
	}
	if strings.ContainsAny(hash, "ABCDEF") {
		hash = strings.ToLower(hash)
	}
	return hash, true, nil
}

// versionOne reports whether a decoded JSON version is 1 (transports
// decode numbers as json.Number, others as float64).
func versionOne(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return v == "1"
	case float64:
		return v == 1
	case int:
		return v == 1
	case int64:
		return v == 1
	}
	return false
}

func badRequest(msg string) *gqlerror.Error {
	e := gqlerror.Errorf("%s", msg)
	errcode.Set(e, string(apperr.CodeBadRequest))
	return e
}

func notFound(id string) *gqlerror.Error {
	e := gqlerror.Errorf("no trusted document %q on the lists this caller may run", id)
	errcode.Set(e, CodeDocumentNotFound)
	return e
}

func required(v *viewer.Viewer) *gqlerror.Error {
	lists := "(none)"
	if len(v.DocumentLists) > 0 {
		lists = strings.Join(v.DocumentLists, ", ")
	}
	e := gqlerror.Errorf("this key may run only trusted documents of lists %s: send a documentId or the hash of a document on them", lists)
	errcode.Set(e, CodeRequired)
	return e
}
