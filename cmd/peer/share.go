package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

// shareCmds are the commands of the sharing side: who may fetch our MiMei,
// what others shared with us, subscriptions and fetches, the access log,
// the cache of public MiMei and the branches kept after conflicts.
func (a *app) shareCmds() []*cobra.Command {
	return []*cobra.Command{a.shareCmd(), a.unshareCmd(), a.sharesCmd(), a.sharedCmd(), a.subscribeCmd(),
		a.unsubscribeCmd(), a.subscriptionsCmd(), a.fetchCmd(), a.accessCmd(), a.cacheCmd(), a.branchesCmd()}
}

// withClient runs f with a client of the running node.
func (a *app) withClient(f func(c *apiclient.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		return f(c, args)
	}
}

func (a *app) shareCmd() *cobra.Command {
	var write, public bool
	cmd := &cobra.Command{
		Use:   "share MIMEI (CONTACT [--write] | --public)",
		Short: "Let a contact fetch (or also write) a MiMei of yours, or make it public",
		Long: `Share gives CONTACT (a contact's name or did:key) the key to read MIMEI and
offers it to them: they see it in "peer shared" and fetch it with "peer
subscribe". With --write they may also push new versions. With --public
anyone who knows the MiMei's ID may fetch it, unsealed. Only the owner
shares; what follows is who may fetch it now.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			req := apiv1.ShareRequest{Write: write, Public: public}
			switch {
			case public && len(args) == 2:
				return errors.New("give either a contact or --public, not both")
			case public && write:
				return errors.New("--write needs a contact: write access is never public")
			case !public && len(args) == 1:
				return errors.New("give the contact to share with, or --public")
			case !public:
				req.With = args[1]
			}
			sh, err := c.Share(ctx(), args[0], req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(sh)
			}
			switch {
			case public:
				fmt.Fprintf(a.stdout, "%s is public: anyone may fetch it\n", sh.MiMei)
			case write:
				fmt.Fprintf(a.stdout, "%s may now fetch and write %s\n", who(sh, req.With), sh.MiMei)
			default:
				fmt.Fprintf(a.stdout, "%s may now fetch %s\n", who(sh, req.With), sh.MiMei)
			}
			a.printSharing(sh)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&write, "write", false, "they may also push new versions")
	cmd.Flags().BoolVar(&public, "public", false, "anyone may fetch it (no contact)")
	return cmd
}

// who names the contact ref as the answer does: "carol (did:key:…)".
func who(sh apiv1.Sharing, ref string) string {
	for _, l := range [][]apiv1.Sharee{sh.Writers, sh.Readers} {
		for _, s := range l {
			if s.Name == ref || s.Persona == ref {
				return sharee(s)
			}
		}
	}
	return ref
}

func sharee(s apiv1.Sharee) string {
	if s.Name == "" {
		return s.Persona
	}
	return s.Name + " (" + s.Persona + ")"
}

func (a *app) printSharing(sh apiv1.Sharing) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mimei:\t%s\n", sh.MiMei)
	fmt.Fprintf(tw, "owner:\t%s\n", sh.Owner)
	fmt.Fprintf(tw, "public:\t%s\n", yesNo(sh.Public))
	list := func(label string, l []apiv1.Sharee) {
		if len(l) == 0 {
			fmt.Fprintf(tw, "%s:\t-\n", label)
		}
		for i, s := range l {
			if i == 0 {
				fmt.Fprintf(tw, "%s:\t%s\n", label, sharee(s))
			} else {
				fmt.Fprintf(tw, "\t%s\n", sharee(s))
			}
		}
	}
	list("readers", sh.Readers)
	list("writers", sh.Writers)
	epoch := "-"
	if sh.Epoch > 0 {
		epoch = fmt.Sprint(sh.Epoch)
	}
	fmt.Fprintf(tw, "key epoch:\t%s\n", epoch)
	fmt.Fprintf(tw, "subscribers:\t%d\n", sh.Subscribers)
	fmt.Fprintf(tw, "published:\t%s\n", quantity(sh.Published, "version"))
	tw.Flush()
}

func (a *app) unshareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unshare MIMEI CONTACT",
		Short: "Take a contact's access to a MiMei away (the key is rotated)",
		Long: `Unshare removes CONTACT (a contact's name or did:key) from the readers and
writers of MIMEI and rotates its content key: versions made from now on are
sealed with a key they cannot open. What they already fetched stays theirs:
nobody can take back a copy. A public MiMei stays public: make it private
with "peer mimei set MIMEI --private" if that is what you want.`,
		Args: cobra.ExactArgs(2),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			sh, err := c.Unshare(ctx(), args[0], args[1])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(sh)
			}
			if sh.Public {
				fmt.Fprintf(a.stdout, "removed %s from %s; it is public, so anyone may still fetch it\n", args[1], sh.MiMei)
			} else {
				fmt.Fprintf(a.stdout, "removed %s from %s and rotated its key (epoch %d): new versions are sealed against them;\n"+
					"what they already fetched stays theirs\n", args[1], sh.MiMei, sh.Epoch)
			}
			a.printSharing(sh)
			return nil
		}),
	}
}

func (a *app) sharesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "shares MIMEI",
		Short: "Show who may fetch a MiMei of yours: readers, writers, public, subscribers",
		Args:  cobra.ExactArgs(1),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			sh, err := c.Sharing(ctx(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(sh)
			}
			a.printSharing(sh)
			return nil
		}),
	}
}

func (a *app) sharedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "shared",
		Short: "List the MiMei others shared with you",
		Long: `Shared lists what contacts offered you: the MiMei, who from, its app type,
whether you may write it, whether you subscribed and how many versions are
here. Fetch one with "peer subscribe MIMEI" (and keep it up to date) or
"peer fetch MIMEI".`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			l, err := c.SharedWithMe(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(nonNil(l))
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "nothing is shared with you")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MIMEI\tFROM\tTYPE\tWRITE\tSUBSCRIBED\tVERSIONS")
			revoked := 0
			for _, in := range l {
				from := in.FromName
				if from == "" {
					from = in.From
				}
				typ := in.AppType
				if in.Ext != "" {
					typ += "." + in.Ext
				}
				sub := yesNo(in.Subscribed)
				if in.Revoked != nil {
					sub, revoked = "revoked", revoked+1
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", in.MiMei, from, orDash(typ), yesNo(in.Write), sub, in.Versions)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if revoked > 0 {
				fmt.Fprintf(a.stdout, "%s: the owner stopped sharing; what was fetched stays, nothing new comes\n", fmt.Sprintf("%d revoked", revoked))
			}
			return nil
		}),
	}
}

func (a *app) subscribeCmd() *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "subscribe MIMEI [--owner DID]",
		Short: "Fetch a MiMei shared with you and keep it up to date",
		Long: `Subscribe fetches the versions of MIMEI not here yet, showing the progress,
and asks its owner's devices to tell this node of new versions, which are
then fetched as they come. --owner (a did:key or contact) is needed only
when no offer named the owner, as for a public MiMei. Each version received
is listed at the end.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			stop := a.watchFetch(c, args[0])
			res, err := c.Subscribe(ctx(), args[0], owner)
			stop()
			if err != nil {
				return err
			}
			if !a.jsonOut {
				fmt.Fprintf(a.stdout, "subscribed to %s\n", res.MiMei)
			}
			return a.printFetched(res)
		}),
	}
	cmd.Flags().StringVar(&owner, "owner", "", "the MiMei's owner (did:key or contact), if no offer named it")
	return cmd
}

