package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/peer-node/peer/internal/node"
	"github.com/spf13/cobra"
)

func (a *app) upCmd() *cobra.Command {
	var (
		sets      []string
		apiListen string
		passFile  string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the node in the foreground (creates the identity on first start)",
		Long: `Run the node in the foreground until interrupted (Ctrl-C, SIGTERM).

On the first start in an empty data directory it creates the identity; run
"peer init" first instead if you want to see the recovery phrase or seal the
keys with a passphrase. Settings come from <data>/config.toml, PEER_* environment
variables and --set key=value, in rising order of precedence.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if apiListen != "" {
				sets = append(sets, "api.listen="+apiListen)
			}
			opts := node.Options{
				DataDir: a.dataDir, Overrides: sets, Environ: a.environ, LogOutput: a.stderr,
				Passphrase: func() ([]byte, error) { return a.passphrase(passFile, false, "the keys in "+a.dataDir+" are sealed") },
			}
			if p, err := a.passphraseIfGiven(passFile); err != nil {
				return err
			} else if p != nil {
				opts.NewPassphrase = p
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := node.Start(opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "persona: %s\ndevice: %s\napi: %s\n", n.Persona(), n.Device(), n.APIURL())
			if ls := n.ListenAddrs(); len(ls) > 0 { // a busy default port moves to a free one: say where
				slices.Sort(ls)
				fmt.Fprintf(a.stdout, "listen: %s\n", strings.Join(ls, ", "))
			}
			if m := n.CreatedMnemonic(); m != "" {
				a.announceNewIdentity(m)
			}
			var serveErr error
			select {
			case <-ctx.Done():
			case serveErr = <-n.Err():
			}
			stop() // a second Ctrl-C now kills the process the default way
			done := make(chan error, 1)
			go func() { done <- n.Close() }()
			select {
			case err := <-done:
				return errors.Join(serveErr, err)
			case <-time.After(5 * time.Second):
				return errors.New("shutdown took longer than 5 s; exiting anyway")
			}
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key, e.g. --set api.listen=127.0.0.1:0 (repeatable)")
	cmd.Flags().StringVar(&apiListen, "api-listen", "", "API listen address (same as --set api.listen=…)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the key passphrase from this file (else $PEER_PASSPHRASE or a prompt)")
	return cmd
}

// announceNewIdentity tells the user a first `up` created their identity.
// The recovery phrase goes to a terminal only, never into a pipe or log.
func (a *app) announceNewIdentity(mnemonic string) {
	if isTerminal(a.stdout) {
		fmt.Fprintln(a.stdout)
		printPhrase(a.stdout, mnemonic)
		return
	}
	fmt.Fprintln(a.stderr, "note: created a new identity; its recovery phrase was not shown because output is not a terminal.\n"+
		"      To have a phrase to restore from, stop the node, move the data directory's keys/ away and run `peer init`.")
}
