package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"
)

// netCmds are the commands of the peer-to-peer side: status, connections,
// invites, contacts and blocks.
func (a *app) netCmds() []*cobra.Command {
	return []*cobra.Command{a.netCmd(), a.peersCmd(), a.pingCmd(), a.connectCmd(), a.inviteCmd(), a.acceptCmd(),
		a.contactsCmd(), a.blockCmd(), a.unblockCmd(), a.blockedCmd()}
}

func (a *app) netCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "net",
		Short: "Show how this node stands on the network: reachability, NAT, DHT, addresses, relays, connections",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.Net(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(st)
			}
			a.printNet(st)
			return nil
		},
	}
}

func (a *app) printNet(st apiv1.NetStatus) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	if !st.Enabled {
		fmt.Fprintln(tw, "network:\toff")
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "peer id:\t%s\n", st.PeerID)
	fmt.Fprintf(tw, "reachability:\t%s\n", st.Reachability)
	fmt.Fprintf(tw, "nat:\t%s\n", st.NATType)
	fmt.Fprintf(tw, "dht:\t%s mode, %s in the routing table\n", orDash(st.DHTMode), quantity(st.RoutingTable, "peer"))
	list := func(label string, l []string) {
		if len(l) == 0 {
			fmt.Fprintf(tw, "%s:\t-\n", label)
		}
		for i, s := range l {
			if i > 0 {
				label = ""
			} else {
				label += ":"
			}
			fmt.Fprintf(tw, "%s\t%s\n", label, s)
		}
	}
	list("listening on", st.ListenAddrs)
	list("advertised", st.Addrs)
	list("relays", st.Relays)
	if st.Index {
		fmt.Fprintf(tw, "index:\tserving, %s\n", quantity(st.IndexEntries, "entry"))
	} else {
		fmt.Fprintln(tw, "index:\tnot serving")
	}
	list("index peers", st.Indexes)
	pub := fmtTime(st.Published)
	if st.PublishError != "" {
		pub += " (last attempt failed: " + st.PublishError + ")"
	}
	fmt.Fprintf(tw, "published:\t%s\n", pub)
	fmt.Fprintf(tw, "connections:\t%d direct, %d relayed\n", st.Direct, st.RelayedConns)
	hp := fmt.Sprintf("%d succeeded, %d failed", st.HolePunch.Succeeded, st.HolePunch.Failed)
	if st.HolePunch.LastError != "" {
		hp += " (last: " + st.HolePunch.LastError + ")"
	}
	fmt.Fprintf(tw, "hole punching:\t%s\n", hp)
	tw.Flush()
	if len(st.Conns) > 0 {
		fmt.Fprintln(a.stdout)
		a.printConns(st.Conns)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printConns prints connections as a table.
func (a *app) printConns(cs []apiv1.Conn) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tNAME\tADDR\tDIRECTION\tPATH\tTRANSPORT\tAGE")
	for _, c := range cs {
		name := c.Name
		if name == "" {
			name = c.Persona
		}
		path := "direct"
		if c.Relayed {
			path = "relayed"
		}
		age := "-"
		if !c.Opened.IsZero() {
			age = fmtDur(max(time.Since(c.Opened).Seconds(), 0))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.PeerID, orDash(name), c.Addr, c.Direction, path, orDash(c.Transport), age)
	}
	tw.Flush()
}

func (a *app) peersCmd() *cobra.Command {
	return &cobra.Command{
		Use: "peers", Short: "List open connections to other peers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			cs, err := c.Peers(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if cs == nil {
					cs = []apiv1.Conn{}
				}
				return a.printJSON(cs)
			}
			if len(cs) == 0 {
				fmt.Fprintln(a.stdout, "no connections")
				return nil
			}
			a.printConns(cs)
			return nil
		},
	}
}

// via says how a connection runs and where the persona was found.
func via(relayed bool, source string) string {
	s := "direct"
	if relayed {
		s = "relayed"
	}
	if source != "" {
		s += ", found in " + source
	}
	return s
}