// printFetched lists the versions a subscribe or fetch received.
func (a *app) printFetched(res apiv1.FetchResult) error {
	if a.jsonOut {
		res.Versions = nonNil(res.Versions)
		return a.printJSON(res)
	}
	if len(res.Versions) == 0 {
		fmt.Fprintln(a.stdout, "no new versions")
		return nil
	}
	for _, v := range res.Versions {
		line := fetchedLine(v)
		if v.Conflict != "" {
			line += "; conflict: " + v.Conflict + ` (see "peer branches ` + res.MiMei + `")`
		}
		if v.Diverged != "" {
			line += "; diverged: " + v.Diverged + ` (see "peer branches ` + res.MiMei + `")`
		}
		fmt.Fprintln(a.stdout, line)
	}
	return nil
}

// fetchedLine says what a version's fetch brought, with counts that add up:
// "version 3: 3599 blocks (27.3 MiB) and 4 manifest blocks: 3603 fetched,
// none already here". The node counts the manifest blocks (the version's
// list of blocks) among those fetched and already here but not among the
// version's blocks; the difference is said as such.
func fetchedLine(v apiv1.Fetched) string {
	s := fmt.Sprintf("version %d: %s (%s)", v.Version, quantity(v.Blocks, "block"), fmtBytes(int64(v.Bytes)))
	got := uint64(max(v.Fetched, 0)) + uint64(max(v.Skipped, 0))
	if got > v.Blocks {
		s += " and " + quantity(got-v.Blocks, "manifest block")
	}
	here := "none"
	if v.Skipped > 0 {
		here = fmt.Sprint(v.Skipped)
	}
	return fmt.Sprintf("%s: %d fetched, %s already here", s, v.Fetched, here)
}

