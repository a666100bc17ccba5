package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/schemadiff"
)

// committedSchema is the API's published contract, written by make schema.
const committedSchema = "graph/schema.graphql"

// schemaCommand is `scrm schema print` and `scrm schema check`.
func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "the GraphQL schema as SDL, and its check against the committed " + committedSchema,
		Commands: []*cli.Command{
			{
				Name:  "print",
				Usage: "write the schema this binary serves as SDL to stdout",
				Action: func(_ context.Context, cmd *cli.Command) error {
					_, err := fmt.Fprint(cmd.Root().Writer, graph.SDL())
					return err
				},
			},
			{
				Name: "check",
				Usage: "list breaking changes from --against to the served schema (failing when there are any); " +
					"against " + committedSchema + ", any difference fails: the committed file is stale",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "against", Value: committedSchema, Usage: "SDL file of the schema clients rely on"},
				},
				Action: func(_ context.Context, cmd *cli.Command) error {
					return checkSchema(cmd.Root().Writer, cmd.String("against"))
				},
			},
		},
	}
}

func checkSchema(w io.Writer, against string) error {
	b, err := os.ReadFile(against)
	if err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	live := graph.SDL()
	if string(b) == live {
		fmt.Fprintf(w, "%s matches the served schema\n", against)
		return nil
	}
	old, err := schemadiff.Load(against, string(b))
	if err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	current, err := schemadiff.Load("served schema", live)
	if err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	changes := schemadiff.Compare(old, current)
	for _, c := range changes {
		fmt.Fprintln(w, c)
	}
	if n := len(schemadiff.BreakingChanges(changes)); n > 0 {
		return fmt.Errorf("schema check: %d breaking change(s) against %s", n, against)
	}
	if against == committedSchema {
		// Keep the committed contract current, so that a later breaking
		// change shows up against what clients were actually given.
		return errors.New(committedSchema + " is stale: run make schema")
	}
	if len(changes) == 0 {
		fmt.Fprintf(w, "%s and the served schema differ only in order or formatting\n", against)
	}
	return nil
}
