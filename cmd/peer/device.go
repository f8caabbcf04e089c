package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/node"
)

// deviceCmd is `peer device`: pair more devices to this persona and list them.
func (a *app) deviceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Pair other devices to your persona and list them"}
	cmd.AddCommand(a.deviceAddCmd(), a.deviceJoinCmd(), a.deviceListCmd())
	return cmd
}

func (a *app) deviceAddCmd() *cobra.Command {
	var (
		ttl  string
		noQR bool
	)
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Show a one-time code that makes another device one of yours",
		Long: `Add prints a one-time pairing code (and its QR code). On the new device, with
a fresh data directory, run "peer device join CODE", then "peer up".

The new device receives your persona's keys (the same secret as your recovery
phrase), so only pair devices you own: it can do everything this one can.
Paired devices keep every MiMei of the persona in sync. The code works once
and until it expires (--ttl, at most 1h).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseTTL(ttl)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			pc, err := c.PairDevice(ctx(), d)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(pc)
			}
			fmt.Fprintln(a.stdout, pc.Code)
			if !noQR {
				if err := writeQR(a.stdout, pc.Code); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stdout, "on the new device: peer device join %s\nexpires %s (in %s)\n", pc.Code, fmtTime(pc.Expires), fmtDur(time.Until(pc.Expires).Seconds()))
			return nil
		},
	}
	cmd.Flags().StringVar(&ttl, "ttl", "10m", "how long the code stays valid (at most 1h)")
	cmd.Flags().BoolVar(&noQR, "no-qr", false, "do not print the QR code")
	return cmd
}

func (a *app) deviceJoinCmd() *cobra.Command {
	var (
		name, passFile string
		seal           bool
		timeout        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "join CODE",
		Short: "Make this data directory a new device of the persona that showed CODE",
		Long: `Join contacts the device that showed the code ("peer device add" there), receives
the persona's keys over the encrypted connection, makes this device's own key and
certificate, and records the other devices. The data directory must hold no
identity yet. Then run "peer up": the node brings over the persona's MiMei.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := node.JoinOptions{Name: name, Timeout: timeout}
			var err error
			if seal || passFile != "" || a.getenv("PEER_PASSPHRASE") != "" {
				if opts.Passphrase, err = a.passphrase(passFile, true, "--passphrase"); err != nil {
					return err
				}
			}
			res, err := node.Join(context.Background(), a.dataDir, strings.TrimSpace(args[0]), opts)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"persona": res.Persona, "device": res.Device, "data_dir": a.dataDir})
			}
			fmt.Fprintf(a.stdout, "joined persona %s as device %s\nstart the node with: peer up\n", res.Persona, res.Device)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what this device is called on your other devices (e.g. laptop)")
	cmd.Flags().BoolVar(&seal, "passphrase", false, "seal the keys with a passphrase (prompted, or $PEER_PASSPHRASE)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "seal the keys with the passphrase in this file")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func (a *app) deviceListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List the devices of your persona", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.Devices(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				if l == nil {
					l = []apiv1.OwnDevice{}
				}
				return a.printJSON(l)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tNAME\tONLINE\tPAIRED")
			for _, d := range l {
				paired := "-"
				if !d.Added.IsZero() {
					paired = fmtTime(d.Added)
				}
				name := d.Name
				if d.This {
					name = "(this device)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", d.PeerID, name, d.Online, paired)
			}
			return tw.Flush()
		},
	}
}
