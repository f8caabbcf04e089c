package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/peer-node/peer/internal/node"
	"github.com/spf13/cobra"
)

func (a *app) initCmd() *cobra.Command {
	var (
		restore  bool
		seal     bool
		passFile string
		name     string
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create this node's identity and show its recovery phrase once",
		Long: `Create the identity in the data directory: a recovery phrase of 24 words,
the first persona derived from it, a device key and the persona's certificate
for this device.

The phrase is shown once. Write it down: it restores your personas on a new
machine with "peer init --restore", which reads the words from standard input.

With --passphrase (or --passphrase-file, or $PEER_PASSPHRASE) the key files
are sealed with it; "peer up" then needs it to start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := node.InitOptions{PersonaName: name}
			var err error
			if seal || passFile != "" || a.getenv("PEER_PASSPHRASE") != "" {
				if opts.Passphrase, err = a.passphrase(passFile, true, "--passphrase"); err != nil {
					return err
				}
			}
			if restore {
				if opts.Restore, err = a.readPhrase(); err != nil {
					return err
				}
			}
			res, err := node.Init(a.dataDir, opts)
			if err != nil {
				return err
			}
			if a.jsonOut {
				out := map[string]any{"persona": res.Persona, "device": res.Device, "sealed": opts.Passphrase != nil, "data_dir": a.dataDir}
				if res.Mnemonic != "" {
					out["recovery_phrase"] = res.Mnemonic
				}
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "persona: %s\ndevice: %s\n", res.Persona, res.Device)
			if res.Mnemonic != "" {
				fmt.Fprintln(a.stdout)
				printPhrase(a.stdout, res.Mnemonic)
			} else {
				fmt.Fprintln(a.stdout, "restored from your recovery phrase.")
			}
			if opts.Passphrase == nil {
				fmt.Fprintln(a.stdout, "keys are stored unsealed (files readable only by you); use --passphrase to seal them.")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&restore, "restore", false, "restore from a recovery phrase read from standard input")
	cmd.Flags().BoolVar(&seal, "passphrase", false, "seal the keys with a passphrase (prompted, or $PEER_PASSPHRASE)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "seal the keys with the passphrase in this file")
	cmd.Flags().StringVar(&name, "name", "", `name of the first persona (default "default")`)
	return cmd
}

// printPhrase shows the recovery phrase as numbered words, once.
func printPhrase(w io.Writer, mnemonic string) {
	words := strings.Fields(mnemonic)
	fmt.Fprintln(w, "Your recovery phrase. Write these 24 words down, in order, and keep them")
	fmt.Fprintln(w, "somewhere safe: they restore your identity. They are not shown again.")
	fmt.Fprintln(w)
	for i := 0; i < len(words); i += 4 {
		for j := i; j < i+4 && j < len(words); j++ {
			fmt.Fprintf(w, "  %2d %-10s", j+1, words[j])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// readPhrase reads a recovery phrase from standard input (prompting on a
// terminal). It is never taken from the command line, which shells keep.
func (a *app) readPhrase() (string, error) {
	if isTerminal(a.stdin) {
		fmt.Fprint(a.stderr, "Enter your 24-word recovery phrase: ")
	}
	sc := bufio.NewScanner(a.stdin)
	var words []string
	for len(words) < 24 && sc.Scan() {
		words = append(words, strings.Fields(sc.Text())...)
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read recovery phrase: %w", err)
	}
	if len(words) == 0 {
		return "", fmt.Errorf("no recovery phrase on standard input")
	}
	return strings.Join(words, " "), nil
}
