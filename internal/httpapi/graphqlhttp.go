package httpapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/apperr"
)

// What the GET and POST transports share: the GraphQL-over-HTTP spec's
// media types, its status codes, and the request parameters both carry.

const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// negotiate picks the response media type for an Accept header. An
// absent Accept gets application/graphql-response+json: the spec asked
// for application/json only until its legacy watershed, 2025-01-01.
// Otherwise the acceptable type
// with the higher q wins; on a tie the more specific range, then
// application/graphql-response+json, so a legacy client sending
// "application/json, */*" gets application/json. ok is false when Accept
// allows neither (the spec recommends 406 then).
func negotiate(accept string) (mediaType string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaGraphQLResponse, true
	}
	type rank struct {
		q           float64
		specificity int // 0 */*, 1 application/*, 2 exact; -1 no range matched
	}
	ranks := map[string]rank{mediaGraphQLResponse: {specificity: -1}, mediaJSON: {specificity: -1}}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		for candidate, r := range ranks {
			spec := -1
			switch mt {
			case candidate:
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			// The most specific matching range sets the q (RFC 9110 12.5.1).
			if spec > r.specificity {
				ranks[candidate] = rank{q: q, specificity: spec}
			}
		}
	}
	best, bestRank := "", rank{}
	for _, candidate := range []string{mediaGraphQLResponse, mediaJSON} {
		r := ranks[candidate]
		if r.specificity < 0 || r.q == 0 {
			continue
		}
		if best == "" || r.q > bestRank.q || (r.q == bestRank.q && r.specificity > bestRank.specificity) {
			best, bestRank = candidate, r
		}
	}
	if best == "" {
		return "", false
	}
	return best, true
}

// notAcceptable answers a request whose Accept allows neither GraphQL
// response media type.
func notAcceptable(w http.ResponseWriter, r *http.Request) {
	answerError(w, r, http.StatusNotAcceptable, string(apperr.CodeBadRequest),
		"Accept allows no media type this endpoint answers with: accept application/graphql-response+json or application/json")
}

// requestErrorStatus is the status of a response to a request GraphQL
// refused before execution (a parse, validation or variable error, or one
// raised by an extension): under application/graphql-response+json such a
// response has no data, so it must be 4xx or 5xx, and the spec asks for
// 400; under application/json the spec asks for 200 for any well-formed
// request, so legacy clients read the errors from the body.
func requestErrorStatus(mediaType string, errs gqlerror.List) int {
	if mediaType == mediaJSON {
		return http.StatusOK
	}
	for _, e := range errs {
		if e.Extensions["code"] != string(apperr.CodeInternal) {
			return http.StatusBadRequest
		}
	}
	return http.StatusInternalServerError
}

// wireResponse is a GraphQL response as the spec has it: a request error
// carries no data entry at all, while an execution whose data is null
// (a non-null root field failed) keeps "data": null. gqlgen's Response
// always writes data.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

func toWire(resp *graphql.Response) wireResponse {
	if resp == nil {
		return wireResponse{Errors: gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": string(apperr.CodeInternal)}}}}
	}
	return wireResponse{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions}
}

func writeGraphQLErrors(w http.ResponseWriter, status int, errs ...*gqlerror.Error) {
	w.WriteHeader(status)
	writeJSON(w, &graphql.Response{Errors: errs})
}

func writeJSON(w http.ResponseWriter, resp *graphql.Response) {
	writeWire(w, toWire(resp))
}

func writeWire(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // not HTML: keep "<" readable in messages
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(buf.Bytes())
}

// badRequest is a request that is not a GraphQL-over-HTTP request at all
// (not JSON, a member of the wrong type, no query): 400 whatever the
// media type, code BAD_REQUEST unless code says otherwise.
type badRequest struct {
	code    apperr.Code
	message string
}

func (e *badRequest) Error() string { return e.message }

func badRequestf(message string) *badRequest {
	return &badRequest{code: apperr.CodeBadRequest, message: message}
}

// setDocumentID passes a persisted document's id on as
// extensions.documentId with the query left empty: the persisted
// operations component resolves it in an OperationParameterMutator.
func setDocumentID(raw *graphql.RawParams, id string) {
	if raw.Extensions == nil {
		raw.Extensions = map[string]any{}
	}
	raw.Extensions["documentId"] = id
	raw.Query = ""
}

// checkOperation refuses a request that names no operation: no query,
// no persisted documentId and no automatic persisted query hash. One that
// names two (query and documentId) is refused too: which one runs must
// not be a guess.
func checkOperation(raw *graphql.RawParams, documentID string) *badRequest {
	if documentID != "" && raw.Query != "" {
		return badRequestf("send either query or documentId, not both")
	}
	if documentID == "" {
		// The same id may come in the extensions (how the transports pass
		// it on, and how some clients send it).
		documentID, _ = raw.Extensions["documentId"].(string)
	}
	if raw.Query == "" && documentID == "" && raw.Extensions["persistedQuery"] == nil {
		return badRequestf(`missing query: send {"query": "…"} (or a persisted documentId)`)
	}
	return nil
}

func answerBadRequest(w http.ResponseWriter, r *http.Request, e *badRequest) {
	answerError(w, r, http.StatusBadRequest, string(e.code), e.message)
}
