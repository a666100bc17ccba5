package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/scrm-dev/scrm/internal/loadgen"
)

// benchCommand is `scrm bench`: load tools run against a server they
// start themselves (internal/loadgen).
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load tools (make bench-realtime runs them)",
		Commands: []*cli.Command{
			{
				Name: "realtime",
				Usage: "open N subscriptions over loopback against a scrm serve started for each N, publish events " +
					"through real mutations, and report connect rate, memory per idle subscription, fan-out time, " +
					"CPU per delivery and commit-to-screen latency as Markdown",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "n", Value: "1000,5000,15000", Usage: "comma-separated subscriber counts"},
					&cli.IntFlag{Name: "events", Value: 20, Usage: "measured events per N, sent one at a time"},
					&cli.DurationFlag{Name: "event-timeout", Value: 2 * time.Minute, Usage: "wait for one event to reach every subscriber"},
					&cli.IntFlag{Name: "warmup-rounds", Value: 3, Usage: "warm-up events at most, until every subscription has received one"},
					&cli.DurationFlag{Name: "settle", Value: 3 * time.Second, Usage: "least idle time before reading the server's idle memory"},
					&cli.IntFlag{Name: "per-process", Value: 5000, Usage: "connections per load process"},
					&cli.IntFlag{Name: "dial-concurrency", Value: 100, Usage: "connection attempts in flight per load process"},
					&cli.IntFlag{Name: "c2s-subs", Value: 1000, Usage: "subscribers of every ticket event in the commit-to-screen phase (0 skips it)"},
					&cli.FloatFlag{Name: "c2s-rate", Value: 50, Usage: "mutations (createTicket) per second of the commit-to-screen phase"},
					&cli.FloatFlag{Name: "c2s-seconds", Value: 20, Usage: "duration of the commit-to-screen phase"},
					&cli.StringFlag{Name: "database-url", Sources: cli.EnvVars("SCRM_BENCH_DATABASE_URL"),
						Value: "mysql://root@tcp(127.0.0.1:3306)/scrm_bench_rt?parseTime=true",
						Usage: "the bench database, migrated and seeded with scrm seed --demo"},
					&cli.StringFlag{Name: "redis-url", Value: loadgen.PrivateRedis, Usage: "Redis of the server under test: " +
						"\"private\" starts a redis-server of its own per server (Pub/Sub ignores database numbers, so a shared Redis " +
						"exchanges events with every other scrm on it), or a redis:// URL, or empty for the in-process one"},
					&cli.StringSliceFlag{Name: "server-env", Usage: "extra KEY=VALUE for the server under test, e.g. SCRM_DB_MAX_OPEN_CONNS=50"},
					&cli.StringFlag{Name: "out", Usage: "also write the Markdown report to this file"},
					&cli.StringFlag{Name: "log-dir", Usage: "where server logs go (default: a new temporary directory)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					ns, err := parseCounts(cmd.String("n"))
					if err != nil {
						return err
					}
					for _, kv := range cmd.StringSlice("server-env") {
						if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "SCRM_") {
							return fmt.Errorf("bench: --server-env wants SCRM_NAME=value, got %q", kv)
						}
					}
					o := loadgen.Options{
						DatabaseURL:     cmd.String("database-url"),
						RedisURL:        cmd.String("redis-url"),
						ServerEnv:       cmd.StringSlice("server-env"),
						Ns:              ns,
						Events:          cmd.Int("events"),
						EventTimeout:    cmd.Duration("event-timeout"),
						WarmupRounds:    cmd.Int("warmup-rounds"),
						Settle:          cmd.Duration("settle"),
						PerProcess:      cmd.Int("per-process"),
						DialConcurrency: cmd.Int("dial-concurrency"),
						C2SSubs:         cmd.Int("c2s-subs"),
						C2SRate:         cmd.Float("c2s-rate"),
						C2SDuration:     time.Duration(cmd.Float("c2s-seconds") * float64(time.Second)),
						LogDir:          cmd.String("log-dir"),
						Log:             cmd.Root().ErrWriter,
					}
					if o.Log == nil {
						o.Log = os.Stderr
					}
					r, err := loadgen.Run(ctx, o)
					if r == nil {
						return err
					}
					md := r.Markdown()
					fmt.Fprint(cmd.Root().Writer, md)
					if path := cmd.String("out"); path != "" {
						if werr := os.WriteFile(path, []byte(md), 0o644); werr != nil {
							return errors.Join(err, werr)
						}
					}
					return err
				},
			},
			{
				Name:   "realtime-client",
				Usage:  "one load process of bench realtime (commands on stdin, reports on stdout)",
				Hidden: true,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Required: true},
					&cli.IntFlag{Name: "conns", Required: true},
					&cli.StringFlag{Name: "query", Required: true},
					&cli.StringFlag{Name: "variables", Value: "{}"},
					&cli.StringFlag{Name: "marker", Required: true},
					&cli.IntFlag{Name: "dial-concurrency", Value: 100},
					&cli.DurationFlag{Name: "handshake-timeout", Value: time.Minute},
					&cli.DurationFlag{Name: "read-timeout", Value: 2 * time.Hour},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					var vars map[string]any
					if err := json.Unmarshal([]byte(cmd.String("variables")), &vars); err != nil {
						return fmt.Errorf("--variables: %w", err)
					}
					return loadgen.RunClient(ctx, loadgen.ClientOptions{
						URL:              cmd.String("url"),
						Token:            os.Getenv("SCRM_BENCH_TOKEN"),
						Conns:            cmd.Int("conns"),
						Query:            cmd.String("query"),
						Variables:        vars,
						Marker:           cmd.String("marker"),
						DialConcurrency:  cmd.Int("dial-concurrency"),
						HandshakeTimeout: cmd.Duration("handshake-timeout"),
						ReadTimeout:      cmd.Duration("read-timeout"),
					}, os.Stdin, os.Stdout)
				},
			},
		},
	}
}

// parseCounts parses "1000,5000,15000".
func parseCounts(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bench: --n wants positive counts separated by commas, got %q", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}