// finalPingError is whether a failed ping makes pinging again pointless.
func finalPingError(err error) bool {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case apiv1.CodeBadRequest, apiv1.CodeNetworkOff, apiv1.CodeBlocked, apiv1.CodeUnauthorized:
		return true
	}
	return false
}

func (a *app) pingCmd() *cobra.Command {
	var (
		count    int
		interval time.Duration
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "ping TARGET",
		Short: "Measure round trips to a persona, contact, peer ID or multiaddr",
		Long: `Ping finds TARGET (a persona did:key, a contact's name, a peer ID or a
multiaddr ending in /p2p/<peer ID>), connects to it if need be and measures
round trips, printing each one's time and whether it went direct or through
a relay. The exit status is 1 if no ping got an answer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 {
				return errors.New("-c must be 1 or more")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			target := args[0]
			if !a.jsonOut {
				fmt.Fprintf(a.stdout, "PING %s\n", target)
			}
			results := []apiv1.PingResult{}
			var lastErr error
			var sum, lo, hi float64
			sent := 0
			for i := range count {
				if i > 0 && interval > 0 {
					time.Sleep(interval)
				}
				sent++
				pctx, cancel := context.WithTimeout(ctx(), timeout)
				r, err := c.Ping(pctx, target)
				cancel()
				if err != nil {
					lastErr = err
					if !a.jsonOut {
						fmt.Fprintf(a.stdout, "ping %d: %v\n", i+1, err)
					}
					if finalPingError(err) {
						break
					}
					continue
				}
				results = append(results, r)
				if len(results) == 1 || r.RTTMs < lo {
					lo = r.RTTMs
				}
				hi = max(hi, r.RTTMs)
				sum += r.RTTMs
				if !a.jsonOut {
					fmt.Fprintf(a.stdout, "reply from %s: seq=%d time=%.1f ms (%s)\n", r.PeerID, i+1, r.RTTMs, via(r.Relayed, r.Source))
				}
			}
			if a.jsonOut {
				if err := a.printJSON(results); err != nil {
					return err
				}
			} else {
				n := len(results)
				fmt.Fprintf(a.stdout, "--- %s ping statistics ---\n", target)
				fmt.Fprintf(a.stdout, "%s sent, %d answered, %.0f%% lost\n", quantity(sent, "ping"), n, 100*float64(sent-n)/float64(sent))
				if n > 0 {
					fmt.Fprintf(a.stdout, "rtt min/avg/max = %.1f/%.1f/%.1f ms\n", lo, sum/float64(n), hi)
				}
			}
			if len(results) == 0 {
				return fmt.Errorf("no answer from %s: %w", target, lastErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&count, "count", "c", 3, "pings to send")
	f.DurationVarP(&interval, "interval", "i", time.Second, "wait between pings")
	f.DurationVarP(&timeout, "timeout", "W", 30*time.Second, "give up on one ping (lookup and connection included) after this long")
	return cmd
}

func (a *app) connectCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "connect TARGET",
		Short: "Find a persona, contact, peer ID or multiaddr and open a connection to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx(), timeout)
			defer cancel()
			r, err := c.Connect(cctx, args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(r)
			}
			who := r.PeerID
			if r.Persona != "" {
				who += " (" + r.Persona + ")"
			}
			fmt.Fprintf(a.stdout, "connected to %s, %s\n", who, via(r.Relayed, r.Source))
			return nil
		},
	}
	cmd.Flags().DurationVarP(&timeout, "timeout", "W", time.Minute, "give up after this long")
	return cmd
}

// parseTTL reads a Go duration ("36h", "90m") or a number of days ("7d").
func parseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--ttl %q: give a duration such as 24h, 90m or 7d", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	t, err := time.ParseDuration(s)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("--ttl %q: give a duration such as 24h, 90m or 7d", s)
	}
	return t, nil
}

func (a *app) inviteCmd() *cobra.Command {
	var (
		ttl, name string
		noQR      bool
	)
	cmd := &cobra.Command{
		Use:   "invite [NAME]",
		Short: "Make an invite link (and QR code) that makes its one user and you contacts",
		Long: `Invite makes a link to give to one person, by any channel you trust; it
is printed with a QR code of it to scan from a phone. Whoever accepts it
("peer accept LINK") and you become each other's contacts. It works once
and until it expires (--ttl, at most 30 days).

NAME is what you will call them here (peer invite alice); without it they
get the name they suggest, or contact-<6 characters> if that is "default"
or taken.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseTTL(ttl)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			req := apiv1.CreateInvite{TTLSeconds: int64(d / time.Second), Name: name}
			if len(args) == 1 {
				req.ContactName = args[0]
			}
			inv, err := c.Invite(ctx(), req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(inv)
			}
			fmt.Fprintln(a.stdout, inv.Link)
			if !noQR {
				if err := writeQR(a.stdout, inv.Link); err != nil {
					return err
				}
			}
			left := ""
			if d := time.Until(inv.Expires); d > 0 {
				left = " (in " + fmtDur(d.Seconds()) + ")"
			}
			fmt.Fprintf(a.stdout, "expires %s%s; invite %s\n", fmtTime(inv.Expires), left, inv.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ttl, "ttl", "24h", "how long the invite stays valid (e.g. 24h, 90m, 7d; at most 30d)")
	f.StringVar(&name, "name", "", "the name you suggest the invitee calls you (default: your persona's name)")
	f.BoolVar(&noQR, "no-qr", false, "do not print the QR code")
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List invites neither used nor expired", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Invites(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if l == nil {
					l = []apiv1.PendingInvite{}
				}
				return a.printJSON(l)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEXPIRES\tFOR")
			for _, p := range l {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, fmtTime(p.Expires), orDash(p.ContactName))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use: "revoke ID", Short: "Cancel a pending invite", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RevokeInvite(ctx(), args[0]); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"revoked": args[0]})
			}
			fmt.Fprintf(a.stdout, "revoked %s\n", args[0])
			return nil
		},
	})
	return cmd
}

