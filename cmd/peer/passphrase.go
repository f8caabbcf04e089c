package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peer-node/peer/internal/node"
	"golang.org/x/term"
)

// passphraseIfGiven returns a passphrase only if one was given by file or
// environment, without prompting.
func (a *app) passphraseIfGiven(file string) ([]byte, error) {
	if file == "" && a.getenv("PEER_PASSPHRASE") == "" {
		return nil, nil
	}
	return a.passphrase(file, false, "")
}

// passphrase reads the key passphrase from a file, $PEER_PASSPHRASE, or a
// terminal prompt (asked twice when confirm is set), in that order.
// why says what the passphrase is for, for the error when none can be had.
func (a *app) passphrase(file string, confirm bool, why string) ([]byte, error) {
	var p []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		p, _, _ = bytes.Cut(b, []byte("\n"))
		p = bytes.TrimSuffix(p, []byte("\r"))
	case a.getenv("PEER_PASSPHRASE") != "":
		p = []byte(a.getenv("PEER_PASSPHRASE"))
	default:
		f, ok := a.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, fmt.Errorf("%s: %w: give it with --passphrase-file or PEER_PASSPHRASE, or run on a terminal to be asked", why, node.ErrPassphraseNeeded)
		}
		var err error
		if p, err = prompt(f, a.stderr, "Passphrase: "); err != nil {
			return nil, err
		}
		if confirm {
			again, err := prompt(f, a.stderr, "Passphrase again: ")
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(p, again) {
				return nil, errors.New("the two passphrases differ")
			}
		}
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	return p, nil
}

func prompt(f *os.File, w io.Writer, msg string) ([]byte, error) {
	fmt.Fprint(w, msg)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(w)
	return p, err
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
