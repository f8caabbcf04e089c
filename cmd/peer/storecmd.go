package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) storeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Inspect, verify and clean up the node's block store"}
	cmd.AddCommand(&cobra.Command{
		Use: "stats", Short: "Show the block store's size and contents", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.StoreStats(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(s)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "mimei:\t%d\n", s.MiMei)
			fmt.Fprintf(tw, "versions:\t%d\n", s.Versions)
			fmt.Fprintf(tw, "blocks:\t%d\n", s.Blocks)
			fmt.Fprintf(tw, "live:\t%s\n", fmtBytes(s.LiveBytes))
			fmt.Fprintf(tw, "overhead:\t%s\n", fmtBytes(s.OverheadBytes))
			fmt.Fprintf(tw, "dead:\t%s\n", fmtBytes(s.DeadBytes))
			fmt.Fprintf(tw, "on disk:\t%s in %s\n", fmtBytes(s.DiskBytes), quantity(s.Packs, "pack"))
			fmt.Fprintf(tw, "index:\t%s\n", fmtBytes(s.IndexBytes))
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:   "verify",
		Short: "Read and check every block; exit status 1 if any is bad or missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.StoreVerify(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if err := a.printJSON(r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "checked %s (%s)\n", quantity(r.Checked, "block"), fmtBytes(r.Bytes))
			}
			if r.OK {
				if !a.jsonOut {
					fmt.Fprintln(a.stdout, "ok")
				}
				return nil
			}
			var b strings.Builder
			fmt.Fprintf(&b, "the store is damaged: %s bad, %s missing", quantity(len(r.Problems), "block"), quantity(len(r.Missing), "block"))
			for _, p := range r.Problems {
				fmt.Fprintf(&b, "\n  %s  %s: %s", p.CID, p.Kind, p.Detail)
			}
			for _, m := range r.Missing {
				fmt.Fprintf(&b, "\n  %s  missing", m)
			}
			return fmt.Errorf("%s", b.String())
		},
	}, &cobra.Command{
		Use: "gc", Short: "Delete blocks that no kept version or live state needs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.StoreGC(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(r)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "live blocks:\t%d\n", r.Marked)
			fmt.Fprintf(tw, "swept:\t%s (%s)\n", quantity(r.Swept, "block"), fmtBytes(r.SweptBytes))
			fmt.Fprintf(tw, "version databases dropped:\t%d (%s)\n", r.VersionDBs, fmtBytes(r.VersionDBBytes))
			fmt.Fprintf(tw, "packs rewritten:\t%d\n", r.PacksRewritten)
			if r.PacksPunched > 0 {
				fmt.Fprintf(tw, "punched in place:\t%s in %s (too little room to rewrite them)\n", fmtBytes(r.BytesPunched), quantity(r.PacksPunched, "pack"))
			}
			fmt.Fprintf(tw, "freed:\t%s (disk %s → %s)\n", fmtBytes(r.BytesFreed), fmtBytes(r.DiskBefore), fmtBytes(r.DiskAfter))
			return tw.Flush()
		},
	})
	return cmd
}