// writeQR draws s as a QR code in text, two rows of modules a line.
func writeQR(w io.Writer, s string) error {
	q, err := qrcode.New(s, qrcode.Low)
	if err != nil {
		return fmt.Errorf("QR code of the link: %w", err)
	}
	_, err = io.WriteString(w, q.ToSmallString(false))
	return err
}

func (a *app) acceptCmd() *cobra.Command {
	var (
		name    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use: "accept LINK", Short: "Accept an invite link: its maker becomes a contact", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			actx, cancel := context.WithTimeout(ctx(), timeout)
			defer cancel()
			ct, err := c.AcceptInvite(actx, strings.TrimSpace(args[0]), name)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(ct)
			}
			fmt.Fprintf(a.stdout, "added contact %s (%s)\n", ct.Name, ct.Persona)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what to call the inviter (default: the name the invite suggests)")
	cmd.Flags().DurationVarP(&timeout, "timeout", "W", time.Minute, "give up after this long")
	return cmd
}

func (a *app) contactsCmd() *cobra.Command {
	list := func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.Contacts(ctx())
		if err != nil {
			return err
		}
		if a.jsonOut {
			if l == nil {
				l = []apiv1.Contact{}
			}
			return a.printJSON(l)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPERSONA\tONLINE\tBLOCKED\tLAST SEEN")
		for _, ct := range l {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ct.Name, ct.Persona, yesNo(ct.Online), yesNo(ct.Blocked), fmtTime(ct.LastSeen))
		}
		return tw.Flush()
	}
	// show prints one contact after a change, or as asked.
	show := func(ct apiv1.Contact) error {
		if a.jsonOut {
			return a.printJSON(ct)
		}
		a.printContact(ct)
		return nil
	}
	withClient := func(f func(c *apiclient.Client, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return f(c, args)
		}
	}
	cmd := &cobra.Command{
		Use:   "contacts",
		Short: "List, add, rename and remove contacts",
		Long: `Contacts are personas you know by a name of your choosing (a pet name);
commands that take a target or REF accept either the name or the did:key.
Without a subcommand, contacts lists them.`,
		Args: cobra.NoArgs,
		RunE: list,
	}
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List contacts", Args: cobra.NoArgs, RunE: list,
	}, &cobra.Command{
		Use: "add DID NAME", Short: "Add a persona (did:key:…) as a contact called NAME", Args: cobra.ExactArgs(2),
		RunE: withClient(func(c *apiclient.Client, args []string) error {
			ct, err := c.AddContact(ctx(), args[0], args[1])
			if err != nil {
				return err
			}
			return show(ct)
		}),
	}, &cobra.Command{
		Use: "rename REF NAME", Short: "Give a contact a new name", Args: cobra.ExactArgs(2),
		RunE: withClient(func(c *apiclient.Client, args []string) error {
			ct, err := c.RenameContact(ctx(), args[0], args[1])
			if err != nil {
				return err
			}
			return show(ct)
		}),
	}, &cobra.Command{
		Use: "rm REF", Aliases: []string{"remove"}, Short: "Forget a contact", Args: cobra.ExactArgs(1),
		RunE: withClient(func(c *apiclient.Client, args []string) error {
			if err := c.RemoveContact(ctx(), args[0]); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"removed": args[0]})
			}
			fmt.Fprintf(a.stdout, "removed %s\n", args[0])
			return nil
		}),
	}, &cobra.Command{
		Use: "show REF", Short: "Show one contact", Args: cobra.ExactArgs(1),
		RunE: withClient(func(c *apiclient.Client, args []string) error {
			ct, err := c.Contact(ctx(), args[0])
			if err != nil {
				return err
			}
			return show(ct)
		}),
	})
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *app) printContact(ct apiv1.Contact) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", ct.Name)
	fmt.Fprintf(tw, "persona:\t%s\n", ct.Persona)
	fmt.Fprintf(tw, "added:\t%s\n", fmtTime(ct.Added))
	fmt.Fprintf(tw, "online:\t%s\n", yesNo(ct.Online))
	fmt.Fprintf(tw, "blocked:\t%s\n", yesNo(ct.Blocked))
	fmt.Fprintf(tw, "last seen:\t%s\n", fmtTime(ct.LastSeen))
	for i, d := range ct.Devices {
		label := ""
		if i == 0 {
			label = "devices:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, d)
	}
	tw.Flush()
}

