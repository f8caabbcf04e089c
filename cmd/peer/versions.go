package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

func (a *app) backupCmd() *cobra.Command {
	var memo string
	cmd := &cobra.Command{
		Use: "backup MIMEI", Short: "Freeze a MiMei's current state as a new version", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.Backup(ctx(), args[0], memo)
			if err != nil {
				return err
			}
			return a.printVersion(v, "version")
		},
	}
	cmd.Flags().StringVarP(&memo, "memo", "m", "", "a note to keep with the version")
	return cmd
}

func (a *app) printVersion(v apiv1.Version, what string) error {
	if a.jsonOut {
		return a.printJSON(v)
	}
	fmt.Fprintf(a.stdout, "%s %d\n", what, v.Number)
	return nil
}

func versionMarks(v apiv1.Version) string {
	var m []string
	if v.Last {
		m = append(m, "last")
	}
	if v.Release {
		m = append(m, "release")
	}
	if v.Pinned {
		m = append(m, "pinned")
	}
	return strings.Join(m, ",")
}

func (a *app) versionsCmd() *cobra.Command {
	var (
		rm    string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "versions MIMEI",
		Short: "List a MiMei's versions, or delete one with --rm",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if rm != "" {
				if err := c.DeleteVersion(ctx(), args[0], rm, force); err != nil {
					return err
				}
				if a.jsonOut {
					return a.printJSON(map[string]string{"deleted": rm})
				}
				fmt.Fprintf(a.stdout, "deleted version %s\n", rm)
				return nil
			}
			vs, err := c.Versions(ctx(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				if vs == nil {
					vs = []apiv1.Version{}
				}
				return a.printJSON(apiv1.VersionList{Versions: vs})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tTIME\tMARKS\tMEMO")
			for _, v := range vs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Number, fmtTime(v.Time), versionMarks(v), v.Memo)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&rm, "rm", "", "delete this version")
	cmd.Flags().BoolVar(&force, "force", false, "with --rm: delete it even if it is the release, pinned or referenced")
	return cmd
}

// versionActionCmd builds release, restore, pin and unpin: MIMEI VERSION in,
// a Version out.
func (a *app) versionActionCmd(use, short, done string, f func(c *apiclient.Client, mid, v string) (apiv1.Version, error)) *cobra.Command {
	return &cobra.Command{
		Use: use + " MIMEI VERSION", Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := f(c, args[0], args[1])
			if err != nil {
				return err
			}
			return a.printVersion(v, done)
		},
	}
}

func (a *app) versionActionCmds() []*cobra.Command {
	return []*cobra.Command{
		a.versionActionCmd("release", "Mark a version as the released one", "released version",
			func(c *apiclient.Client, mid, v string) (apiv1.Version, error) { return c.Release(ctx(), mid, v) }),
		a.versionActionCmd("restore", "Make a MiMei's current state a copy of a version", "restored version",
			func(c *apiclient.Client, mid, v string) (apiv1.Version, error) { return c.Restore(ctx(), mid, v) }),
		a.versionActionCmd("pin", "Keep a version whatever the retention says", "pinned version",
			func(c *apiclient.Client, mid, v string) (apiv1.Version, error) { return c.Pin(ctx(), mid, v) }),
		a.versionActionCmd("unpin", "Drop a version's pin", "unpinned version",
			func(c *apiclient.Client, mid, v string) (apiv1.Version, error) { return c.Unpin(ctx(), mid, v) }),
	}
}

