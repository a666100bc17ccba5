package loadgen

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1) // unsorted on purpose
	for _, c := range []struct {
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 100, 7 * time.Millisecond},
		{twenty, 50, 10 * time.Millisecond}, // the 10th of 20
		{twenty, 100, 20 * time.Millisecond},
		{twenty, 99, 20 * time.Millisecond}, // ceil(19.8) = 20th
		{twenty, 95, 19 * time.Millisecond},
		{twenty, 5, 1 * time.Millisecond},
		{twenty, 0.1, 1 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
	} {
		if got := Percentile(c.values, c.p); got != c.want {
			t.Errorf("p%g of %v = %v, want %v", c.p, c.values, got, c.want)
		}
	}
	if twenty[0] != 20*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for us := int64(0); us < 1<<22; us += 1 + us/997 {
		b := bucketOf(us)
		lo, hi := bucketBounds(b)
		if us < lo || us > hi {
			t.Fatalf("%d µs in bucket %d = [%d, %d]", us, b, lo, hi)
		}
		if b < prev {
			t.Fatalf("buckets not monotonic at %d µs", us)
		}
		prev = b
		if us >= 1024 && float64(hi-lo+1) > float64(lo)/500 {
			t.Fatalf("bucket %d = [%d, %d] wider than 0.2%%", b, lo, hi)
		}
	}
	if lo, hi := bucketBounds(bucketOf(1023)); lo != 1023 || hi != 1023 {
		t.Errorf("1023 µs: [%d, %d], want exact", lo, hi)
	}
	// Adjacent buckets tile the line: no gap, no overlap.
	for b := 1000; b < 5000; b++ {
		_, hi := bucketBounds(b)
		lo, _ := bucketBounds(b + 1)
		if lo != hi+1 {
			t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", b, hi, b+1, lo)
		}
	}
}

// TestHistogramQuantileMatchesExact: a histogram's quantiles agree with
// the exact nearest-rank percentile within the bucket width, and
// histograms merged from parts equal one built from the whole.
func TestHistogramQuantileMatchesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	var whole, a, b Histogram
	for i := range 100000 {
		d := time.Duration(rng.ExpFloat64()*30e3) * time.Microsecond // ~30 ms mean, long tail
		all = append(all, d)
		whole.Add(d)
		if i%3 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(nil)
	for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
		exact := Percentile(all, p).Microseconds()
		got := whole.Quantile(p).Microseconds()
		if diff := got - exact; diff < -exact/1000-1 || diff > exact/1000+1 {
			t.Errorf("p%g: histogram %d µs, exact %d µs", p, got, exact)
		}
		if m := merged.Quantile(p); m != whole.Quantile(p) {
			t.Errorf("p%g: merged %v, whole %v", p, m, whole.Quantile(p))
		}
	}
	if whole.Quantile(100) != slices.Max(all).Truncate(time.Microsecond) || whole.Min != slices.Min(all).Microseconds() {
		t.Errorf("max %v min %d µs", whole.Quantile(100), whole.Min)
	}
	if merged.N != 100000 || merged.Sum != whole.Sum {
		t.Errorf("merged n=%d sum=%d, want %d %d", merged.N, merged.Sum, whole.N, whole.Sum)
	}
	var empty Histogram
	if empty.Quantile(50) != 0 || empty.Mean() != 0 {
		t.Error("an empty histogram has quantiles")
	}
	var neg Histogram
	neg.Add(-time.Millisecond) // clocks of one host: only rounding can make it negative
	if neg.Min != 0 || neg.Quantile(50) != 0 {
		t.Errorf("negative latency: %+v", neg)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 566.
	stat := "4242 (scrm (serve) x) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 566 0 0 20 0 12 0 98765 123456789 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := ParseStatCPU([]byte(stat))
	if err != nil || got != 18*time.Second {
		t.Errorf("got %v, %v; want 18s", got, err)
	}
	for _, bad := range []string{"", "4242 (scrm) S 1 2 3", "4242 (scrm) S 1 4242 4242 0 -1 4194560 12345 0 0 0 x 566 0"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\tscrm\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 2000000 kB\nVmHWM:\t  99999 kB\nVmRSS:\t   51234 kB\nRssAnon:\t   40000 kB\nThreads:\t12\n"
	got, err := ParseStatusRSS([]byte(status))
	if err != nil || got != 51234*1024 {
		t.Errorf("got %d, %v", got, err)
	}
	if _, err := ParseStatusRSS([]byte("Name:\tkthreadd\nState:\tS\n")); err == nil {
		t.Error("a status without VmRSS parsed")
	}
	if _, err := ParseStatusRSS([]byte("VmRSS:\t 12 MB\n")); err == nil {
		t.Error("a VmRSS in other units parsed")
	}
}

func TestParseLimitsNoFile(t *testing.T) {
	limits := `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             95528                95528                processes
Max open files            1024                 20000                files
Max locked memory         8388608              8388608              bytes
`
	soft, hard, err := ParseLimitsNoFile([]byte(limits))
	if err != nil || soft != 1024 || hard != 20000 {
		t.Errorf("got %d %d %v", soft, hard, err)
	}
	soft, hard, err = ParseLimitsNoFile([]byte("Max open files            unlimited            unlimited            files\n"))
	if err != nil || soft != -1 || hard != -1 {
		t.Errorf("unlimited: %d %d %v", soft, hard, err)
	}
	if _, _, err := ParseLimitsNoFile([]byte("Max processes 1 1 processes\n")); err == nil {
		t.Error("no open-files line parsed")
	}
}

func TestParseHostBusy(t *testing.T) {
	stat := "cpu  1000 10 300 5000 70 0 20 5 0 0\ncpu0 500 5 150 2500 35 0 10 2 0 0\nintr 1\n"
	got, err := ParseHostBusy([]byte(stat))
	if want := time.Duration(1000+10+300+20+5) * clockTick; err != nil || got != want {
		t.Errorf("got %v %v, want %v", got, err, want)
	}
}

// TestProcfsOfThisProcess reads the live files of the test process.
func TestProcfsOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // burn a little CPU
	}
	cpu, err := ProcCPU(pid)
	if err != nil || cpu <= 0 {
		t.Errorf("cpu %v %v", cpu, err)
	}
	rss, err := ProcRSS(pid)
	if err != nil || rss < 1<<20 {
		t.Errorf("rss %d %v", rss, err)
	}
	if soft, hard, err := ProcNoFile(pid); err != nil || soft == 0 || hard == 0 {
		t.Errorf("nofile %d %d %v", soft, hard, err)
	}
	if busy, err := HostBusy(); err != nil || busy <= 0 {
		t.Errorf("host busy %v %v", busy, err)
	}
}

