package persona

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// t0 is the time certificates are issued at in the tests.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func now() time.Time { return t0.Add(time.Hour) }

var abandonArt = strings.Repeat("abandon ", 23) + "art"

// fixture is persona 0 of abandon…art in one epoch, with three devices
// A, B, C certified in it.
type fixture struct {
	op      *identity.OpCert
	opKey   ed25519.PrivateKey
	persona string
	dev     map[string]ed25519.PrivateKey // "A", "B", "C"
	certs   map[string][]byte             // device cert encodings
}

var fixtures = map[uint32]*fixture{}

func newFixture(t tb, epoch uint32) *fixture {
	t.Helper()
	if f := fixtures[epoch]; f != nil {
		return f
	}
	root, err := identity.RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Wipe()
	op, err := identity.IssueOpCert(root, 0, epoch, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{op: op, opKey: root.OperationalKey(0, epoch), persona: op.Persona,
		dev: map[string]ed25519.PrivateKey{}, certs: map[string][]byte{}}
	for i, name := range []string{"A", "B", "C", "D"} {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(0x0a + i)}, 32))
		c, err := identity.IssueDeviceCert(f.opKey, op, k.Public().(ed25519.PublicKey), t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		f.dev[name], f.certs[name] = k, enc
	}
	fixtures[epoch] = f
	return f
}

func (f *fixture) pub(name string) ed25519.PublicKey {
	return f.dev[name].Public().(ed25519.PublicKey)
}

func (f *fixture) open(t tb) *Store {
	t.Helper()
	s, err := Open(memkv.New(), 0, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustEncode(t tb, v any) []byte {
	t.Helper()
	b, err := EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) deviceValue(t tb, name string) []byte {
	return mustEncode(t, DeviceValue{Cert: f.certs[name], Name: "box " + name, Added: 1})
}

// entry signs an entry by author with the given sequence and clock.
func (f *fixture) entry(t tb, author string, seq, clock uint64, kind Kind, key, value []byte) *Entry {
	t.Helper()
	e := &Entry{Persona: f.persona, Epoch: f.op.Epoch, Seq: seq, Clock: clock, Kind: kind, Key: key, Value: value}
	if err := e.Sign(f.dev[author]); err != nil {
		t.Fatal(err)
	}
	return e
}

// write has device name write an entry on s, failing the test on error.
func write(t tb, s *Store, dev ed25519.PrivateKey, kind Kind, key, value []byte) *Entry {
	t.Helper()
	e, err := s.Write(dev, kind, key, value)
	if err != nil {
		t.Fatalf("write %s: %v", kind, err)
	}
	return e
}

// contactKey is a did:key usable as a contact entry's key.
func contactKey(i int) []byte {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(0x40 + i)}, 32))
	return []byte(identity.DID(k.Public().(ed25519.PublicKey)))
}

// typed reports whether err is one of the errors callers branch on.
func typed(err error) bool {
	for _, e := range []error{ErrMalformed, ErrUnsupportedVersion, ErrBadSignature, ErrUnknownAuthor,
		ErrNewerEpoch, ErrConflict, identity.ErrRevoked, identity.ErrStaleEpoch, identity.ErrMalformed,
		identity.ErrUnsupportedVersion, identity.ErrBadSignature, identity.ErrEpochMismatch, identity.ErrExpired} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
