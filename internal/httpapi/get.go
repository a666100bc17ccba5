package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
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
	contentType := negotiate(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	// The answer depends on who asks and in which media type.
	w.Header().Set("Vary", "Authorization, Accept")
	raw, err := queryParams(r)
	if err != nil {
		writeGraphQLErrors(w, http.StatusBadRequest, gqlerror.Errorf("%s", err.Error()))
		return
	}
	raw.ReadTime.End = graphql.Now()

	opCtx, errs := exec.CreateOperationContext(r.Context(), raw)
	if errs != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusBadRequest
			if contentType == "application/json" {
				status = http.StatusUnprocessableEntity
			}
		}
		w.WriteHeader(status)
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
	if cc := persisted.CacheControl(opCtx); cc != "" && resp != nil && len(resp.Errors) == 0 {
		w.Header().Set("Cache-Control", cc)
	}
	writeJSON(w, resp)
}

// queryParams reads a GraphQL request from the query string (GET), as
// the GraphQL-over-HTTP spec has it.
func queryParams(r *http.Request) (*graphql.RawParams, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errBadRequest("the query string is malformed")
	}
	raw := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	raw.ReadTime.Start = graphql.Now()
	for name, dst := range map[string]*map[string]any{"variables": &raw.Variables, "extensions": &raw.Extensions} {
		if s := q.Get(name); s != "" {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				return nil, errBadRequest(name + " is not a JSON object")
			}
		}
	}
	// A persisted document's id (GraphQL over HTTP) travels in the
	// extensions, as the POST transport puts it; internal/persisted
	// resolves it.
	if documentID := q.Get("documentId"); documentID != "" {
		if raw.Extensions == nil {
			raw.Extensions = map[string]any{}
		}
		raw.Extensions["documentId"] = documentID
	}
	return raw, nil
}

// negotiate picks the media type the GraphQL-over-HTTP spec prescribes for
// an Accept header: application/json only when the client asks for it
// (legacy clients), application/graphql-response+json otherwise.
func negotiate(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/graphql-response+json":
			return mt
		case "application/json":
			return mt
		}
	}
	return "application/graphql-response+json"
}

func writeGraphQLErrors(w http.ResponseWriter, status int, errs ...*gqlerror.Error) {
	w.WriteHeader(status)
	writeJSON(w, &graphql.Response{Errors: errs})
}

func writeJSON(w http.ResponseWriter, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(b)
}
