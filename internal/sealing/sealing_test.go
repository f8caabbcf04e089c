package sealing

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// testKey returns a fixed content key filled with b.
func testKey(b byte) ContentKey {
	var k ContentKey
	for i := range k {
		k[i] = b
	}
	return k
}

// pattern returns n bytes of a fixed, non-repeating-looking pattern.
func pattern(n int, salt byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*131+i>>8) ^ salt
	}
	return p
}

func TestNewContentKey(t *testing.T) {
	a, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.isZero() {
		t.Fatal("NewContentKey returned a repeated or zero key")
	}
}

func TestContentKeyNotPrinted(t *testing.T) {
	k := testKey(0xab)
	for _, verb := range []string{"%v", "%s", "%x", "%X", "%#v", "%+v", "%q"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
			t.Errorf("%s prints the key: %s", verb, out)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := testKey(1)
	for _, n := range []int{0, 1, 4 << 10, 1 << 20, MaxBlockSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := pattern(n, 7)
			sealed := Seal(k, pt)
			if len(sealed) != n+Overhead {
				t.Fatalf("sealed %d bytes to %d, want %d", n, len(sealed), n+Overhead)
			}
			if sealed[0] != BlockFormat {
				t.Fatalf("format byte %d", sealed[0])
			}
			got, err := Open(k, sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatal("Open returned other bytes")
			}
		})
	}
}

// TestSealKnownAnswer freezes the block format: a change to the derivation,
// the nonce or the layout breaks every stored block and needs a new format.
func TestSealKnownAnswer(t *testing.T) {
	got := hex.EncodeToString(Seal(testKey(1), []byte("peer sealing test vector")))
	const want = "0263640d40d513d867a3486883aadec51653140593bbafe904a36e9f50188f91e0a439de121eb81b386b51841133fc1f40439cef08698d55f0ed9d8157ce37c04f"
	if got != want {
		t.Fatalf("Seal = %s\nwant    %s", got, want)
	}
}

func TestSealDeterminism(t *testing.T) {
	pt := pattern(4096, 1)
	other := pattern(4096, 2)
	nonce := func(b []byte) []byte { return b[1 : 1+NonceSize] }
	tests := []struct {
		name      string
		a, b      []byte
		wantEqual bool
	}{
		{"same key, same plaintext", Seal(testKey(1), pt), Seal(testKey(1), bytes.Clone(pt)), true},
		{"other key, same plaintext", Seal(testKey(1), pt), Seal(testKey(2), pt), false},
		{"same key, other plaintext", Seal(testKey(1), pt), Seal(testKey(1), other), false},
		{"same key, empty and one zero byte", Seal(testKey(1), nil), Seal(testKey(1), []byte{0}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if eq := bytes.Equal(tt.a, tt.b); eq != tt.wantEqual {
				t.Fatalf("sealed blocks equal = %v, want %v", eq, tt.wantEqual)
			}
			if eq := bytes.Equal(nonce(tt.a), nonce(tt.b)); eq != tt.wantEqual {
				t.Fatalf("nonces equal = %v, want %v", eq, tt.wantEqual)
			}
			if !tt.wantEqual && len(tt.a) == len(tt.b) {
				// Unrelated: the ciphertexts share no long run.
				if same := sameBytes(tt.a[1+NonceSize:], tt.b[1+NonceSize:]); same > len(tt.a)/16 {
					t.Fatalf("%d of %d ciphertext bytes coincide", same, len(tt.a))
				}
			}
		})
	}
}

func sameBytes(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}

// TestSealDedup: two versions of a MiMei sharing chunks store the shared
// chunks once (by content address of the sealed bytes).
func TestSealDedup(t *testing.T) {
	k := testKey(3)
	chunks := [][]byte{pattern(1000, 1), pattern(1000, 2), pattern(1000, 3)}
	v1 := [][]byte{chunks[0], chunks[1]}
	v2 := [][]byte{chunks[0], chunks[1], chunks[2]} // appended a chunk
	store := map[string]bool{}
	for _, v := range [][][]byte{v1, v2} {
		for _, c := range v {
			store[string(Seal(k, c))] = true
		}
	}
	if len(store) != 3 {
		t.Fatalf("stored %d blocks for 3 distinct chunks", len(store))
	}
}

func TestOpenTamperedByte(t *testing.T) {
	k := testKey(1)
	sealed := Seal(k, pattern(64, 9))
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			if _, err := Open(k, bad); err == nil {
				t.Fatalf("flipping bit %#x of byte %d: Open succeeded", bit, i)
			} else if i > 0 && !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d: err = %v, want ErrDecrypt", i, err)
			} else if i == 0 && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("format byte: err = %v, want ErrUnsupportedVersion", err)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	k := testKey(1)
	sealed := Seal(k, []byte("some block"))
	tests := []struct {
		name   string
		key    ContentKey
		sealed []byte
		want   error
	}{
		{"wrong key", testKey(2), sealed, ErrDecrypt},
		{"zero key", ContentKey{}, sealed, ErrDecrypt},
		{"truncated tag", k, sealed[:len(sealed)-1], ErrDecrypt},
		{"extended", k, append(bytes.Clone(sealed), 0), ErrDecrypt},
		{"shorter than overhead", k, sealed[:Overhead-1], ErrMalformed},
		{"empty", k, nil, ErrMalformed},
		{"format 1 (never written outside tests)", k, append([]byte{1}, sealed[1:]...), ErrUnsupportedVersion},
		{"format 3", k, append([]byte{3}, sealed[1:]...), ErrUnsupportedVersion},
		{"oversized", k, make([]byte, MaxSealedSize+1), ErrTooLarge},
		{"nonce not synthetic", k, sealWithNonce(t, k, []byte("some block")), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := Open(tt.key, tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: err = %v, want %v", err, tt.want)
			}
			if pt != nil {
				t.Fatal("Open returned plaintext with an error")
			}
		})
	}
}

