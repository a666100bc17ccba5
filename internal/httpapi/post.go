package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/apperr"
)

// Codes of refusals only this transport makes.
const (
	codeUnsupportedMediaType apperr.Code = "UNSUPPORTED_MEDIA_TYPE"
	codeBatchTooLarge        apperr.Code = "BATCH_TOO_LARGE"
)

// postTransport serves GraphQL over HTTP POST as the GraphQL-over-HTTP spec
// has it, in place of gqlgen's transport.POST: request bodies are
// application/json only (415 otherwise), a body that is not a GraphQL
// request is a 400 under either response media type, a request error is
// a 400 without a data entry under application/graphql-response+json and a
// 200 under application/json, and an Accept allowing neither is a 406.
//
// It also takes a persisted operation's top-level documentId, and Apollo-
// style batches: a JSON array of up to MaxBatch operations, each run on
// its own, in order, answered as an array.
type postTransport struct {
	MaxBatch int
}

var _ graphql.Transport = postTransport{}

// Supports takes every POST that is not an upgrade (server-sent event
// streams are claimed first by their own transport), so that a body of
// the wrong media type is refused here with 415 rather than falling
// through as "transport not supported".
func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	mediaType, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		notAcceptable(w, r)
		return
	}
	if msg := refuseContentType(r.Header.Get("Content-Type")); msg != "" {
		// RFC 9110 15.5.16: Accept on a 415 names the request media
		// types that would have been taken.
		w.Header().Set("Accept", mediaJSON)
		answerError(w, r, http.StatusUnsupportedMediaType, string(codeUnsupportedMediaType), msg)
		return
	}
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			answerError(w, r, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
				fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit))
			return
		}
		answerBadRequest(w, r, badRequestf("the request body could not be read"))
		return
	}
	ops, batch, bad := decodeBody(body, t.MaxBatch)
	if bad != nil {
		answerBadRequest(w, r, bad)
		return
	}
	end := graphql.Now()
	for _, raw := range ops {
		raw.Headers = r.Header
		raw.ReadTime = graphql.TraceTiming{Start: start, End: end}
	}

	w.Header().Set("Content-Type", mediaType)
	if !batch {
		status, resp := execute(r.Context(), exec, ops[0], mediaType)
		w.WriteHeader(status)
		writeWire(w, resp)
		return
	}
	// A batch is one HTTP answer for many operations, so its status can
	// only say the batch was read: each result carries its own errors.
	// Operations run one after another, in order, each in its own
	// operation context (and, for mutations, its own transaction).
	results := make([]wireResponse, len(ops))
	for i, raw := range ops {
		_, results[i] = execute(r.Context(), exec, raw, mediaType)
	}
	w.WriteHeader(http.StatusOK)
	writeWire(w, results)
}

// refuseContentType says why a request body's media type is refused, or
// "" when it is application/json in UTF-8.
//
// This is also the API's defence against cross-site request forgery: a
// browser sends application/x-www-form-urlencoded, multipart/form-data and
// text/plain bodies (and bodies without a type) to any site without a
// CORS preflight, so a hostile page could make a signed-in browser post
// one. application/json needs a preflight, which only the allowed origins
// pass; so nothing but JSON may ever run an operation, a mutation above
// all.
func refuseContentType(contentType string) string {
	if contentType == "" {
		return "a POST body must be sent as Content-Type: application/json (a request without a media type may come " +
			"cross-site without a CORS preflight, so it never runs an operation)"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Sprintf("Content-Type %q is malformed: send application/json", contentType)
	}
	switch mt {
	case mediaJSON:
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return fmt.Sprintf("charset %q is not supported: send application/json in UTF-8", cs)
		}
		return ""
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return fmt.Sprintf("Content-Type %s is refused: browsers send it cross-site without a CORS preflight, "+
			"so to prevent cross-site request forgery only application/json bodies run operations", mt)
	}
	return fmt.Sprintf("Content-Type %s is not supported: send application/json", mt)
}

