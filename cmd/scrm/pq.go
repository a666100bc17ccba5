package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/config"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// pqCommand is `scrm pq`: trusted-document lists from the command line.
func pqCommand() *cli.Command {
	return &cli.Command{
		Name:  "pq",
		Usage: "persisted queries: push trusted-document manifests, check documents against the schema",
		Commands: []*cli.Command{
			{
				Name:      "push",
				Usage:     "add a manifest (Apollo persisted query list or Relay persistConfig output) to a tenant's list",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tenant", Required: true, Usage: "tenant slug, e.g. demo"},
					&cli.StringFlag{Name: "list", Required: true, Usage: "the list, a client and its version, e.g. pos-3.2"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.NArg() != 1 {
						return errors.New("pq push: give one manifest FILE")
					}
					cfg, err := config.Load()
					if err != nil {
						return err
					}
					return pqPush(ctx, cfg, cmd.Root().Writer, cmd.String("tenant"), cmd.String("list"), cmd.Args().First())
				},
			},
			{
				Name: "check",
				Usage: "validate documents against the current schema: the given manifest files, and the stored lists " +
					"of --tenant (or of every tenant with --stored, or when no FILE is given); exits 1 if any is broken",
				ArgsUsage: "[FILE ...]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "tenant", Usage: "check this tenant's stored lists"},
					&cli.BoolFlag{Name: "stored", Usage: "check every tenant's stored lists as well as the files"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					var cfg *config.Config
					if cmd.String("tenant") != "" || cmd.Bool("stored") || cmd.NArg() == 0 {
						var err error
						if cfg, err = config.Load(); err != nil {
							return err
						}
					}
					return pqCheck(ctx, cfg, cmd.Root().Writer, cmd.String("tenant"), cmd.Args().Slice())
				},
			},
		},
	}
}

func pqPush(ctx context.Context, cfg *config.Config, out io.Writer, tenantSlug, list, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	// Report every broken document on its own line before the store
	// refuses them in one message.
	if problems, _ := persisted.CheckManifest(schema, file, data); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, p)
		}
		return fmt.Errorf("pq push: %d documents of %s do not validate; nothing stored", len(problems), file)
	}
	st, err := readyStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tid, err := st.Client.Tenant.Query().Where(tenant.Slug(tenantSlug)).OnlyID(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return fmt.Errorf("pq push: no tenant %q", tenantSlug)
	} else if err != nil {
		return err
	}
	store := persisted.New(persisted.Options{Client: st.Client, Schema: schema, Logger: cfg.Logger()})
	res, err := store.Push(ctx, tid, list, data)
	if err != nil {
		return fmt.Errorf("pq push: %w", err)
	}
	fmt.Fprintf(out, "list %s of tenant %s: %d added, %d unchanged\n", res.List, tenantSlug, res.Added, res.Unchanged)
	return nil
}

// pqCheck checks files, and stored documents when cfg is set.
func pqCheck(ctx context.Context, cfg *config.Config, out io.Writer, tenantSlug string, files []string) error {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var problems []persisted.Problem
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		p, n := persisted.CheckManifest(schema, f, data)
		problems = append(problems, p...)
		checked += n
	}
	if cfg != nil {
		st, err := readyStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		store := persisted.New(persisted.Options{Client: st.Client, Schema: schema, Logger: cfg.Logger()})
		p, n, err := store.Check(ctx, tenantSlug)
		if err != nil {
			return err
		}
		problems = append(problems, p...)
		checked += n
	}
	for _, p := range problems {
		fmt.Fprintln(out, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("pq check: %d of %d documents are broken against the current schema", len(problems), checked)
	}
	fmt.Fprintf(out, "%d documents hold against the current schema\n", checked)
	return nil
}
