package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

func (a *app) mimeiCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mimei",
		Short: "Create, list, describe, change and delete MiMei (versioned objects)",
		Long: `A MiMei is a versioned object of this node: a file space and a Redis-like
database, frozen into versions with "peer backup". Its ID is what the other
commands (put, get, ls, db, versions, …) take as MIMEI.`,
	}
	cmd.AddCommand(a.mimeiCreateCmd(), a.mimeiListCmd(), a.mimeiInfoCmd(), a.mimeiRmCmd(), a.mimeiSetCmd())
	return cmd
}

func (a *app) mimeiCreateCmd() *cobra.Command {
	var (
		req              apiv1.CreateMiMei
		public           bool
		readers, writers []string
	)
	cmd := &cobra.Command{
		Use:   "create --type TYPE",
		Short: "Create a MiMei and print its ID",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if public || len(readers) > 0 || len(writers) > 0 {
				req.Rights = &apiv1.Rights{Public: public, Readers: readers, Writers: writers}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.CreateMiMei(ctx(), req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(m)
			}
			fmt.Fprintln(a.stdout, m.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.AppType, "type", "", "application type, e.g. notes or photos (required)")
	f.StringVar(&req.Ext, "ext", "", "extension of the type, e.g. a format")
	f.StringVar(&req.Mark, "mark", "", `mark that, with author and type, makes the ID (default "auto": a fresh ID)`)
	f.StringVar(&req.Persona, "persona", "", "author persona: ID, name or index (default: the default persona)")
	f.BoolVar(&public, "public", false, "anyone may read it")
	f.StringArrayVar(&readers, "reader", nil, "persona (did:key) that may read it (repeatable)")
	f.StringArrayVar(&writers, "writer", nil, "persona (did:key) that may write it (repeatable)")
	f.IntVar(&req.Keep, "keep", 0, "versions to keep (0: all)")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

func (a *app) mimeiListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List the MiMei of this node", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.ListMiMei(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if l == nil {
					l = []apiv1.MiMei{}
				}
				return a.printJSON(apiv1.MiMeiList{MiMei: l})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tFILES\tSIZE\tKEYS\tVERSIONS\tMODIFIED")
			received := false
			for _, m := range l {
				typ := m.AppType
				if m.Ext != "" {
					typ += "." + m.Ext
				}
				files := strconv.FormatInt(m.Files, 10)
				if m.Shows != nil {
					files, received = files+"*", true
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", m.ID, typ, files, fmtBytes(m.Bytes), m.Keys, m.Versions, fmtTime(m.Modified))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if received {
				fmt.Fprintln(a.stdout, "* received; no local working copy: the figures are those of the newest version")
			}
			return nil
		},
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func (a *app) mimeiInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use: "info MIMEI", Short: "Describe a MiMei", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.GetMiMei(ctx(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(m)
			}
			a.printMiMei(m)
			return nil
		},
	}
}

func (a *app) printMiMei(m apiv1.MiMei) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", m.ID)
	fmt.Fprintf(tw, "type:\t%s\n", m.AppType)
	if m.Ext != "" {
		fmt.Fprintf(tw, "ext:\t%s\n", m.Ext)
	}
	fmt.Fprintf(tw, "mark:\t%s\n", m.Mark)
	fmt.Fprintf(tw, "author:\t%s\n", m.Author)
	fmt.Fprintf(tw, "created:\t%s\n", fmtTime(m.Created))
	fmt.Fprintf(tw, "modified:\t%s\n", fmtTime(m.Modified))
	fmt.Fprintf(tw, "public:\t%v\n", m.Rights.Public)
	if len(m.Rights.Readers) > 0 {
		fmt.Fprintf(tw, "readers:\t%s\n", strings.Join(m.Rights.Readers, ", "))
	}
	if len(m.Rights.Writers) > 0 {
		fmt.Fprintf(tw, "writers:\t%s\n", strings.Join(m.Rights.Writers, ", "))
	}
	of := ""
	if m.Shows != nil {
		of = fmt.Sprintf(" in version %d (received; no local working copy)", *m.Shows)
	}
	fmt.Fprintf(tw, "files:\t%d (%s)%s\n", m.Files, fmtBytes(m.Bytes), of)
	fmt.Fprintf(tw, "keys:\t%d%s\n", m.Keys, of)
	if m.Base != nil {
		fmt.Fprintf(tw, "cur based on:\tversion %d\n", *m.Base)
	}
	if m.Diverged == 1 {
		fmt.Fprintf(tw, "diverged:\t1 version arrived and is not in cur, which has changes of its own (peer branches %s)\n", m.ID)
	} else if m.Diverged > 1 {
		fmt.Fprintf(tw, "diverged:\t%d versions arrived and are not in cur, which has changes of its own (peer branches %s)\n", m.Diverged, m.ID)
	}
	keep := "all"
	if m.Keep > 0 {
		keep = fmt.Sprintf("last %d", m.Keep)
	}
	fmt.Fprintf(tw, "versions:\t%d (keep %s)\n", m.Versions, keep)
	if m.Last != nil {
		fmt.Fprintf(tw, "last:\t%d\n", *m.Last)
	}
	if m.Release != nil {
		fmt.Fprintf(tw, "release:\t%d\n", *m.Release)
	}
	fmt.Fprintf(tw, "pins:\t%d\n", m.Pins)
	fmt.Fprintf(tw, "references in:\t%d\n", m.RefsIn)
	if m.Origin != nil {
		fmt.Fprintf(tw, "forked from:\t%s version %d\n", m.Origin.MiMei, m.Origin.Version)
	}
	tw.Flush()
}

func (a *app) mimeiRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "rm MIMEI", Short: "Delete a MiMei and all its versions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return c.DeleteMiMei(ctx(), args[0], force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete it even if other MiMei reference it or versions are pinned")
	return cmd
}

func (a *app) mimeiSetCmd() *cobra.Command {
	var (
		keep             int
		public, private  bool
		readers, writers []string
	)
	cmd := &cobra.Command{
		Use:   "set MIMEI",
		Short: "Change a MiMei's retention or rights",
		Long: `Change a MiMei's retention (--keep) or rights. --reader and --writer
replace the lists they name (give --reader "" to empty it); rights not
mentioned are kept.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if public && private {
				return errors.New("give --public or --private, not both")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var req apiv1.UpdateMiMei
			if fl.Changed("keep") {
				req.Keep = &keep
			}
			if public || private || fl.Changed("reader") || fl.Changed("writer") {
				m, err := c.GetMiMei(ctx(), args[0])
				if err != nil {
					return err
				}
				r := m.Rights
				if public || private {
					r.Public = public
				}
				if fl.Changed("reader") {
					r.Readers = nonEmpty(readers)
				}
				if fl.Changed("writer") {
					r.Writers = nonEmpty(writers)
				}
				req.Rights = &r
			}
			if req.Keep == nil && req.Rights == nil {
				return errors.New("nothing to change: give --keep, --public, --private, --reader or --writer")
			}
			m, err := c.UpdateMiMei(ctx(), args[0], req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(m)
			}
			a.printMiMei(m)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&keep, "keep", 0, "versions to keep (0: all)")
	f.BoolVar(&public, "public", false, "anyone may read it")
	f.BoolVar(&private, "private", false, "only the owner, readers and writers may read it")
	f.StringArrayVar(&readers, "reader", nil, "persona that may read it (repeatable; replaces the list)")
	f.StringArrayVar(&writers, "writer", nil, "persona that may write it (repeatable; replaces the list)")
	return cmd
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
