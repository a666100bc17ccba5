package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/internal/apperr"
)

func TestSignatures(t *testing.T) {
	secret := newSecret()
	body := []byte(`{"id":"d1","kind":"ticket.created","data":{}}`)
	now := time.Unix(1_750_000_000, 0)
	header := Sign(secret, body, now)
	if !strings.HasPrefix(header, "t=1750000000,v1=") || len(header) != len("t=1750000000,v1=")+64 {
		t.Fatalf("header %q", header)
	}
	for _, c := range []struct {
		name    string
		secret  string
		header  string
		body    []byte
		at      time.Time
		wantErr error
	}{
		{"a fresh, intact body verifies", secret, header, body, now.Add(time.Minute), nil},
		{"an old timestamp is a replay", secret, header, body, now.Add(6 * time.Minute), ErrSignatureExpired},
		{"a timestamp from the future is refused too", secret, header, body, now.Add(-6 * time.Minute), ErrSignatureExpired},
		{"a tampered body does not verify", secret, header, []byte(strings.Replace(string(body), "created", "closed", 1)), now, ErrSignatureMismatch},
		{"another secret does not verify", newSecret(), header, body, now, ErrSignatureMismatch},
		{"one matching v1 of several is enough", secret, header + ",v1=" + strings.Repeat("0", 64), body, now, nil},
		{"a header without v1 is malformed", secret, "t=1750000000", body, now, ErrBadSignatureHeader},
		{"a header without t is malformed", secret, "v1=abc", body, now, ErrBadSignatureHeader},
		{"garbage is malformed", secret, "sha256=abc", body, now, ErrBadSignatureHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := verifyAt(c.secret, c.header, c.body, 5*time.Minute, c.at); !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
		})
	}
	t.Run("Verify checks against the clock", func(t *testing.T) {
		if err := Verify(secret, Sign(secret, body, time.Now()), body, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := Verify(secret, header, body, time.Minute); !errors.Is(err, ErrSignatureExpired) {
			t.Fatalf("a 2025 signature: %v", err)
		}
	})
}

func TestRetrySchedule(t *testing.T) {
	s := New(Options{})
	base, ceiling, window := s.opts.RetryBase, s.opts.RetryMax, s.opts.Window
	t.Run("delays double up to the ceiling and never shrink", func(t *testing.T) {
		prev := time.Duration(0)
		for n := 1; n <= 30; n++ {
			d := RetryDelay(n, base, ceiling)
			if d < prev || d > ceiling || (prev < ceiling && d <= prev) {
				t.Fatalf("delay %d = %s after %s", n, d, prev)
			}
			prev = d
		}
	})
	t.Run("with jitter, every attempt falls within the window and later than the one before", func(t *testing.T) {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for range 50 {
			at, attempts := start, 1
			for {
				next := s.retryAt(at, attempts)
				if !next.After(at) {
					t.Fatalf("attempt %d at %s, not after %s", attempts+1, next, at)
				}
				if next.After(start.Add(window)) {
					break // abandoned: Deliver never schedules it
				}
				at, attempts = next, attempts+1
			}
			if at.Sub(start) > window || attempts < 10 || attempts > 20 {
				t.Fatalf("%d attempts, the last %s after the first", attempts, at.Sub(start))
			}
		}
	})
}

func TestKinds(t *testing.T) {
	for _, c := range []struct {
		subscribed []string
		topic      event.Topic
		kind       string
		want       bool
	}{
		{[]string{"ticket.created"}, event.TopicTicket, "CREATED", true},
		{[]string{"ticket.created"}, event.TopicTicket, "CLOSED", false},
		{[]string{"ticket.*"}, event.TopicTicket, "STATUS_CHANGED", true},
		{[]string{"ticket.*"}, event.TopicOrder, "CREATED", false},
		{[]string{"order.*", "customer.merged"}, event.TopicCustomer, "MERGED", true},
		{[]string{"customer.*"}, event.TopicCustomer, "CREATED", true},
		{[]string{"order.*"}, event.TopicOrder, "NOT_A_KIND", false},
	} {
		if got := Matches(c.subscribed, KindOf(c.topic, c.kind)); got != c.want {
			t.Errorf("%v takes %s %s: got %v", c.subscribed, c.topic, c.kind, got)
		}
	}
	kinds := Kinds()
	for _, k := range []string{"ticket.created", "ticket.status_changed", "order.created", "order.updated",
		"customer.created", "customer.merged", "ticket.*", "order.*", "customer.*"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Kinds() lacks %s: %v", k, kinds)
		}
	}
	for _, bad := range [][]string{nil, {}, {"ticket.created", "ticket.nope"}, {"*"}, {"Ticket.Created"}} {
		if _, err := checkKinds(bad); !isInvalid(err, "eventKinds") {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if got, err := checkKinds([]string{"order.*", "order.*", "ticket.created"}); err != nil || len(got) != 2 {
		t.Errorf("repeats: %v %v", got, err)
	}
}

func isInvalid(err error, field string) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == apperr.CodeBadUserInput && e.Field == field
}

func TestURLs(t *testing.T) {
	for _, c := range []struct {
		url              string
		insecure, secure bool // accepted with AllowInsecure, without
	}{
		{"https://erp.example.com/hooks/scrm", true, true},
		{"https://erp.example.com:8443/h?tenant=1", true, true},
		{"http://erp.example.com/hooks", false, false},
		{"http://127.0.0.1:9000/hooks", true, false},
		{"http://localhost:9000/hooks", true, false},
		{"http://[::1]:9000/hooks", true, false},
		{"http://10.0.0.5/hooks", false, false},
		{"https://10.0.0.5/hooks", true, false},
		{"https://169.254.169.254/latest/meta-data", true, false},
		{"https://[fd00::1]/hooks", true, false},
		{"https://user:pass@erp.example.com/hooks", false, false},
		{"https://erp.example.com/hooks#frag", false, false},
		{"ftp://erp.example.com/hooks", false, false},
		{"erp.example.com/hooks", false, false},
		{"", false, false},
		{"https://" + strings.Repeat("a", 500) + ".com", false, false},
	} {
		for _, insecure := range []bool{true, false} {
			want := c.secure
			if insecure {
				want = c.insecure
			}
			err := checkURL(c.url, insecure)
			if want != (err == nil) || (err != nil && !isInvalid(err, "url")) {
				t.Errorf("%q (insecure %v): %v", c.url, insecure, err)
			}
		}
	}
}

func TestDialGuard(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fd12::1": true, "::ffff:10.0.0.1": true,
		"64:ff9b::a00:1": true, "8.8.8.8": false, "2001:4860:4860::8888": false, "203.0.114.1": false,
	} {
		if got := blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blocked(%s) = %v", addr, got)
		}
	}
	t.Run("a production client refuses a loopback receiver at dial time", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		defer srv.Close()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
		_, err := newHTTPClient(false).Do(req)
		if !errors.Is(err, errBlockedAddress) {
			t.Fatalf("got %v", err)
		}
		resp, err := newHTTPClient(true).Do(req.Clone(context.Background()))
		if err != nil {
			t.Fatalf("a development client: %v", err)
		}
		resp.Body.Close()
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		}))
		defer srv.Close()
		resp, err := newHTTPClient(true).Post(srv.URL, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
