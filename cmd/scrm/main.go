// Command scrm is the product's one binary: `scrm serve` runs the API,
// `scrm worker` the background jobs, `scrm migrate` the schema migrations,
// `scrm seed --demo` the demo data, `scrm token` prints a staff token,
// `scrm bench realtime` measures live updates under load (bench.go) and
// `scrm schema` prints and checks the GraphQL SDL (schema.go).
// It wires packages together and holds no logic of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/scrm-dev/scrm/internal/config"
	"github.com/scrm-dev/scrm/internal/seed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "scrm:", err)
		os.Exit(1)
	}
}

func app() *cli.Command {
	return &cli.Command{
		Name:  "scrm",
		Usage: "social CRM backend: one customer view over WeCom and the shops",
		Description: "Configuration comes from SCRM_* environment variables; with none set, scrm runs on a\n" +
			"SQLite file and an in-process Redis under ./data. See README.md for the table.",
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run the GraphQL API (and, in the embedded default, the background worker)",
				Action: func(ctx context.Context, _ *cli.Command) error {
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return serve(ctx, cfg)
				},
			},
			{
				Name:  "fake-platforms",
				Usage: "serve a demo WeCom corp, Taobao shop and Douyin shop (fakes speaking the real protocols) for a seeded tenant",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8090", Usage: "listen address"},
					&cli.StringFlag{Name: "tenant", Value: "demo", Usage: "tenant slug whose demo accounts the fakes serve"},
					&cli.DurationFlag{Name: "every", Value: 5 * time.Second, Usage: "how often the shops change (and push) an order"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return fakePlatforms(ctx, cfg, cmd.String("addr"), cmd.String("tenant"), cmd.Duration("every"))
				},
			},
			{
				Name:  "worker",
				Usage: "run background jobs from Redis (needs SCRM_REDIS_URL)",
				Action: func(ctx context.Context, _ *cli.Command) error {
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return worker(ctx, cfg)
				},
			},
			{
				Name:  "migrate",
				Usage: "bring the database schema up to date",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return migrate(ctx, cfg, cmd.Root().Writer)
				},
			},
			{
				Name:  "seed",
				Usage: "write demo data",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "demo", Usage: "write the demo tenants demo and acme (required)"},
					&cli.IntFlag{Name: "customers", Value: seed.DefaultCustomers, Usage: "customers of the demo tenant"},
					&cli.IntFlag{Name: "orders", Value: seed.DefaultOrders, Usage: "orders of the demo tenant"},
					&cli.BoolFlag{Name: "if-empty", Usage: "do nothing, successfully, when the demo tenants exist"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if !cmd.Bool("demo") {
						return errors.New("seed: only the demo data set exists; run `scrm seed --demo`")
					}
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return seedDemo(ctx, cfg, cmd.Root().Writer, cmd.Int("customers"), cmd.Int("orders"), cmd.Bool("if-empty"))
				},
			},
			{
				Name:  "keys",
				Usage: "manage the keys personal data is encrypted with",
				Commands: []*cli.Command{{
					Name: "rotate",
					Usage: "re-encrypt every personal value under the active key (SCRM_PII_ACTIVE_KEY), in batches, " +
						"while the product runs; afterwards retired keys can be dropped from SCRM_PII_KEYS",
					Flags: []cli.Flag{
						&cli.IntFlag{Name: "batch", Value: 500, Usage: "rows per transaction"},
					},
					Action: func(ctx context.Context, cmd *cli.Command) error {
						cfg, err := config.Load()
						if err != nil {
							return err
						}
						return rotateKeys(ctx, cfg, cmd.Root().Writer, cmd.Int("batch"))
					},
				}},
			},
			{
				Name:  "token",
				Usage: "print a signed token for a staff member, for development and operations",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tenant", Required: true, Usage: "tenant slug, e.g. demo"},
					&cli.StringFlag{Name: "user", Required: true, Usage: "staff login, e.g. agent1"},
					&cli.DurationFlag{Name: "ttl", Usage: "lifetime (default SCRM_TOKEN_TTL, 12h)"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					ttl := cmd.Duration("ttl")
					if ttl == 0 {
						ttl = cfg.TokenTTL
					}
					if ttl < 0 || ttl > 90*24*time.Hour {
						return fmt.Errorf("token: --ttl must be positive and at most 90 days, got %s", ttl)
					}
					return printToken(ctx, cfg, cmd.Root().Writer, cmd.String("tenant"), cmd.String("user"), ttl)
				},
			},
			benchCommand(),
			schemaCommand(),
			pqCommand(),
		},
	}
}
