package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/streamctx"
)

// sseTransport serves GraphQL over server-sent events, the "distinct
// connections" mode of the graphql-sse protocol: one operation per
// request (POST with a JSON body, or GET with query parameters), each
// result an `event: next`, then `event: complete`.
//
// It is ours rather than gqlgen's transport.SSE because resuming needs
// two things that one lacks: every event of a subscription carries its
// cursor as the SSE `id:` (whether or not the client selected cursor), and
// a reconnecting client's Last-Event-ID header is taken as the
// subscription's after argument. A stream that must be resumed (the
// subscriber fell behind) ends without `complete`, so EventSource-style
// clients reconnect with Last-Event-ID by themselves.
type sseTransport struct {
	KeepAlive time.Duration
	Draining  <-chan struct{}
}

var _ graphql.Transport = sseTransport{}

func (sseTransport) Supports(r *http.Request) bool {
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	if r.Method == http.MethodGet {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && err == nil && mt == "application/json"
}

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	raw, err := sseParams(r)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		writeGraphQLErrors(w, http.StatusBadRequest, gqlerror.Errorf("%s", err.Error()))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ctx = streamctx.WithLastEventID(ctx, r.Header.Get("Last-Event-ID"))
	ctx, cursors := streamctx.WithCursors(ctx)
	var ended []*gqlerror.Error // why a subscription ended, from its goroutine
	endedCh := make(chan struct{})
	ctx = streamctx.WithStreamErrors(ctx, func(e *gqlerror.Error) { ended = append(ended, e) })

	opCtx, errs := exec.CreateOperationContext(ctx, raw)
	if errs != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	if op := opCtx.Operation; r.Method == http.MethodGet && op != nil && op.Operation == ast.Mutation {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "application/json")
		writeGraphQLErrors(w, http.StatusMethodNotAllowed, gqlerror.Errorf("mutations must be sent with POST"))
		return
	}
	// A stream outlives the server's write timeout, which is meant for
	// ordinary responses.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: rc}
	out.comment("")

	subscription := opCtx.Operation != nil && opCtx.Operation.Operation == ast.Subscription
	responses, rctx := exec.DispatchOperation(graphql.WithOperationContext(ctx, opCtx), opCtx)
	// Results are encoded where they are produced: gqlgen reuses a
	// response's buffer for the next one.
	type result struct {
		id   string
		body []byte
	}
	results := make(chan result)
	go func() {
		defer close(endedCh)
		defer close(results)
		for {
			resp := responses(rctx)
			if resp == nil {
				return
			}
			res := result{body: encode(resp)}
			if subscription {
				if seq, ok := cursors.Next(); ok {
					res.id = strconv.FormatInt(seq, 10)
				}
			}
			select {
			case results <- res:
			case <-ctx.Done():
				return
			}
		}
	}()
	keepAlive := t.KeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case res, ok := <-results:
			if !ok {
				<-endedCh
				if len(ended) > 0 {
					out.event("next", "", encode(&graphql.Response{Errors: ended}))
				}
				if ctx.Err() == nil && !resumable(ended) {
					out.event("complete", "", nil)
				}
				return
			}
			if out.event("next", res.id, res.body) != nil {
				return
			}
			tick.Reset(keepAlive)
		case <-tick.C:
			if out.comment("ping") != nil {
				return
			}
		case <-t.Draining:
			return // no complete: the client resumes on another replica
		case <-ctx.Done():
			return
		}
	}
}

// resumable reports whether a subscription ended so that the client
// should reconnect with Last-Event-ID (it fell behind): then the stream
// ends without complete, which EventSource-style clients take as a cue to
// reconnect.
func resumable(errs []*gqlerror.Error) bool {
	for _, e := range errs {
		if e.Extensions["code"] == string(apperr.CodeTooSlow) {
			return true
		}
	}
	return false
}

// sseParams reads the operation from a POST body or GET query string.
func sseParams(r *http.Request) (*graphql.RawParams, error) {
	if r.Method == http.MethodPost {
		raw := &graphql.RawParams{}
		raw.ReadTime.Start = graphql.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, badRequestf("the request body could not be read")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(raw); err != nil {
			return nil, badRequestf("the request body is not a GraphQL request in JSON")
		}
		raw.Headers = r.Header // the request's, whatever the body says
		raw.ReadTime.End = graphql.Now()
		return raw, nil
	}
	raw, err := queryParams(r)
	if err == nil {
		raw.ReadTime.End = graphql.Now()
	}
	return raw, err
}

// sseWriter writes events and flushes each at once.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func encode(resp *graphql.Response) []byte {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	return b
}

func (s *sseWriter) event(name, id string, data []byte) error {
	var buf bytes.Buffer
	if id != "" {
		buf.WriteString("id: " + id + "\n")
	}
	buf.WriteString("event: " + name + "\n")
	if data != nil {
		buf.WriteString("data: ")
		buf.Write(data) // JSON from encoding/json holds no raw newline
		buf.WriteString("\n")
	}
	buf.WriteString("\n")
	return s.write(buf.Bytes())
}

func (s *sseWriter) comment(text string) error {
	return s.write([]byte(":" + text + "\n\n"))
}

func (s *sseWriter) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
