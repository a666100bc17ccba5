package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/persisted"
)

// getTransport serves GraphQL over HTTP GET as the GraphQL-over-HTTP spec
// has it. gqlgen's own GET answers a mutation with 406; the spec wants 405
// Method Not Allowed with Allow: POST, so a cache or browser can never make
// a GET change data. A persisted query (an APQ hash or a documentId) with
// @cacheControl is answered with the Cache-Control internal/persisted
// decides, unless it has errors; everything else stays no-store.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	contentType, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		notAcceptable(w, r)
		return
	}
	// The answer depends on who asks and in which media type.
	w.Header().Set("Vary", "Authorization, Accept")
	raw, err := queryParams(r)
	if err != nil {
		var bad *badRequest
		if !errors.As(err, &bad) {
			bad = badRequestf(err.Error())
		}
		answerBadRequest(w, r, bad)
		return
	}
	raw.ReadTime.End = graphql.Now()
	w.Header().Set("Content-Type", contentType)

	opCtx, errs := exec.CreateOperationContext(r.Context(), raw)
	if errs != nil {
		w.WriteHeader(requestErrorStatus(contentType, errs))
		writeJSON(w, exec.DispatchError(graphql.WithOperationContext(r.Context(), opCtx), errs))
		return
	}
	if op := opCtx.Operation; op != nil && op.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		writeGraphQLErrors(w, http.StatusMethodNotAllowed, gqlerror.Errorf("%s operations must be sent with POST", op.Operation))
		return
	}
	responses, ctx := exec.DispatchOperation(r.Context(), opCtx)
	resp := responses(ctx)
	if resp == nil {
		status, wire := noResponse(ctx)
		w.WriteHeader(status)
		writeWire(w, wire)
		return
	}
	if cc := persisted.CacheControl(opCtx); cc != "" && resp != nil && len(resp.Errors) == 0 {
		w.Header().Set("Cache-Control", cc)
	}
	writeJSON(w, resp)
}

// queryParams reads a GraphQL request from the query string (GET), as
// the GraphQL-over-HTTP spec has it; a documentId parameter names a
// persisted document instead of a query.
func queryParams(r *http.Request) (*graphql.RawParams, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequestf("the query string is malformed")
	}
	raw := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	raw.ReadTime.Start = graphql.Now()
	for name, dst := range map[string]*map[string]any{"variables": &raw.Variables, "extensions": &raw.Extensions} {
		if s := q.Get(name); s != "" {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				return nil, badRequestf(name + " is not a JSON object")
			}
		}
	}
	documentID := q.Get("documentId")
	if bad := checkOperation(raw, documentID); bad != nil {
		return nil, bad
	}
	if documentID != "" {
		setDocumentID(raw, documentID)
	}
	return raw, nil
}
