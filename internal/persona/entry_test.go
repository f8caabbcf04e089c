package persona

import (
	"bytes"
	"errors"
	"testing"

	"github.com/peer-node/peer/internal/codec"
)

// sampleEntries returns one valid signed entry of every kind.
func sampleEntries(t tb, f *fixture) []*Entry {
	t.Helper()
	var keyID [8]byte
	var recID [16]byte
	return []*Entry{
		f.entry(t, "A", 1, 1, KindDevice, f.pub("A"), f.deviceValue(t, "A")),
		f.entry(t, "A", 2, 2, KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 3, At: 5})),
		f.entry(t, "A", 3, 3, KindEncKey, EncKeyKey(1, 0, keyID), mustEncode(t, EncKeyValue{Cert: []byte{1}, Escrow: []byte{2}})),
		f.entry(t, "A", 4, 4, KindContact, contactKey(1), mustEncode(t, ContactValue{Name: "bob", Added: 7})),
		f.entry(t, "A", 5, 5, KindContact, contactKey(1), nil),
		f.entry(t, "A", 6, 6, KindBlock, []byte("12D3KooWsomething"), BlockedValue),
		f.entry(t, "A", 7, 7, KindBlock, []byte("12D3KooWsomething"), nil),
		f.entry(t, "A", 8, 8, KindRights, []byte("mimei-1"), []byte("opaque rights")),
		f.entry(t, "A", 9, 9, KindKeyRecord, KeyRecordKey("mimei-1", 2, recID), []byte("cid")),
		f.entry(t, "A", 10, 10, KindProfile, nil, mustEncode(t, ProfileValue{Name: "Alice", About: "hi"})),
	}
}

func TestEntryRoundTrip(t *testing.T) {
	f := newFixture(t, 1)
	for _, e := range sampleEntries(t, f) {
		t.Run(e.Kind.String(), func(t *testing.T) {
			b, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.VerifySignature(); err != nil {
				t.Fatal(err)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs (%v)", err)
			}
		})
	}
}

func TestEntryRefused(t *testing.T) {
	f := newFixture(t, 1)
	long := bytes.Repeat([]byte{1}, MaxKeySize+1)
	tests := []struct {
		name  string
		kind  Kind
		key   []byte
		value []byte
	}{
		{"unknown kind", 9, []byte("k"), nil},
		{"kind 0", 0, []byte("k"), nil},
		{"key too long", KindRights, long, nil},
		{"value too long", KindRights, []byte("m"), make([]byte, MaxValueSize+1)},
		{"device key short", KindDevice, f.pub("A")[:31], f.deviceValue(t, "A")},
		{"device cert of another device", KindDevice, f.pub("B"), f.deviceValue(t, "A")},
		{"device value empty", KindDevice, f.pub("A"), nil},
		{"revoke value garbage", KindRevoke, f.pub("C"), []byte{0x01}},
		{"enckey key short", KindEncKey, make([]byte, 15), mustEncode(t, EncKeyValue{Cert: []byte{1}, Escrow: []byte{2}})},
		{"enckey escrow empty", KindEncKey, make([]byte, 16), mustEncode(t, EncKeyValue{Cert: []byte{1}})},
		{"contact key not a DID", KindContact, []byte("bob"), nil},
		{"contact value garbage", KindContact, contactKey(1), []byte{0x80}},
		{"block value not empty array", KindBlock, []byte("x"), []byte{0x81, 0x00}},
		{"block key empty", KindBlock, nil, nil},
		{"rights key empty", KindRights, nil, []byte("r")},
		{"keyrecord key short", KindKeyRecord, make([]byte, 20), []byte("cid")},
		{"keyrecord value empty", KindKeyRecord, make([]byte, 21), nil},
		{"profile with a key", KindProfile, []byte("k"), mustEncode(t, ProfileValue{Name: "x"})},
		{"profile empty", KindProfile, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Entry{Persona: f.persona, Epoch: 1, Seq: 1, Clock: 1, Kind: tc.kind, Key: tc.key, Value: tc.value}
			if err := e.Sign(f.dev["A"]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Sign: %v, want ErrMalformed", err)
			}
		})
	}
	fields := []struct {
		name string
		mod  func(e *Entry)
	}{
		{"epoch 0", func(e *Entry) { e.Epoch = 0 }},
		{"seq 0", func(e *Entry) { e.Seq = 0 }},
		{"clock 0", func(e *Entry) { e.Clock = 0 }},
		{"persona not a DID", func(e *Entry) { e.Persona = "did:key:nope" }},
	}
	for _, tc := range fields {
		t.Run(tc.name, func(t *testing.T) {
			e := f.entry(t, "A", 1, 1, KindRights, []byte("m"), nil)
			tc.mod(e)
			if _, err := e.Marshal(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Marshal: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEntryOtherVersion(t *testing.T) {
	f := newFixture(t, 1)
	e := f.entry(t, "A", 1, 1, KindRights, []byte("m"), nil)
	b, err := codec.Marshal(entryWire{Version: 2, Persona: e.Persona, Epoch: 1, Author: e.Author, Seq: 1, Clock: 1,
		Kind: uint8(KindRights), Key: e.Key, Sig: e.Sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEntry(b); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("got %v, want ErrUnsupportedVersion", err)
	}
	if _, err := ParseEntry([]byte{0x82, 0x02, 0x00}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("short record of version 2: %v, want ErrUnsupportedVersion", err)
	}
}

// TestEntryByteFlips changes every byte of a signed entry in several ways:
// the result never both parses and verifies, and fails with a typed error.
func TestEntryByteFlips(t *testing.T) {
	f := newFixture(t, 1)
	for _, e := range sampleEntries(t, f)[:4] {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				c := bytes.Clone(b)
				c[i] ^= mask
				got, err := ParseEntry(c)
				if err == nil {
					err = got.VerifySignature()
				}
				if err == nil {
					t.Fatalf("%s: byte %d ^ %#x still verifies", e.Kind, i, mask)
				}
				if !typed(err) {
					t.Fatalf("%s: byte %d ^ %#x: untyped error %v", e.Kind, i, mask, err)
				}
			}
		}
	}
}

func TestForgedSignature(t *testing.T) {
	f := newFixture(t, 1)
	e := f.entry(t, "A", 1, 1, KindDevice, f.pub("A"), f.deviceValue(t, "A"))
	e.Author = f.pub("B") // claims B wrote what A signed
	if err := e.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
	s := f.open(t)
	if _, err := s.Apply(e); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Apply: %v, want ErrBadSignature", err)
	}
}
