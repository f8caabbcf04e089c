package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

// consoleCmd groups the web console's commands: pairing another device's
// browser, and listing and revoking console sessions.
func (a *app) consoleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Pair a browser with the web console; list and revoke console sessions",
		Long: `The web console is the node's UI in a browser. On the node's own machine it
logs in with the local API token; another device (a phone) gets in with a
one-time pairing code from "peer console pair", exchanged for a session
that "peer console sessions" lists and "peer console revoke" ends.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.consolePairCmd(), a.consoleSessionsCmd(), a.consoleRevokeCmd())
	return cmd
}

func (a *app) consolePairCmd() *cobra.Command {
	var (
		name, scope string
		ttl         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "pair",
		Short: "Show a one-time code (and QR code) that lets another device's browser into the console",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if scope != apiv1.ScopeAdmin && scope != apiv1.ScopeRead {
				return fmt.Errorf("--scope %q: use admin or read", scope)
			}
			if ttl < time.Second || ttl > time.Hour {
				return fmt.Errorf("--ttl %v: give 1s to 1h", ttl)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Pair(ctx(), name, scope, ttl)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(p)
			}
			a.printPairing(p, scope)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a label for the session (the device may give its own)")
	f.StringVar(&scope, "scope", apiv1.ScopeAdmin, "what the session may do: admin (everything) or read (look only)")
	f.DurationVar(&ttl, "ttl", 10*time.Minute, "how long the code stays valid (at most 1h)")
	return cmd
}

// printPairing shows the code large enough to read across a room, then how
// to use it; the QR code only when a person is looking at a terminal.
func (a *app) printPairing(p apiv1.ConsolePairing, scope string) {
	spaced := strings.Join(strings.Split(p.Code, ""), " ")
	bar := strings.Repeat("─", len(spaced)+6)
	fmt.Fprintf(a.stdout, "Pairing code (%s access, works once):\n\n", scope)
	fmt.Fprintf(a.stdout, "  ┌%s┐\n  │   %s   │\n  └%s┘\n\n", bar, spaced, bar)
	if isTerminal(a.stdout) {
		if err := writeQR(a.stdout, apiv1.ConsoleQRPrefix+p.Code); err != nil {
			fmt.Fprintln(a.stderr, "peer: no QR code:", err)
		}
	}
	fmt.Fprintf(a.stdout, "On the other device open %s and type the code (or scan the QR code there).\n", p.URL)
	left := ""
	if d := time.Until(p.Expires); d > 0 {
		left = " (in " + fmtDur(d.Seconds()) + ")"
	}
	fmt.Fprintf(a.stdout, "The code expires %s%s.\n", p.Expires.Local().Format("15:04:05"), left)
}

func (a *app) consoleSessionsCmd() *cobra.Command {
	return &cobra.Command{
		Use: "sessions", Aliases: []string{"ls"}, Short: "List the console sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Sessions(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if l == nil {
					l = []apiv1.ConsoleSessionInfo{}
				}
				return a.printJSON(l)
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "no console sessions (make one with `peer console pair`)")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST SEEN")
			for _, s := range l {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, orDash(s.Name), s.Scope, fmtTime(s.Created), fmtTime(s.LastSeen))
			}
			return tw.Flush()
		},
	}
}

func (a *app) consoleRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use: "revoke ID", Short: "End a console session at once (its browser must pair again)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			if id == "" {
				return errors.New("give the session's ID (see `peer console sessions`)")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RevokeSession(ctx(), id); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"revoked": id})
			}
			fmt.Fprintf(a.stdout, "revoked console session %s\n", id)
			return nil
		},
	}
}