func (a *app) unsubscribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unsubscribe MIMEI",
		Short: "Stop keeping a MiMei up to date (what was fetched stays)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			if err := c.Unsubscribe(ctx(), args[0]); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"unsubscribed": args[0]})
			}
			fmt.Fprintf(a.stdout, "unsubscribed from %s; the versions fetched stay\n", args[0])
			return nil
		}),
	}
}

func (a *app) subscriptionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "subscriptions",
		Short: "List the MiMei kept up to date: owner, since, last check, newest version here",
		Args:  cobra.NoArgs,
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			l, err := c.Subscriptions(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(nonNil(l))
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "no subscriptions")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MIMEI\tOWNER\tSINCE\tCHECKED\tNEWEST\tERROR")
			for _, s := range l {
				newest := "-"
				if s.Have > 0 {
					newest = fmt.Sprint(s.Have - 1)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.MiMei, s.Owner, fmtTime(s.Since), fmtTime(s.Checked), newest, orDash(s.Error))
			}
			return tw.Flush()
		}),
	}
}

func (a *app) fetchCmd() *cobra.Command {
	var (
		version uint64
		owner   string
	)
	cmd := &cobra.Command{
		Use:   "fetch MIMEI [--version N] [--owner DID]",
		Short: "Fetch a MiMei shared with you, or a public one, once",
		Long: `Fetch brings the published versions of MIMEI not here yet (or only version
N with --version) from its owner's devices or other holders, showing the
progress, without subscribing. --owner (a did:key or contact) is needed
only when no offer named the owner, as for a public MiMei. Each version
received is listed at the end.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			req := apiv1.FetchRequest{Owner: owner}
			if cmd.Flags().Changed("version") {
				req.Version = &version
			}
			stop := a.watchFetch(c, args[0])
			res, err := c.Fetch(ctx(), args[0], req)
			stop()
			if err != nil {
				return err
			}
			return a.printFetched(res)
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "fetch only this version")
	cmd.Flags().StringVar(&owner, "owner", "", "the MiMei's owner (did:key or contact), if no offer named it")
	return cmd
}

func (a *app) accessCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "access MIMEI [--limit N]",
		Short: "Show who fetched which version of a MiMei of yours",
		Long: `Access lists the latest fetches of MIMEI's versions that this node served,
oldest first: when, which version, who (a contact's name, else the persona;
"-" for a stranger fetching a public MiMei) and from which peer.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit %d: give 1 to 10000", limit)
			}
			l, err := c.AccessLog(ctx(), args[0], limit)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(nonNil(l))
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "nobody fetched it yet")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tVERSION\tWHO\tPEER")
			for _, e := range l {
				who := e.Name
				if who == "" {
					who = e.Persona
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", fmtTime(e.Time), e.Version, orDash(who), e.Peer)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "show the latest this many entries (1 to 10000)")
	return cmd
}

func (a *app) cacheCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cache",
		Short: "List the public MiMei this node keeps as a cache",
		Long: `Cache lists the public MiMei fetched without a subscription, which this
node keeps and serves to others while there is room (share.cache_mb); the
least recently used go first.`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			l, err := c.Cache(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(nonNil(l))
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "the cache is empty")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MIMEI\tSIZE\tLAST USE")
			for _, e := range l {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.MiMei, fmtBytes(e.Bytes), fmtTime(e.LastUse))
			}
			return tw.Flush()
		}),
	}
}

