package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/loadgen"
)

// asCLI makes a child process started from this test binary with
// SCRM_TEST_AS_CLI=1 behave as the scrm binary, so that `bench realtime`,
// which runs `scrm serve`, `scrm token` and its load processes as child
// processes, can be tested without building scrm first.
const asCLI = "SCRM_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := app().Run(ctx, os.Args)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "scrm:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchRealtimeSmoke runs the whole realtime load tool at a tiny
// scale against a real `scrm serve` child process (SQLite, in-process
// Redis): two load processes, warm-up, measured events and the
// commit-to-screen phase, and checks every delivery was counted.
func TestBenchRealtimeSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and load processes")
	}
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "bench.db")
	t.Setenv("SCRM_DATA_DIR", dir)
	t.Setenv("SCRM_DATABASE_URL", db)
	t.Setenv("SCRM_REDIS_URL", "")
	t.Setenv("SCRM_PII_KEYS", "bench1:aes-256-gcm:YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZiE=")
	t.Setenv("SCRM_PII_INDEX_KEY", "YmVuY2gtb25seS1pbmRleC0wMTIzNDU2Nzg5YWJjZCE=")
	if out, err := run(t, "seed", "--demo"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 30
	r, err := loadgen.Run(ctx, loadgen.Options{
		Exe: exe, ExtraEnv: []string{asCLI + "=1"},
		DatabaseURL: db, RedisURL: "",
		Ns: []int{n}, Events: 3, EventTimeout: 30 * time.Second, Settle: 100 * time.Millisecond,
		PerProcess: 20, DialConcurrency: 4,
		C2SSubs: 10, C2SRate: 20, C2SDuration: time.Second,
		LogDir: dir, Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	md := r.Markdown()
	t.Log("\n" + log.String() + "\n" + md)
	f := r.Fanout[0]
	if f.Err != "" || f.Procs != 2 || f.Connected != n || f.ConnectRate <= 0 || len(f.Events) != 3 || f.Deliveries != 3*n || f.Lost != 0 {
		t.Fatalf("fan-out %+v", f)
	}
	for _, e := range f.Events {
		if e.TimedOut || e.Received != n || e.FanOut <= 0 || e.FirstAfter <= 0 || e.FanOut < e.FirstAfter || e.RTT <= 0 {
			t.Errorf("event %+v", e)
		}
	}
	if f.RSSBefore <= 0 || f.RSSIdle <= 0 || f.CPU.Server <= 0 {
		t.Errorf("server RSS %d → %d, CPU %v", f.RSSBefore, f.RSSIdle, f.CPU.Server)
	}
	c := r.C2S
	if c == nil || c.Err != "" || c.Sent != 20 || c.SendErrors != 0 || c.Expected != 10*20 || c.Received != c.Expected || c.Lost != 0 {
		t.Fatalf("commit-to-screen %+v", c)
	}
	if p50 := c.Hist.Quantile(50); p50 <= 0 || p50 > 30*time.Second {
		t.Errorf("commit-to-screen p50 %v", p50)
	}
	for _, want := range []string{"| 30", "| 10 | 20 (", "commit-to-screen p50"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