// decodeBody reads a POST body: one operation (a JSON object) or a batch
// (a JSON array of at most maxBatch objects).
func decodeBody(body []byte, maxBatch int) (ops []*graphql.RawParams, batch bool, bad *badRequest) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, badRequestf(`the request body is empty: send {"query": "…"}`)
	}
	switch trimmed[0] {
	case '{':
		raw, bad := decodeParams(body)
		if bad != nil {
			return nil, false, bad
		}
		return []*graphql.RawParams{raw}, false, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, true, notJSON(err)
		}
		if len(items) == 0 {
			return nil, true, badRequestf("the batch is empty: send at least one operation")
		}
		if len(items) > maxBatch {
			return nil, true, &badRequest{code: codeBatchTooLarge,
				message: fmt.Sprintf("a batch may hold at most %d operations; this one has %d", maxBatch, len(items))}
		}
		ops = make([]*graphql.RawParams, len(items))
		for i, item := range items {
			raw, bad := decodeParams(item)
			if bad != nil {
				bad.message = fmt.Sprintf("operation %d of the batch: %s", i, bad.message)
				return nil, true, bad
			}
			ops[i] = raw
		}
		return ops, true, nil
	}
	if !json.Valid(body) {
		return nil, false, notJSON(nil)
	}
	return nil, false, badRequestf(`the request body is not a GraphQL request: send a JSON object {"query": "…"} or an array of them`)
}

func notJSON(err error) *badRequest {
	msg := "the request body is not valid JSON"
	if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
		msg += ": " + syntax.Error() // names the fault, never quotes the body
	}
	return badRequestf(msg)
}

// decodeParams reads one operation. Its members are checked one by one so
// that a member of the wrong type is the client's error rather than
// silently null; unknown members are ignored.
func decodeParams(data []byte) (*graphql.RawParams, *badRequest) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badRequestf("an operation must be a JSON object")
		}
		return nil, notJSON(err)
	}
	if members == nil { // null
		return nil, badRequestf("an operation must be a JSON object")
	}
	raw := &graphql.RawParams{}
	var documentID string
	for _, s := range []struct {
		name string
		dst  *string
	}{{"query", &raw.Query}, {"operationName", &raw.OperationName}, {"documentId", &documentID}} {
		if v, ok := members[s.name]; ok && !isNull(v) {
			if err := json.Unmarshal(v, s.dst); err != nil {
				return nil, badRequestf(s.name + " must be a string")
			}
		}
	}
	for _, o := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &raw.Variables}, {"extensions", &raw.Extensions}} {
		v, ok := members[o.name]
		if !ok || isNull(v) {
			continue
		}
		if v = bytes.TrimLeft(v, " \t\r\n"); v[0] != '{' {
			return nil, badRequestf(o.name + " must be a JSON object")
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber() // 64-bit integers (ids, amounts in fen) stay exact
		if err := dec.Decode(o.dst); err != nil {
			return nil, badRequestf(o.name + " must be a JSON object")
		}
	}
	if bad := checkOperation(raw, documentID); bad != nil {
		return nil, bad
	}
	if documentID != "" {
		setDocumentID(raw, documentID)
	}
	return raw, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// execute runs one operation and returns its HTTP status and response.
func execute(ctx context.Context, exec graphql.GraphExecutor, raw *graphql.RawParams, mediaType string) (int, wireResponse) {
	ctx = graphql.StartOperationTrace(ctx)
	opCtx, errs := exec.CreateOperationContext(ctx, raw)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		return requestErrorStatus(mediaType, errs), toWire(resp)
	}
	if op := opCtx.Operation; op != nil && op.Operation == ast.Subscription {
		// One HTTP answer cannot carry a stream of results.
		return http.StatusBadRequest, wireResponse{Errors: gqlerror.List{{
			Message:    "subscriptions need a stream: use the WebSocket endpoint or POST with Accept: text/event-stream",
			Extensions: map[string]any{"code": string(apperr.CodeBadRequest)},
		}}}
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		return noResponse(ctx)
	}
	return http.StatusOK, toWire(resp)
}

// noResponse answers an operation gqlgen produced nothing for: its
// context ended before it ran, which for a request is its deadline.
func noResponse(ctx context.Context) (int, wireResponse) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, wireResponse{Errors: gqlerror.List{{
			Message:    "the request ran out of time before it could run; try again",
			Extensions: map[string]any{"code": string(apperr.CodeTimeout)},
		}}}
	}
	return http.StatusOK, toWire(nil)
}
