package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/webhooks"
	"github.com/scrm-dev/scrm/jobs"
)

// Outgoing webhooks through the public API: admins manage endpoints (the
// secret shown once), bad input stores nothing, others may not, and a
// ticket made through GraphQL reaches the partner signed, with its log
// readable on the endpoint.

// startWebhookWorker runs the webhook queue of e's Redis (and only that
// queue: other tests' tasks stay put) until the test ends.
func startWebhookWorker(t *testing.T, e *env) *asynq.Client {
	t.Helper()
	enq := asynq.NewClient(e.rdb.Opt)
	srv := asynq.NewServer(e.rdb.Opt, asynq.Config{Concurrency: 2, Queues: map[string]int{jobs.QueueWebhooks: 1},
		TaskCheckInterval: 50 * time.Millisecond, DelayedTaskCheckInterval: time.Second, LogLevel: asynq.FatalLevel})
	if err := srv.Start(jobs.Mux(jobs.Deps{Client: e.st.Client, Enqueuer: enq, Webhooks: e.opts.Webhooks,
		Logger: slog.New(slog.DiscardHandler)})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); enq.Close() })
	return enq
}

func TestWebhooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin, agent := e.token(t, "demo", "admin"), e.token(t, "demo", "agent1")
		tid := e.tenantID(t, "demo")
		endpoints := func() int {
			return e.st.Client.WebhookEndpoint.Query().Where(webhookendpoint.TenantID(tid)).CountX(sys())
		}

		var mu sync.Mutex
		var secret string
		type hit struct {
			header http.Header
			body   []byte
			valid  error
		}
		var hits []hit
		partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			hits = append(hits, hit{r.Header.Clone(), body, webhooks.Verify(secret, r.Header.Get(webhooks.SignatureHeader), body, time.Minute)})
		}))
		defer partner.Close()

		const create = `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) {
			secret webhookEndpoint { id url eventKinds status } } }`
		before := endpoints()
		t.Run("bad input is refused naming the field, and nothing is stored", func(t *testing.T) {
			for _, c := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"url": "http://erp.example.com/hooks", "eventKinds": []string{"ticket.created"}}, "url"},
				{map[string]any{"url": "ftp://erp.example.com/hooks", "eventKinds": []string{"ticket.created"}}, "url"},
				{map[string]any{"url": "https://user:pw@erp.example.com/hooks", "eventKinds": []string{"ticket.created"}}, "url"},
				{map[string]any{"url": "https://erp.example.com/hooks", "eventKinds": []string{}}, "eventKinds"},
				{map[string]any{"url": "https://erp.example.com/hooks", "eventKinds": []string{"ticket.created", "ticket.teleported"}}, "eventKinds"},
			} {
				got := e.post(t, admin, create, map[string]any{"in": c.in}).only(t)
				if got.code() != "BAD_USER_INPUT" || got.field() != c.field {
					t.Errorf("%v: %s %s %s", c.in, got.code(), got.field(), got.Message)
				}
			}
			if n := endpoints(); n != before {
				t.Fatalf("%d endpoints stored by refused mutations", n-before)
			}
		})

		t.Run("only admins manage endpoints", func(t *testing.T) {
			in := map[string]any{"url": "https://erp.example.com/hooks", "eventKinds": []string{"ticket.created"}}
			if got := e.post(t, agent, create, map[string]any{"in": in}).only(t); got.code() != "FORBIDDEN" {
				t.Fatalf("agent creating: %s %s", got.code(), got.Message)
			}
			if got := e.post(t, agent, `{ webhookEndpoints(first: 5) { totalCount } }`, nil).only(t); got.code() != "FORBIDDEN" {
				t.Fatalf("agent listing: %s %s", got.code(), got.Message)
			}
			if n := endpoints(); n != before {
				t.Fatal("the agent's endpoint was stored")
			}
		})

		var created struct {
			CreateWebhookEndpoint struct {
				Secret          string
				WebhookEndpoint struct {
					ID, URL, Status string
					EventKinds      []string
				}
			}
		}
		e.post(t, admin, create, map[string]any{"in": map[string]any{"url": partner.URL + "/scrm",
			"eventKinds": []string{"ticket.created", "ticket.created"}}}).ok(t).decode(t, &created)
		ep := created.CreateWebhookEndpoint
		if !strings.HasPrefix(ep.Secret, "whsec_") || ep.WebhookEndpoint.Status != "ACTIVE" ||
			!slices.Equal(ep.WebhookEndpoint.EventKinds, []string{"ticket.created"}) {
			t.Fatalf("created %+v", ep)
		}
		defer func() {
			var del struct{ DeleteWebhookEndpoint string }
			e.post(t, admin, `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, map[string]any{"id": ep.WebhookEndpoint.ID}).ok(t).decode(t, &del)
			if del.DeleteWebhookEndpoint != ep.WebhookEndpoint.ID || endpoints() != before {
				t.Errorf("deleted %q; %d endpoints left of ours", del.DeleteWebhookEndpoint, endpoints()-before)
			}
		}()
		mu.Lock()
		secret = ep.Secret
		mu.Unlock()

		t.Run("the secret is not readable afterwards", func(t *testing.T) {
			var typ struct {
				Type struct{ Fields []struct{ Name string } } `json:"__type"`
			}
			e.post(t, admin, `{ __type(name: "WebhookEndpoint") { fields { name } } }`, nil).ok(t).decode(t, &typ)
			for _, f := range typ.Type.Fields {
				if strings.Contains(strings.ToLower(f.Name), "secret") {
					t.Fatalf("WebhookEndpoint.%s", f.Name)
				}
			}
			if r := e.post(t, admin, `{ webhookEndpoints(first: 5) { edges { node { secret } } } }`, nil); len(r.Errors) == 0 {
				t.Fatalf("secret selected: %s", r.Body)
			}
		})

		t.Run("webhookEventKinds lists kinds and topic wildcards", func(t *testing.T) {
			var got struct{ WebhookEventKinds []string }
			e.post(t, admin, `{ webhookEventKinds }`, nil).ok(t).decode(t, &got)
			for _, k := range []string{"ticket.created", "order.updated", "customer.merged", "ticket.*"} {
				if !slices.Contains(got.WebhookEventKinds, k) {
					t.Errorf("missing %s in %v", k, got.WebhookEventKinds)
				}
			}
		})

		t.Run("a ticket created through GraphQL reaches the partner signed, and its log is queryable", func(t *testing.T) {
			enq := startWebhookWorker(t, e)
			var tk struct{ CreateTicket struct{ ID string } }
			e.post(t, admin, `mutation { createTicket(input: {title: "合作方通知"}) { id } }`, nil).ok(t).decode(t, &tk)
			// The relay numbers the event after commit (every replica runs
			// one); the scheduler's fan-out is enqueued here by hand.
			if _, err := realtime.NewRelay(e.st.Client, e.rdb.Client, slog.New(slog.DiscardHandler)).RelayOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := enq.Enqueue(asynq.NewTask(jobs.TypeWebhookFanout, nil, asynq.Queue(jobs.QueueWebhooks))); err != nil {
				t.Fatal(err)
			}
			var got hit
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				n := len(hits)
				if n > 0 {
					got = hits[0]
				}
				mu.Unlock()
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the partner got nothing within 30s")
				}
			}
			if got.valid != nil {
				t.Fatalf("signature: %v", got.valid)
			}
			var body struct {
				ID, Kind string
				Data     struct{ Ticket string }
			}
			if err := json.Unmarshal(got.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Kind != "ticket.created" || body.Data.Ticket != tk.CreateTicket.ID || body.ID != got.header.Get("X-SCRM-Delivery") {
				t.Fatalf("body %s, headers %v", got.body, got.header)
			}

			const log = `{ webhookEndpoints(first: 10) { edges { node { id consecutiveFailures
				deliveries(first: 10) { totalCount edges { node { id kind status attempts responseStatus lastError payload deliveredAt } } } } } } }`
			type delivery struct {
				ID, Kind, Status, LastError, Payload string
				Attempts                             int
				ResponseStatus                       *int
				DeliveredAt                          *string
			}
			var d delivery
			for deadline := time.Now().Add(30 * time.Second); d.Status != "SUCCEEDED"; time.Sleep(50 * time.Millisecond) {
				var page struct {
					WebhookEndpoints struct {
						Edges []struct {
							Node struct {
								ID         string
								Deliveries struct {
									TotalCount int
									Edges      []struct{ Node delivery }
								}
							}
						}
					}
				}
				e.post(t, admin, log, nil).ok(t).decode(t, &page)
				for _, edge := range page.WebhookEndpoints.Edges {
					if edge.Node.ID == ep.WebhookEndpoint.ID {
						if edge.Node.Deliveries.TotalCount != 1 {
							t.Fatalf("%d deliveries", edge.Node.Deliveries.TotalCount)
						}
						d = edge.Node.Deliveries.Edges[0].Node
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivery log %+v", d)
				}
			}
			if d.ID != body.ID || d.Kind != "ticket.created" || d.Attempts != 1 || d.ResponseStatus == nil ||
				*d.ResponseStatus != 200 || d.DeliveredAt == nil || !strings.Contains(d.Payload, tk.CreateTicket.ID) {
				t.Fatalf("log %+v", d)
			}

			var again struct{ RedeliverWebhook struct{ ID, Status string } }
			e.post(t, admin, `mutation($id: ID!) { redeliverWebhook(id: $id) { id status } }`, map[string]any{"id": d.ID}).ok(t).decode(t, &again)
			if again.RedeliverWebhook.ID != d.ID || again.RedeliverWebhook.Status != "PENDING" {
				t.Fatalf("redeliver answered %+v", again)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				n := len(hits)
				if n > 1 {
					got = hits[1]
				}
				mu.Unlock()
				if n > 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no redelivery within 30s")
				}
			}
			if got.valid != nil || got.header.Get("X-SCRM-Delivery") != d.ID {
				t.Fatalf("redelivery: %v %v", got.valid, got.header)
			}
		})
	})
}