// blockAction makes block and unblock.
func (a *app) blockAction(use, short, done string, f func(c *apiclient.Client, target string) error) *cobra.Command {
	return &cobra.Command{
		Use: use + " TARGET", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := f(c, args[0]); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{done: args[0]})
			}
			fmt.Fprintf(a.stdout, "%s %s\n", done, args[0])
			return nil
		},
	}
}

func (a *app) blockCmd() *cobra.Command {
	return a.blockAction("block", "Refuse connections and messages from a persona, contact or peer ID", "blocked",
		func(c *apiclient.Client, t string) error { return c.Block(ctx(), t) })
}

func (a *app) unblockCmd() *cobra.Command {
	return a.blockAction("unblock", "Lift a block", "unblocked",
		func(c *apiclient.Client, t string) error { return c.Unblock(ctx(), t) })
}

func (a *app) blockedCmd() *cobra.Command {
	return &cobra.Command{
		Use: "blocked", Short: "List blocked personas and peer IDs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			b, err := c.Blocked(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(b)
			}
			if len(b.Personas)+len(b.Peers) == 0 {
				fmt.Fprintln(a.stdout, "nothing is blocked")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tID")
			for _, p := range b.Personas {
				fmt.Fprintf(tw, "persona\t%s\n", p)
			}
			for _, p := range b.Peers {
				fmt.Fprintf(tw, "peer\t%s\n", p)
			}
			return tw.Flush()
		},
	}
}
