package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/webhookdelivery"
	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/webhooks"
	"github.com/scrm-dev/scrm/jobs"
)

// redisDB is this package's database on a real Redis.
const redisDB = 1

// received is one request the fake partner got.
type received struct {
	header http.Header
	body   []byte
	valid  error // the signature check's verdict
}

// receiver is a partner's endpoint: it checks each request's signature
// with the endpoint's secret and answers what answer says.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	got    []received
	answer func(n int) int // status for the n-th request (from 1)
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body,
			valid: webhooks.Verify(r.secret, req.Header.Get(webhooks.SignatureHeader), body, 5*time.Minute)})
		status := r.answer(len(r.got))
		r.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "answered %d", status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func always(status int) func(int) int { return func(int) int { return status } }

// rig is a tenant with an admin, the webhook service and a real asynq
// worker running its tasks.
type rig struct {
	st    *store.Store
	rdb   *redisconn.Conn
	svc   *webhooks.Service
	relay *realtime.Relay
	ctx   context.Context
	admin int
}

func newRig(t *testing.T, db, rb string, pauseAfter int) *rig {
	t.Helper()
	r := &rig{st: testenv.OpenStore(t, db), rdb: testenv.OpenRedis(t, rb, redisDB)}
	logger := slog.New(slog.DiscardHandler)
	enq := asynq.NewClient(r.rdb.Opt)
	t.Cleanup(func() { enq.Close() })
	q := jobs.WebhookQueue{Enqueuer: enq}
	r.svc = webhooks.New(webhooks.Options{Client: r.st.Client, Logger: logger, Queue: q, Notifier: q,
		PauseAfter: pauseAfter, AllowInsecure: true, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	r.relay = realtime.NewRelay(r.st.Client, r.rdb.Client, logger)
	tn := r.st.Client.Tenant.Create().SetName("伙伴").SetSlug("partners").SaveX(viewer.System(context.Background()))
	r.ctx = viewer.ForTenant(context.Background(), tn.ID)
	r.admin = r.st.Client.Staff.Create().SetLogin("admin").SetName("管理员").SetRoles([]string{"admin"}).SaveX(r.ctx).ID
	r.st.Client.Staff.Create().SetLogin("agent").SetName("客服").SetRoles([]string{"agent"}).ExecX(r.ctx)
	w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: r.rdb.Opt, Concurrency: 4, Logger: logger, PollInterval: 50 * time.Millisecond,
		Deps: jobs.Deps{Client: r.st.Client, Enqueuer: enq, Redis: r.rdb.Client, Logger: logger, Webhooks: r.svc}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return r
}

func (r *rig) endpoint(t *testing.T, rcv *receiver, kinds ...string) *ent.WebhookEndpoint {
	t.Helper()
	url := rcv.URL + "/hooks"
	ep, secret, err := r.svc.Create(r.ctx, webhooks.EndpointInput{URL: &url, EventKinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	return ep
}

// openTicket writes a ticket (and its CREATED event) as a mutation would,
// then has the relay number the event, as it does after every commit.
func (r *rig) openTicket(t *testing.T) *ent.Ticket {
	t.Helper()
	tx, err := r.st.Client.Tx(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tx.Ticket.Create().SetTitle("退货").SetAssigneeID(r.admin).Save(r.ctx)
	if err != nil {
		t.Fatal(errorsJoin(err, tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.relay.RelayOnce(r.ctx); err != nil {
		t.Fatal(err)
	}
	return tk
}

func errorsJoin(a, b error) error {
	if b != nil {
		return fmt.Errorf("%w (rollback: %v)", a, b)
	}
	return a
}

func (r *rig) fanout(t *testing.T) int {
	t.Helper()
	n, err := r.svc.Fanout(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *rig) deliveries(t *testing.T, ep *ent.WebhookEndpoint) []*ent.WebhookDelivery {
	t.Helper()
	return r.st.Client.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(ep.ID)).
		Order(webhookdelivery.ByID()).AllX(r.ctx)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) delivery(t *testing.T, id int) *ent.WebhookDelivery {
	t.Helper()
	return r.st.Client.WebhookDelivery.GetX(r.ctx, id)
}

func TestDeliveriesThroughTheWorker(t *testing.T) {
	for _, db := range testenv.DatabaseBackends() {
		for _, rb := range testenv.RedisBackends() {
			t.Run(db+"/"+rb, func(t *testing.T) {
				t.Run("a ticket change reaches its subscriber once, signed; fan-out again makes nothing new", func(t *testing.T) {
					r := newRig(t, db, rb, 15)
					rcv := newReceiver(t, always(http.StatusNoContent))
					others := newReceiver(t, always(http.StatusOK))
					ep := r.endpoint(t, rcv, "ticket.*")
					r.endpoint(t, others, "order.*")
					tk := r.openTicket(t)
					r.fanout(t)
					if n := r.fanout(t); n != 0 {
						t.Fatalf("a second fan-out made %d deliveries", n)
					}
					// As if another fan-out had read the events before this
					// one moved the cursor: the unique index drops the repeats.
					r.st.Client.Tenant.Update().Where(tenant.ID(ep.TenantID)).SetWebhookSeq(0).ExecX(r.ctx)
					if n := r.fanout(t); n != 1 || len(r.deliveries(t, ep)) != 1 {
						t.Fatalf("fan-out from the start again: %d made, %d stored", n, len(r.deliveries(t, ep)))
					}
					ds := r.deliveries(t, ep)
					waitFor(t, "delivered", func() bool { return r.delivery(t, ds[0].ID).Status == webhookdelivery.StatusSucceeded })
					got := rcv.requests()
					if len(got) != 1 || len(others.requests()) != 0 {
						t.Fatalf("%d requests to the subscriber, %d to the other", len(got), len(others.requests()))
					}
					req := got[0]
					if req.valid != nil {
						t.Fatalf("signature: %v", req.valid)
					}
					id := gid.Encode(ds[0].ID)
					for h, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "scrm-webhooks/1",
						"X-Scrm-Event": "ticket.created", "X-Scrm-Delivery": id} {
						if req.header.Get(h) != want {
							t.Errorf("%s: %q, want %q", h, req.header.Get(h), want)
						}
					}
					var body struct {
						ID, Kind   string
						OccurredAt time.Time
						Data       map[string]string
					}
					if err := json.Unmarshal(req.body, &body); err != nil {
						t.Fatal(err)
					}
					want := map[string]string{"ticket": gid.Encode(tk.ID), "assignee": gid.Encode(r.admin), "status": "NEW"}
					if body.ID != id || body.Kind != "ticket.created" || body.OccurredAt.IsZero() || fmt.Sprint(body.Data) != fmt.Sprint(want) {
						t.Fatalf("body %s", req.body)
					}
					d := r.delivery(t, ds[0].ID)
					if d.Attempts != 1 || d.ResponseStatus == nil || *d.ResponseStatus != 204 || d.DeliveredAt == nil || d.DurationMs == nil {
						t.Fatalf("log %+v", d)
					}
				})

				t.Run("a receiver answering 500 then 200 gets a retry, and the log shows both attempts", func(t *testing.T) {
					r := newRig(t, db, rb, 15)
					rcv := newReceiver(t, func(n int) int { return map[bool]int{true: 500, false: 200}[n == 1] })
					ep := r.endpoint(t, rcv, "ticket.created")
					r.openTicket(t)
					r.fanout(t)
					d := r.deliveries(t, ep)[0]
					waitFor(t, "delivered", func() bool { return r.delivery(t, d.ID).Status == webhookdelivery.StatusSucceeded })
					d = r.delivery(t, d.ID)
					got := rcv.requests()
					if d.Attempts != 2 || *d.ResponseStatus != 200 || d.LastError != "" || len(got) != 2 ||
						got[0].header.Get("X-Scrm-Delivery") != got[1].header.Get("X-Scrm-Delivery") {
						t.Fatalf("log %+v after %d requests", d, len(got))
					}
					if f := r.st.Client.WebhookEndpoint.GetX(r.ctx, ep.ID).ConsecutiveFailures; f != 0 {
						t.Fatalf("failures after a success: %d", f)
					}
				})

				t.Run("failing N times pauses the endpoint and tells the admins; resuming delivers what waited", func(t *testing.T) {
					r := newRig(t, db, rb, 3)
					var mu sync.Mutex
					status := http.StatusServiceUnavailable
					rcv := newReceiver(t, func(int) int { mu.Lock(); defer mu.Unlock(); return status })
					ep := r.endpoint(t, rcv, "ticket.*")
					r.openTicket(t)
					r.fanout(t)
					waitFor(t, "paused", func() bool {
						return r.st.Client.WebhookEndpoint.GetX(r.ctx, ep.ID).Status == webhookendpoint.StatusPaused
					})
					ep = r.st.Client.WebhookEndpoint.GetX(r.ctx, ep.ID)
					first := r.deliveries(t, ep)[0]
					if ep.ConsecutiveFailures != 3 || ep.PausedAt == nil || ep.PauseReason == "" ||
						first.Status != webhookdelivery.StatusFailing || first.Attempts != 3 || first.LastError == "" {
						t.Fatalf("endpoint %+v, delivery %+v", ep, first)
					}
					audited := r.st.Client.AuditLog.Query().Where(auditlog.Operation("webhooks:pause")).OnlyX(r.ctx)
					if audited.ActorID != nil || !slices.Equal(audited.ObjectIds, []string{gid.Encode(ep.ID)}) {
						t.Fatalf("audit entry %+v", audited)
					}
					waitFor(t, "the admins' WeCom message queued", func() bool {
						done, _ := asynq.NewInspector(r.rdb.Opt).ListCompletedTasks(jobs.QueueDefault)
						for _, ti := range done {
							var p jobs.NotifyStaff
							if ti.Type == jobs.TypeNotifyStaff && json.Unmarshal(ti.Payload, &p) == nil {
								return slices.Equal(p.StaffIDs, []int{r.admin})
							}
						}
						return false
					})
					// While paused, new events wait for the endpoint.
					r.openTicket(t)
					r.fanout(t)
					if n := len(r.deliveries(t, ep)); n != 2 {
						t.Fatalf("%d deliveries while paused", n)
					}
					mu.Lock()
					status = http.StatusOK
					mu.Unlock()
					active := webhookendpoint.StatusActive
					if _, err := r.svc.Update(r.ctx, ep.ID, webhooks.EndpointInput{Status: &active}); err != nil {
						t.Fatal(err)
					}
					waitFor(t, "both delivered after resuming", func() bool {
						for _, d := range r.deliveries(t, ep) {
							if d.Status != webhookdelivery.StatusSucceeded {
								return false
							}
						}
						return true
					})
					if ep := r.st.Client.WebhookEndpoint.GetX(r.ctx, ep.ID); ep.ConsecutiveFailures != 0 || ep.PausedAt != nil {
						t.Fatalf("resumed endpoint %+v", ep)
					}
				})

				t.Run("redeliver sends a delivered event again", func(t *testing.T) {
					r := newRig(t, db, rb, 15)
					rcv := newReceiver(t, always(http.StatusOK))
					ep := r.endpoint(t, rcv, "ticket.created")
					r.openTicket(t)
					r.fanout(t)
					d := r.deliveries(t, ep)[0]
					waitFor(t, "delivered", func() bool { return r.delivery(t, d.ID).Status == webhookdelivery.StatusSucceeded })
					if _, err := r.svc.Redeliver(r.ctx, d.ID); err != nil {
						t.Fatal(err)
					}
					waitFor(t, "delivered again", func() bool {
						return len(rcv.requests()) == 2 && r.delivery(t, d.ID).Status == webhookdelivery.StatusSucceeded
					})
					got := rcv.requests()
					if string(got[0].body) != string(got[1].body) || got[1].valid != nil || r.delivery(t, d.ID).Attempts != 2 {
						t.Fatalf("bodies %s / %s, signature %v", got[0].body, got[1].body, got[1].valid)
					}
				})
			})
		}
	}
}
