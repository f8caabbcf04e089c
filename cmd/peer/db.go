package main

import (
	"fmt"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

func (a *app) dbCmd() *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "db [--version V] MIMEI COMMAND [ARG...]",
		Short: "Run a database command (Redis-style) on a MiMei",
		Long: `Run one command on a MiMei's database and print the reply as redis-cli
would, e.g.

  peer db notes SET greeting hello
  peer db notes LRANGE list 0 -1
  peer db --version last notes GET greeting

Flags (--version, --json, --data) go before MIMEI: everything after it is
passed to the database as is, so arguments such as -1 are not taken for
flags. Read-only commands may target a frozen version with --version.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.DB(ctx(), args[0], apiv1.DBCommand{Args: args[1:], Version: version})
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(r)
			}
			if r.Received {
				fmt.Fprintf(a.stderr, "version %s (received; no local working copy)\n", r.Version)
			}
			fmt.Fprintln(a.stdout, r.Text)
			return nil
		},
	}
	// Flag parsing stops at MIMEI: the command's own arguments may look like
	// flags (LRANGE l 0 -1, SET k --x).
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&version, "version", "", "version to read: cur (default), last, release or a number")
	return cmd
}
