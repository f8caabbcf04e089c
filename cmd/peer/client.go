package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Show the running node's status", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Status(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(s)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "persona:\t%s\n", s.Persona)
			fmt.Fprintf(tw, "device:\t%s\n", s.Device)
			fmt.Fprintf(tw, "api:\t%s\n", s.API)
			fmt.Fprintf(tw, "version:\t%s\n", s.Version)
			fmt.Fprintf(tw, "up for:\t%s\n", fmtDur(s.UptimeSeconds))
			fmt.Fprintf(tw, "personas:\t%d\n", s.Personas)
			fmt.Fprintf(tw, "keys sealed:\t%v\n", s.Sealed)
			fmt.Fprintf(tw, "data:\t%s\n", s.DataDir)
			if d := s.Disk; d != nil {
				fmt.Fprintf(tw, "disk:\t%s\n", diskLine(d))
			}
			return tw.Flush()
		},
	}
}

// diskLine describes the disk for `peer status`.
func diskLine(d *apiv1.Disk) string {
	line := fmt.Sprintf("%s free of %s", fmtBytes(d.Free), fmtBytes(d.Total))
	switch {
	case d.ReadOnly:
		line += " — FULL at start: the store is open read-only (reads only); free space on the disk, then restart the node"
	case d.Level == "full":
		line += fmt.Sprintf(" — FULL: new data is refused below the %s reserve; delete MiMei or old versions and run `peer store gc`, or free space on the disk", fmtBytes(d.Reserve))
	case d.Level == "low":
		line += fmt.Sprintf(" — low: writes stop at %s free", fmtBytes(d.Reserve))
	}
	return line
}

func fmtDur(sec float64) string {
	s := int64(sec)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
}

func (a *app) idCmd() *cobra.Command {
	return &cobra.Command{
		Use: "id", Short: "Show this node's persona and device IDs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			id, err := c.Identity(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(id)
			}
			fmt.Fprintf(a.stdout, "persona: %s\ndevice: %s\n", id.Persona.ID, id.Device.PeerID)
			return nil
		},
	}
}

func (a *app) personaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "persona", Short: "Manage personas (identities) held by this node"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List personas", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.Personas(ctx())
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(apiv1.Personas{Personas: ps})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tINDEX\tDEFAULT\tID")
			for _, p := range ps {
				def := ""
				if p.Default {
					def = "yes"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Index, def, p.ID)
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use: "new [NAME]", Short: "Create a persona (derived from the recovery phrase)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			p, err := c.NewPersona(ctx(), name)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(p)
			}
			fmt.Fprintf(a.stdout, "persona: %s\nname: %s\n", p.ID, p.Name)
			return nil
		},
	}, &cobra.Command{
		Use: "show [ID|NAME]", Short: "Show a persona and its certificate for this device (default persona if none given)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var p apiv1.Persona
			if len(args) == 1 {
				p, err = c.Persona(ctx(), args[0])
			} else {
				var id apiv1.Identity
				id, err = c.Identity(ctx())
				p = id.Persona
			}
			if err != nil {
				return err
			}
			cert, err := c.DeviceCert(ctx(), p.ID)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"persona": p, "certificate": cert})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "persona:\t%s\n", p.ID)
			fmt.Fprintf(tw, "name:\t%s\n", p.Name)
			fmt.Fprintf(tw, "index:\t%d\n", p.Index)
			fmt.Fprintf(tw, "default:\t%v\n", p.Default)
			fmt.Fprintf(tw, "created:\t%s\n", p.Created.Local().Format("2006-01-02 15:04:05"))
			fmt.Fprintf(tw, "device certificate:\tv%d serial %d for %s, issued %s, verified %v\n",
				cert.Version, cert.Serial, cert.Device, cert.IssuedAt.Local().Format("2006-01-02 15:04"), cert.Verified)
			return tw.Flush()
		},
	})
	return cmd
}