func TestScan(t *testing.T) {
	marker := []byte(`"title":"bench-rt 17.1 #`)
	for _, c := range []struct {
		frame string
		kind  Kind
		seq   int
	}{
		// gqlgen's order: payload, id, type.
		{`{"payload":{"data":{"ticketUpdated":{"cursor":"41","kind":"UPDATED","ticket":{"id":"VGlja2V0OjA","title":"bench-rt 17.1 #12","status":"NEW"},"at":"2026-01-01T00:00:00Z"}}},"id":"1","type":"next"}`, KindEvent, 12},
		// type first, as another encoder may write it.
		{`{"type":"next","id":"1","payload":{"data":{"ticketUpdated":{"ticket":{"title":"bench-rt 17.1 #7"}}}}}`, KindEvent, 7},
		// another run's marker, or another ticket's title.
		{`{"payload":{"data":{"ticketUpdated":{"ticket":{"title":"bench-rt 17.2 #12"}}}},"id":"1","type":"next"}`, KindNext, 0},
		{`{"payload":{"data":{"ticketUpdated":{"ticket":{"title":"门店退货"}}}},"id":"1","type":"next"}`, KindNext, 0},
		{`{"payload":{"data":{"ticketUpdated":{"ticket":{"title":"bench-rt 17.1 #"}}}},"id":"1","type":"next"}`, KindNext, 0},
		{`{"type":"connection_ack"}`, KindAck, 0},
		{`{"payload":{},"type":"ping"}`, KindPing, 0},
		{`{"type":"pong"}`, KindPong, 0},
		{`{"type":"ka"}`, KindKeepAlive, 0},
		{`{"id":"1","type":"complete"}`, KindComplete, 0},
		{`{"payload":[{"message":"forbidden"}],"id":"1","type":"error"}`, KindError, 0},
		{`{"type":"connection_error"}`, KindOther, 0},
		{`not json`, KindOther, 0},
		{``, KindOther, 0},
		// the marker inside a frame that is not a next does not count.
		{`{"payload":[{"message":"\"title\":\"bench-rt 17.1 #3"}],"id":"1","type":"error"}`, KindError, 0},
	} {
		k, seq := Scan([]byte(c.frame), marker)
		if k != c.kind || seq != c.seq {
			t.Errorf("%s: got %s %d, want %s %d", c.frame, k, seq, c.kind, c.seq)
		}
	}
}

// Scan must be cheap: it runs once per delivery on the load processes,
// which share the cores with the server.
func TestScanDoesNotAllocate(t *testing.T) {
	frame := []byte(`{"payload":{"data":{"ticketUpdated":{"cursor":"41","kind":"UPDATED","ticket":{"id":"VGlja2V0OjA","title":"bench-rt 1.1 #12","status":"NEW"},"at":"2026-01-01T00:00:00Z"}}},"id":"1","type":"next"}`)
	marker := []byte(`"title":"bench-rt 1.1 #`)
	if n := testing.AllocsPerRun(100, func() { Scan(frame, marker) }); n != 0 {
		t.Errorf("Scan allocates %v times per frame", n)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root@tcp(127.0.0.1:3306)/db?parseTime=true":   "mysql://root@tcp(127.0.0.1:3306)/db?parseTime=true",
		"mysql://scrm:secret@tcp(db:3306)/scrm?parseTime=true": "mysql://scrm:…@tcp(db:3306)/scrm?parseTime=true",
		"sqlite:///tmp/x.db":           "sqlite:///tmp/x.db",
		"redis://:pw@127.0.0.1:6379/7": "redis://:…@127.0.0.1:6379/7",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("%s: %s", in, got)
		}
	}
	if !strings.Contains(definitions, "upper bound") {
		t.Error("the report no longer says commit-to-screen is an upper bound")
	}
}