func (a *app) branchesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "branches MIMEI",
		Short: "List the versions of a MiMei kept beside its main line after conflicts",
		Long: `When two writers made versions from the same one, the version that lost
is not thrown away: it is kept as a branch (kind "conflict"). Branches lists
them with their author and memo; look inside one with "peer ls MIMEI
--version N".

A version that arrived from another of your devices (or a writer) while cur
had changes made here is kept too, and so is cur (kind "diverged", with the
version cur was based on): compare them with "peer diff MIMEI cur N", bring
over what you want, then back up; or take the version with "peer restore
MIMEI N". A restore ends the listing.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withClient(func(c *apiclient.Client, args []string) error {
			l, err := c.Branches(ctx(), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(nonNil(l))
			}
			if len(l) == 0 {
				fmt.Fprintln(a.stdout, "no branches")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tKIND\tAUTHOR\tRECORD\tMEMO")
			for _, b := range l {
				memo := b.Memo
				if b.Kind == "diverged" {
					base := "no version"
					if b.Base != nil {
						base = fmt.Sprintf("version %d", *b.Base)
					}
					memo = fmt.Sprintf("not in cur (cur had changes since %s) %s", base, memo)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", b.Version, orDash(b.Kind), orDash(b.Author), b.Record, strings.TrimSpace(memo))
			}
			return tw.Flush()
		}),
	}
}

// nonNil makes empty lists print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// watchFetch shows the progress of fetching mid, read from the event
// stream, on standard error while a subscribe or fetch runs, if that is a
// terminal and --json is off. The returned stop ends it.
func (a *app) watchFetch(c *apiclient.Client, mid string) (stop func()) {
	if !a.progressShown() {
		return func() {}
	}
	return watchFetchTo(c, mid, a.stderr)
}

// watchFetchTo draws the progress of fetching mid to w: one line redrawn
// for the version under way, cleared when it is in; a version that failed
// is said on a line of its own. Without an event stream it draws nothing:
// the fetch goes on all the same.
func watchFetchTo(c *apiclient.Client, mid string, w io.Writer) (stop func()) {
	ectx, cancel := context.WithCancel(context.Background())
	ch, err := c.Events(ectx, 0, "share.progress", "share.received", "share.failed")
	if err != nil {
		cancel()
		return func() {}
	}
	l := &liveLine{w: w}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			var d shareEvent
			if json.Unmarshal(ev.Data, &d) != nil || d.MiMei != mid {
				continue
			}
			switch ev.Type {
			case "share.progress":
				l.draw(d.progress())
			case "share.received":
				l.clear()
			case "share.failed":
				l.println(fmt.Sprintf("version %d failed: %s", d.Version, d.Error))
			}
		}
	}()
	return func() {
		cancel()
		<-done
		l.clear()
	}
}

// shareEvent is the data of the share.progress, share.received and
// share.failed events.
type shareEvent struct {
	MiMei      string `json:"mimei"`
	Version    uint64 `json:"version"`
	Done       uint64 `json:"done"`
	Known      uint64 `json:"known"`
	Total      uint64 `json:"total"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes"`
	Error      string `json:"error"`
}

// progress renders a share.progress event, e.g.
// "version 3  12/40 blocks  1.2 MiB / 4.0 MiB  30%". Total and TotalBytes
// are the version's blocks and bytes; Done and Bytes may also count the
// manifest blocks fetched on the way, so they are shown clamped to the
// totals: never more done than there is, never past 100%. Known (blocks
// discovered so far) stands in for an unknown Total.
func (d shareEvent) progress() string {
	total := d.Total
	if total == 0 {
		total = d.Known
	}
	s := fmt.Sprintf("version %d  %d/%d blocks  ", d.Version, min(d.Done, total), total)
	if d.TotalBytes <= 0 {
		return s + fmtBytes(d.Bytes)
	}
	done := min(max(d.Bytes, 0), d.TotalBytes)
	return s + fmt.Sprintf("%s / %s  %3d%%", fmtBytes(done), fmtBytes(d.TotalBytes), done*100/d.TotalBytes)
}

// liveLine is one line of a terminal redrawn in place.
type liveLine struct {
	mu    sync.Mutex
	w     io.Writer
	width int // length of the line drawn; 0: none
}

func (l *liveLine) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pad := ""
	if n := l.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(l.w, "\r%s%s", s, pad)
	l.width = len(s)
}

// clear blanks the line drawn, if any.
func (l *liveLine) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.width > 0 {
		fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", l.width))
		l.width = 0
	}
}

// println replaces the line drawn with s, kept.
func (l *liveLine) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pad := ""
	if n := l.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(l.w, "\r%s%s\n", s, pad)
	l.width = 0
}