func (a *app) diffCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "diff MIMEI FROM [TO]",
		Short: "Show what changed between two versions (TO defaults to cur)",
		Long: `Show the files and database keys that differ between two versions: "+" added,
"-" removed, "~" changed; directories end in "/". FROM and TO are cur, last,
release or a version number; TO defaults to cur. At most --limit files and
--limit keys are listed, then "… and N more".`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			to := ""
			if len(args) == 3 {
				to = args[2]
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.Diff(ctx(), args[0], args[1], to, limit)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(d)
			}
			if d.FileCount == 0 && d.KeyCount == 0 && len(d.Files) == 0 && len(d.Keys) == 0 {
				fmt.Fprintf(a.stdout, "no changes from %s to %s\n", d.From, d.To)
				return nil
			}
			for _, f := range d.Files {
				name := f.Path
				if f.Dir {
					name += "/"
				}
				fmt.Fprintf(a.stdout, "%s %s\n", opMark(f.Op), shownName(name))
			}
			a.diffMore(d.FilesTruncated, d.FileCount-len(d.Files), "file")
			if len(d.Keys) > 0 || d.KeyCount > 0 {
				fmt.Fprintln(a.stdout, "keys:")
				for _, k := range d.Keys {
					fmt.Fprintf(a.stdout, "%s %s\n", opMark(k.Op), shownName(k.Key))
				}
				a.diffMore(d.KeysTruncated, d.KeyCount-len(d.Keys), "key")
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("most files and most keys to list (default %d, at most %d)", apiv1.DiffDefaultLimit, apiv1.DiffMaxLimit))
	return cmd
}

// diffMore prints the line that ends a truncated list of a diff.
func (a *app) diffMore(truncated bool, n int, what string) {
	if !truncated || n <= 0 {
		return
	}
	what += " change"
	if n != 1 {
		what += "s"
	}
	fmt.Fprintf(a.stdout, "… and %d more %s\n", n, what)
}

func opMark(op string) string {
	switch op {
	case "added":
		return "+"
	case "removed":
		return "-"
	case "changed":
		return "~"
	}
	return "?"
}

func (a *app) forkCmd() *cobra.Command {
	var req apiv1.Fork
	cmd := &cobra.Command{
		Use: "fork MIMEI", Short: "Make a new MiMei from a version of this one and print its ID", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.Fork(ctx(), args[0], req)
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
	f.StringVar(&req.Version, "version", "", "version to fork (default: last, else cur)")
	f.StringVar(&req.Mark, "mark", "", `mark of the new MiMei (default "auto")`)
	f.StringVar(&req.AppType, "type", "", "application type of the new MiMei (default: the source's)")
	f.StringVar(&req.Ext, "ext", "", "extension of the new MiMei's type")
	f.StringVar(&req.Persona, "persona", "", "author of the new MiMei (default: the default persona)")
	return cmd
}

func (a *app) refCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ref",
		Short: "Count references between MiMei (a referenced MiMei or version is kept)",
	}
	refAction := func(use, short string, drop bool) *cobra.Command {
		var version string
		c := &cobra.Command{
			Use: use + " FROM TO", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				ref := apiv1.Ref{To: args[1]}
				if version != "" {
					n, err := strconv.ParseUint(version, 10, 64)
					if err != nil {
						return fmt.Errorf("--version must be a version number, not %q", version)
					}
					ref.Version = &n
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				var rc apiv1.RefCount
				if drop {
					rc, err = c.DropRef(ctx(), args[0], ref)
				} else {
					rc, err = c.AddRef(ctx(), args[0], ref)
				}
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.printJSON(rc)
				}
				fmt.Fprintf(a.stdout, "%s -> %s: %d\n", rc.From, refTarget(rc), rc.Count)
				return nil
			},
		}
		c.Flags().StringVar(&version, "version", "", "reference one version of TO (a number) rather than the whole MiMei")
		return c
	}
	cmd.AddCommand(refAction("add", "Add a reference from FROM to TO", false),
		refAction("rm", "Drop a reference from FROM to TO", true),
		&cobra.Command{
			Use: "ls MIMEI", Short: "List a MiMei's outgoing and incoming references", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := a.client()
				if err != nil {
					return err
				}
				r, err := c.Refs(ctx(), args[0])
				if err != nil {
					return err
				}
				if a.jsonOut {
					return a.printJSON(r)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "FROM\tTO\tCOUNT")
				for _, rc := range append(r.Out, r.In...) {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", rc.From, refTarget(rc), rc.Count)
				}
				return tw.Flush()
			},
		})
	return cmd
}

func refTarget(rc apiv1.RefCount) string {
	if rc.Version != nil {
		return fmt.Sprintf("%s@%d", rc.To, *rc.Version)
	}
	return rc.To
}
