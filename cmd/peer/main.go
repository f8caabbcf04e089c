// Command peer is the Peer node and its command-line client in one binary:
// `peer up` runs the node; every other command talks to a running node only
// through its HTTP API (package apiclient), finding it through the data
// directory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/version"
	"github.com/spf13/cobra"
)

// app holds what every command shares: streams, global flags and the
// environment, so tests can run commands in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	dataDir        string
	jsonOut        bool
	// stderrTTY, if set, says whether standard error is a terminal (tests
	// set it to see progress); unset, the stream is asked.
	stderrTTY func() bool
}

// progressShown is whether progress may be drawn on standard error: it is
// a terminal and --json is off.
func (a *app) progressShown() bool {
	if a.jsonOut {
		return false
	}
	if a.stderrTTY != nil {
		return a.stderrTTY()
	}
	return isTerminal(a.stderr)
}

func main() {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()}
	if err := a.root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", errorText(err))
		os.Exit(exitCode(err))
	}
}

// errorText is err's message for the terminal. A message from the node
// may quote a file name it was given or holds (a contact's, say): its
// control characters are shown escaped. The CLI's own messages may span
// lines and are left as they are.
func errorText(err error) string {
	var e *apiclient.Error
	if errors.As(err, &e) {
		return escapeControls(err.Error())
	}
	return err.Error()
}

// exitCode maps errors to exit statuses scripts can branch on.
func exitCode(err error) int {
	switch {
	case errors.Is(err, datadir.ErrLocked):
		return 3
	case errors.Is(err, apiclient.ErrNotRunning):
		return 4
	}
	return 1
}

func (a *app) getenv(k string) string {
	for i := len(a.environ) - 1; i >= 0; i-- {
		if len(a.environ[i]) > len(k) && a.environ[i][:len(k)+1] == k+"=" {
			return a.environ[i][len(k)+1:]
		}
	}
	return ""
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "peer",
		Short: "Peer: your own always-on node for identity, data, sharing and messages",
		Long: `Peer runs on an always-on box at home and is both your server and your client.

Start the node with "peer up"; the other commands talk to the running node.
The data directory comes from --data, else $PEER_DATA, else the per-user data
directory (` + defaultDirHint() + `).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.dataDir == "" {
				a.dataDir = a.getenv("PEER_DATA")
			}
			if a.dataDir == "" {
				d, err := datadir.Default()
				if err != nil {
					return fmt.Errorf("no data directory: give --data or set PEER_DATA (%w)", err)
				}
				a.dataDir = d
			}
			return nil
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().StringVar(&a.dataDir, "data", "", "data directory (default $PEER_DATA or the per-user data directory)")
	root.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON for scripts instead of text")
	root.AddCommand(a.upCmd(), a.initCmd(), a.statusCmd(), a.idCmd(), a.personaCmd(), a.deviceCmd(), a.versionCmd())
	// The MiMei store.
	root.AddCommand(a.mimeiCmd(), a.putCmd(), a.getCmd(), a.lsCmd(), a.statCmd(), a.mkdirCmd(), a.mvCmd(), a.rmCmd(),
		a.dbCmd(), a.backupCmd(), a.versionsCmd(), a.diffCmd(), a.forkCmd(), a.refCmd(), a.storeCmd(), a.benchCmd())
	root.AddCommand(a.versionActionCmds()...)
	// The peer-to-peer network: connections, invites, contacts, blocks.
	root.AddCommand(a.netCmds()...)
	// Sharing: who may fetch our MiMei, what is shared with us, fetches.
	root.AddCommand(a.shareCmds()...)
	// The web console: pairing browsers, console sessions.
	root.AddCommand(a.consoleCmd())
	return root
}

func defaultDirHint() string {
	if d, err := datadir.Default(); err == nil {
		return d
	}
	return "XDG data directory"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.jsonOut {
				return a.printJSON(map[string]string{"version": version.String()})
			}
			fmt.Fprintln(a.stdout, version.String())
			return nil
		},
	}
}

// client finds the node running on the data directory.
func (a *app) client() (*apiclient.Client, error) {
	return apiclient.FromDataDir(a.dataDir)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ctx() context.Context { return context.Background() }