// sealWithNonce seals like Seal but with a random nonce: a block only a key
// holder can make, which authenticates but is not deterministic.
func sealWithNonce(t *testing.T, k ContentKey, pt []byte) []byte {
	t.Helper()
	_, aead := k.subkeys()
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	out := append([]byte{BlockFormat}, nonce...)
	return aead.Seal(out, nonce, pt, out[:1])
}

func TestSealPanics(t *testing.T) {
	tests := []struct {
		name string
		key  ContentKey
		pt   []byte
	}{
		{"oversized", testKey(1), make([]byte, MaxBlockSize+1)},
		{"zero key", ContentKey{}, []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Seal did not panic")
				}
			}()
			Seal(tt.key, tt.pt)
		})
	}
}

// TestNoPlaintextInCiphertext seals blocks full of a recognisable marker
// and looks for the marker, and for any 8-byte run of it, in the output.
func TestNoPlaintextInCiphertext(t *testing.T) {
	const marker = "PEER-SECRET-MARKER-7f3a"
	k, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for i := range 100 {
		block := []byte(strings.Repeat(marker, 10+i) + fmt.Sprint(i))
		all.Write(Seal(k, block))
	}
	out := all.Bytes()
	for i := 0; i+8 <= len(marker); i++ {
		if bytes.Contains(out, []byte(marker[i:i+8])) {
			t.Fatalf("ciphertext contains %q", marker[i:i+8])
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	k := testKey(1)
	pt := pattern(1<<20, 3)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		Seal(k, pt)
	}
}

func BenchmarkOpen(b *testing.B) {
	k := testKey(1)
	sealed := Seal(k, pattern(1<<20, 3))
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, err := Open(k, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealParts measures the two passes Seal makes, on their own, so
// that BenchmarkSeal can be read as a ratio to them in the same run.
func BenchmarkSealParts(b *testing.B) {
	k := testKey(1)
	pt := pattern(1<<20, 3)
	nonceKey, aead := k.subkeys()
	b.Run("blake3", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			d := Digest(pt)
			syntheticNonce(&nonceKey, &d)
		}
	})
	b.Run("xchacha20poly1305", func(b *testing.B) {
		nonce := make([]byte, NonceSize)
		out := make([]byte, 0, len(pt)+TagSize)
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			aead.Seal(out[:0], nonce, pt, nil)
		}
	})
}

// The buffer-reusing forms give exactly the bytes of Seal and Open, also
// when sealing in place (the plaintext where the ciphertext goes).
func TestSealOpenAppend(t *testing.T) {
	k := testKey(3)
	for _, n := range []int{0, 1, 1000, 300 << 10} {
		pt := make([]byte, n)
		rand.Read(pt)
		want := Seal(k, pt)

		buf := make([]byte, 1+NonceSize+n, n+Overhead+7)
		copy(buf[1+NonceSize:], pt)
		got := SealDigestAppend(buf[:0], k, buf[1+NonceSize:], Digest(pt))
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: sealing in place differs from Seal", n)
		}
		got = SealDigestAppend([]byte("prefix"), k, pt, Digest(pt))
		if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) {
			t.Fatalf("%d bytes: appending seal differs from Seal", n)
		}

		out, d, err := OpenDigestAppend([]byte("ab"), k, want)
		if err != nil || string(out[:2]) != "ab" || !bytes.Equal(out[2:], pt) || d != Digest(pt) {
			t.Fatalf("%d bytes: OpenDigestAppend: %v", n, err)
		}
		bad := bytes.Clone(want)
		bad[len(bad)-1] ^= 1
		if _, _, err := OpenDigestAppend(make([]byte, 0, n), k, bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%d bytes: tampered block: %v", n, err)
		}
	}
}

func TestCheck(t *testing.T) {
	var k ContentKey
	for i := range k {
		k[i] = byte(i + 1)
	}
	other := k
	other[0] ^= 1
	plain := []byte("a block of a shared MiMei")
	sealed := Seal(k, plain)
	got, ok := SealedCheck(sealed)
	if !ok || got != Check(k, Digest(plain)) {
		t.Fatalf("SealedCheck %x (%v), Check %x", got, ok, Check(k, Digest(plain)))
	}
	tests := []struct {
		name string
		want bool
		a, b [CheckSize]byte
	}{
		{"other plaintext", false, Check(k, Digest(plain)), Check(k, Digest([]byte("another block")))},
		{"other key", false, Check(k, Digest(plain)), Check(other, Digest(plain))},
		{"same", true, Check(k, Digest(plain)), Check(k, Digest(append([]byte(nil), plain...)))},
	}
	for _, tc := range tests {
		if (tc.a == tc.b) != tc.want {
			t.Errorf("%s: equal = %v", tc.name, tc.a == tc.b)
		}
	}
	for _, bad := range [][]byte{nil, sealed[:Overhead-1], append([]byte{0x01}, sealed[1:]...)} {
		if _, ok := SealedCheck(bad); ok {
			t.Errorf("SealedCheck accepted %d bytes starting %x", len(bad), bad[:min(1, len(bad))])
		}
	}
}
