package sealing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKeyRecordRoundTrip(t *testing.T) {
	owner := keyFromSeed(9)
	alice, bob, carol := newPersona(t, 1), newPersona(t, 2), newPersona(t, 3)
	k, r := signedRecord(t, owner, 0, alice, bob, carol)
	if r.Epoch != 1 || r.Version != RecordVersion || !bytes.Equal(r.Signer, owner.Public().(ed25519.PublicKey)) {
		t.Fatalf("record: epoch %d version %d signer %x", r.Epoch, r.Version, r.Signer)
	}
	b := mustMarshal(t, r)
	got, err := ParseKeyRecord(b)
	if err != nil {
		t.Fatalf("ParseKeyRecord: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("parsed record differs:\n got %+v\nwant %+v", got, r)
	}
	if err := got.Verify(trust(owner)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if again := mustMarshal(t, got); !bytes.Equal(again, b) {
		t.Fatal("re-marshal differs")
	}
	for _, p := range []persona{alice, bob, carol} {
		if _, ok := got.For(p.did); !ok {
			t.Fatalf("For(%s): no entry", p.did)
		}
		pk, err := got.OpenKey(p.did, p.enc)
		if err != nil {
			t.Fatalf("OpenKey for %s: %v", p.did, err)
		}
		if pk.Key() != k.Key() || pk.Suite() != SuiteAES256GCM {
			t.Fatalf("%s unwrapped another key or suite (%s)", p.did, pk.Suite())
		}
	}
	if _, ok := got.For(newPersona(t, 4).did); ok {
		t.Fatal("For found a persona that is not a reader")
	}
}

// TestMaxReadersFit: a record with MaxReaders readers signs, marshals and
// parses within MaxRecordSize.
func TestMaxReadersFit(t *testing.T) {
	ps := make([]persona, MaxReaders)
	for i := range ps {
		ps[i] = newPersona(t, byte(10+i))
	}
	_, r := signedRecord(t, keyFromSeed(9), 0, ps...)
	b := mustMarshal(t, r)
	if _, err := ParseKeyRecord(b); err != nil {
		t.Fatalf("ParseKeyRecord: %v", err)
	}
	t.Logf("%d readers: %d bytes of %d", MaxReaders, len(b), MaxRecordSize)
	if _, _, err := Rotate(readerMap(append(ps, newPersona(t, 200))...), testMiMei, 0, SuiteAES256GCM); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Rotate with %d readers: err = %v, want ErrMalformed", MaxReaders+1, err)
	}
}

func TestKeyRecordVerifyRejects(t *testing.T) {
	owner, mallory := keyFromSeed(9), keyFromSeed(66)
	alice, bob := newPersona(t, 1), newPersona(t, 2)
	tests := []struct {
		name    string
		edit    func(r *KeyRecord)
		trusted func(ed25519.PublicKey) bool
		want    error
	}{
		{"forged signature", func(r *KeyRecord) { r.Sig[5] ^= 0x10 }, trust(owner), ErrBadSignature},
		{"signer swapped", func(r *KeyRecord) { r.Signer = mallory.Public().(ed25519.PublicKey) }, trust(owner, mallory), ErrBadSignature},
		{"untrusted signer", nil, trust(mallory), ErrUntrusted},
		{"nil trusted", nil, nil, ErrUntrusted},
		{"tampered wrapped key", func(r *KeyRecord) { r.Readers[0].Wrapped[100] ^= 1 }, trust(owner), ErrBadSignature},
		{"reader entry replaced", func(r *KeyRecord) { r.Readers[1].Wrapped = r.Readers[0].Wrapped }, trust(owner), ErrBadSignature},
		{"reader dropped", func(r *KeyRecord) { r.Readers = r.Readers[:1] }, trust(owner), ErrBadSignature},
		{"epoch changed", func(r *KeyRecord) { r.Epoch++ }, trust(owner), ErrBadSignature},
		{"mimei changed", func(r *KeyRecord) { r.MiMei += "x" }, trust(owner), ErrBadSignature},
		{"issued changed", func(r *KeyRecord) { r.Issued = r.Issued.Add(1e6) }, trust(owner), ErrBadSignature},
		{"epoch 0", func(r *KeyRecord) { r.Epoch = 0 }, trust(owner), ErrMalformed},
		{"version 3", func(r *KeyRecord) { r.Version = 3 }, trust(owner), ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := signedRecord(t, owner, 0, alice, bob)
			if tt.edit != nil {
				tt.edit(r)
			}
			if err := r.Verify(tt.trusted); !errors.Is(err, tt.want) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestKeyRecordTamperedBytes flips every byte of an encoded record: each
// result is refused by ParseKeyRecord or by Verify.
func TestKeyRecordTamperedBytes(t *testing.T) {
	owner := keyFromSeed(9)
	_, r := signedRecord(t, owner, 0, newPersona(t, 1))
	b := mustMarshal(t, r)
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		got, err := ParseKeyRecord(bad)
		if err == nil {
			err = got.Verify(trust(owner))
		}
		if err == nil {
			t.Fatalf("byte %d flipped: record accepted", i)
		}
		if !typed(err) {
			t.Fatalf("byte %d flipped: untyped error %v", i, err)
		}
	}
}

func TestParseKeyRecordRejects(t *testing.T) {
	owner := keyFromSeed(9)
	alice, bob := newPersona(t, 1), newPersona(t, 2)
	tests := []struct {
		name string
		edit func(r *KeyRecord)
		want error
	}{
		{"readers out of order", func(r *KeyRecord) { r.Readers[0], r.Readers[1] = r.Readers[1], r.Readers[0] }, ErrMalformed},
		{"duplicate reader", func(r *KeyRecord) { r.Readers[1] = r.Readers[0] }, ErrMalformed},
		{"no readers", func(r *KeyRecord) { r.Readers = nil }, ErrMalformed},
		{"persona not a did:key", func(r *KeyRecord) { r.Readers[0].Persona = "did:web:example.com" }, ErrMalformed},
		{"empty wrapped key", func(r *KeyRecord) { r.Readers[0].Wrapped = nil }, ErrMalformed},
		{"wrapped key too long", func(r *KeyRecord) { r.Readers[0].Wrapped = make([]byte, MaxWrappedLen+1) }, ErrMalformed},
		{"epoch 0", func(r *KeyRecord) { r.Epoch = 0 }, ErrMalformed},
		{"empty mimei", func(r *KeyRecord) { r.MiMei = "" }, ErrMalformed},
		{"short signer", func(r *KeyRecord) { r.Signer = r.Signer[:31] }, ErrMalformed},
		{"short signature", func(r *KeyRecord) { r.Sig = r.Sig[:63] }, ErrMalformed},
		{"version 1 (no suite)", func(r *KeyRecord) { r.Version = 1 }, ErrUnsupportedVersion},
		{"version 3", func(r *KeyRecord) { r.Version = 3 }, ErrUnsupportedVersion},
		{"unknown suite", func(r *KeyRecord) { r.Suite = 0x7f }, ErrUnsupportedVersion},
		{"too many readers", func(r *KeyRecord) {
			for i := range MaxReaders {
				p := newPersona(t, byte(100+i))
				r.Readers = append(r.Readers, ReaderKey{Persona: p.did, Wrapped: []byte{1}})
			}
			sortReaders(r)
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := signedRecord(t, owner, 0, alice, bob)
			tt.edit(r)
			b := encodeUnchecked(t, r)
			if _, err := ParseKeyRecord(b); !errors.Is(err, tt.want) {
				t.Fatalf("ParseKeyRecord: err = %v, want %v", err, tt.want)
			}
			if _, err := r.Marshal(); !errors.Is(err, tt.want) {
				t.Fatalf("Marshal: err = %v, want %v", err, tt.want)
			}
		})
	}
}

func sortReaders(r *KeyRecord) {
	slices.SortFunc(r.Readers, func(a, b ReaderKey) int { return strings.Compare(a.Persona, b.Persona) })
}

func TestParseKeyRecordSize(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"oversized", make([]byte, MaxRecordSize+1), ErrTooLarge},
		{"empty", nil, ErrMalformed},
		{"not an array", []byte("hello"), ErrMalformed},
		{"trailing byte", append(mustMarshal(t, func() *KeyRecord {
			_, r := signedRecord(t, keyFromSeed(9), 0, newPersona(t, 1))
			return r
		}()), 0), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseKeyRecord(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	owner := keyFromSeed(9)
	alice := newPersona(t, 1)
	tests := []struct {
		name string
		edit func(r *KeyRecord)
		want error
	}{
		{"wrapped keys too large in total", func(r *KeyRecord) {
			r.Readers = nil
			for i := range MaxReaders {
				p := newPersona(t, byte(100+i))
				r.Readers = append(r.Readers, ReaderKey{Persona: p.did, Wrapped: make([]byte, MaxWrappedLen)})
			}
		}, ErrTooLarge},
		{"bad persona", func(r *KeyRecord) { r.Readers[0].Persona = strings.ToUpper(r.Readers[0].Persona) }, ErrMalformed},
		{"epoch 0", func(r *KeyRecord) { r.Epoch = 0 }, ErrMalformed},
		{"unknown suite", func(r *KeyRecord) { r.Suite = 4 }, ErrUnsupportedVersion},
		{"no suite", func(r *KeyRecord) { r.Suite = 0 }, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, err := Rotate(readerMap(alice), testMiMei, 0, SuiteXChaCha20Poly1305)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(r)
			if err := r.Sign(owner); !errors.Is(err, tt.want) {
				t.Fatalf("Sign: err = %v, want %v", err, tt.want)
			}
			if r.Sig != nil {
				t.Fatal("Sign left a signature after an error")
			}
		})
	}
	// Sign sorts readers given in any order.
	_, r, err := Rotate(readerMap(alice, newPersona(t, 2), newPersona(t, 3)), testMiMei, 0, SuiteAES256GCM)
	if err != nil {
		t.Fatal(err)
	}
	r.Readers[0], r.Readers[2] = r.Readers[2], r.Readers[0]
	if err := r.Sign(owner); err != nil {
		t.Fatalf("Sign of unsorted readers: %v", err)
	}
	if err := r.Verify(trust(owner)); err != nil {
		t.Fatal(err)
	}
}

// TestRotateRevokes: rotating without a reader locks them out of the new
// epoch, while what they could read before stays readable to them.
func TestRotateRevokes(t *testing.T) {
	owner := keyFromSeed(9)
	alice, bob, carol := newPersona(t, 1), newPersona(t, 2), newPersona(t, 3)
	k1, r1 := signedRecord(t, owner, 0, alice, bob, carol)
	old := k1.Seal([]byte("written while carol could read"))

	k2, r2 := signedRecord(t, owner, r1.Epoch, alice, bob) // carol revoked
	if r2.Epoch != 2 {
		t.Fatalf("epoch %d, want 2", r2.Epoch)
	}
	if k2.Key() == k1.Key() {
		t.Fatal("rotation kept the key")
	}
	fresh := k2.Seal([]byte("written after carol was revoked"))

	for _, p := range []persona{alice, bob} {
		if k, err := r2.Unwrap(p.did, p.enc); err != nil || k != k2.Key() {
			t.Fatalf("%s cannot unwrap epoch 2: %v", p.did, err)
		}
	}
	if _, ok := r2.For(carol.did); ok {
		t.Fatal("revoked reader has an entry in the new record")
	}
	if _, err := r2.Unwrap(carol.did, carol.enc); !errors.Is(err, ErrNotReader) {
		t.Fatalf("revoked reader: err = %v, want ErrNotReader", err)
	}
	// Carol tries every wrapped key of the new record with her key.
	for _, rk := range r2.Readers {
		if _, err := Unwrap(rk.Wrapped, carol.enc, testMiMei, 2); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("revoked reader unwrapping %s's entry: err = %v, want ErrDecrypt", rk.Persona, err)
		}
	}
	// Her old entry does not open the new epoch...
	w, _ := r1.For(carol.did)
	if _, err := Unwrap(w, carol.enc, testMiMei, 2); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old entry rebound to epoch 2: err = %v, want ErrDecrypt", err)
	}
	// ...and the old key does not open new blocks.
	carolKey, err := r1.OpenKey(carol.did, carol.enc)
	if err != nil {
		t.Fatalf("carol's epoch-1 key: %v", err)
	}
	if _, err := carolKey.Open(fresh); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old key on a new block: err = %v, want ErrDecrypt", err)
	}
	// What she had stays hers: the documented limit of revocation.
	if _, err := carolKey.Open(old); err != nil {
		t.Fatalf("old key on an old block: %v", err)
	}
}

func TestRotateErrors(t *testing.T) {
	alice := newPersona(t, 1)
	tests := []struct {
		name    string
		readers map[string]hpke.PublicKey
		mimei   string
		prev    uint32
	}{
		{"no readers", readerMap(), testMiMei, 0},
		{"last epoch", readerMap(alice), testMiMei, math.MaxUint32},
		{"bad mimei", readerMap(alice), "", 0},
		{"bad persona", map[string]hpke.PublicKey{"did:key:zNotAKey": alice.enc.PublicKey()}, testMiMei, 0},
		{"nil reader key", map[string]hpke.PublicKey{alice.did: nil}, testMiMei, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, r, err := Rotate(tt.readers, tt.mimei, tt.prev, SuiteAES256GCM); !errors.Is(err, ErrMalformed) || r != nil {
				t.Fatalf("Rotate: err = %v, record %v; want ErrMalformed and none", err, r)
			}
		})
	}
}
