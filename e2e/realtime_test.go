package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/realtime"
)

// TestMutationEventsReachRedisOnTheKick: a GraphQL mutation commits its
// ticket and the ticket's event together, kicks the relay, and the relay
// (whose poll is an hour away, so only the kick can wake it) numbers the
// event and publishes it on the tenant's channel.
func TestMutationEventsReachRedisOnTheKick(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		tid := e.tenantID(t, "demo")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sub := e.rdb.Client.Subscribe(ctx, realtime.Channel(tid))
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		relay := realtime.NewRelay(e.st.Client, e.rdb.Client, slog.New(slog.NewTextHandler(io.Discard, nil)))
		relay.Every = time.Hour
		done := make(chan struct{})
		go func() { defer close(done); relay.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			n, err := e.rdb.Client.PubSubNumSub(ctx, realtime.KickChannel).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n[realtime.KickChannel] > 0 {
				break // the relay listens for kicks
			}
			if time.Now().After(deadline) {
				t.Fatal("the relay never subscribed to kicks")
			}
		}

		r := e.post(t, e.token(t, "demo", "agent1"), `mutation { createTicket(input: {title: "门店退货"}) { id } }`, nil).ok(t)
		var got struct{ CreateTicket struct{ ID string } }
		r.decode(t, &got)
		select {
		case m := <-sub.Channel():
			var msg realtime.Message
			if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Kind != "CREATED" || msg.Topic != "TICKET" || msg.Seq < 1 || msg.Tenant != tid || msg.Actor == nil {
				t.Fatalf("message %+v", msg)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no event published after the mutation")
		}
	})
}
