package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"
)

// t2 is the issue time of the committed format-2 certificates.
var t2 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// chain is a format-2 certificate chain of persona 0 of abandon…art: the
// operational certificate of an epoch, its key, a device key (seed 0x01×32)
// and that device's certificate, issued at t2 with no expiry.
type chain struct {
	root    *Root
	persona string
	op      *OpCert
	opKey   ed25519.PrivateKey
	device  ed25519.PrivateKey
	dev     *DeviceCert
	cred    *Credential
}

func newChain(t testing.TB, epoch uint32) chain {
	t.Helper()
	root, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.Wipe)
	op, err := IssueOpCert(root, 0, epoch, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	opKey := root.OperationalKey(0, epoch)
	device := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	dev, err := IssueDeviceCert(opKey, op, pubOf(device), t2, 0)
	if err != nil {
		t.Fatal(err)
	}
	return chain{root: root, persona: op.Persona, op: op, opKey: opKey, device: device, dev: dev,
		cred: &Credential{Op: op, Device: dev}}
}

// typedV2 reports whether err is one of the errors callers of the
// format-2 verifiers branch on.
func typedV2(err error) bool {
	for _, e := range []error{ErrMalformed, ErrUnsupportedVersion, ErrBadSignature, ErrExpired, ErrRevoked,
		ErrPersonaMismatch, ErrEpochMismatch, ErrStaleEpoch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// testPins is a Pins for tests.
type testPins struct {
	epochs  map[string]uint32
	revoked map[string]bool // persona + "/" + epoch + "/" + hex device key
}

func (p testPins) Epoch(persona string) uint32 { return p.epochs[persona] }

func (p testPins) Revoked(persona string, epoch uint32, device ed25519.PublicKey) bool {
	return p.revoked[revokedKey(persona, epoch, device)]
}

func revokedKey(persona string, epoch uint32, device ed25519.PublicKey) string {
	return fmt.Sprintf("%s/%d/%s", persona, epoch, hex.EncodeToString(device))
}

func mustMarshal(t testing.TB, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
