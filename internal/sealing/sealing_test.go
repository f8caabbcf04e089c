package sealing

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
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

// blockKey is NewBlockKey for keys the test knows are valid.
func blockKey(t testing.TB, k ContentKey, s Suite) *BlockKey {
	t.Helper()
	b, err := NewBlockKey(k, s)
	if err != nil {
		t.Fatalf("NewBlockKey: %v", err)
	}
	return b
}

// eachSuite runs f as a subtest for every suite.
func eachSuite(t *testing.T, f func(t *testing.T, s Suite)) {
	for _, s := range Suites {
		t.Run(s.String(), func(t *testing.T) { f(t, s) })
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		k := blockKey(t, testKey(1), s)
		for _, n := range []int{0, 1, 4 << 10, 1 << 20, MaxBlockSize} {
			pt := pattern(n, 7)
			sealed := k.Seal(pt)
			if len(sealed) != n+Overhead {
				t.Fatalf("sealed %d bytes to %d, want %d", n, len(sealed), n+Overhead)
			}
			if sealed[0] != byte(s) {
				t.Fatalf("suite byte %d", sealed[0])
			}
			got, err := k.Open(sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatal("Open returned other bytes")
			}
		}
	})
}

// TestSealKnownAnswer freezes the block formats: a change to the
// derivation, the IV or the layout breaks every stored block and needs a
// new suite byte.
func TestSealKnownAnswer(t *testing.T) {
	tests := []struct {
		suite Suite
		want  string
	}{
		{SuiteXChaCha20Poly1305, "0263640d40d513d867a3486883aadec51653140593bbafe904a36e9f50188f91e0a439de121eb81b386b51841133fc1f40439cef08698d55f0ed9d8157ce37c04f"},
		{SuiteAES256GCM, "0363640d40d513d867a3486883aadec51653140593bbafe9049bf25085c4d4303e9fdb8382a6ccfbcb01c9589501ba47af06a4c9a58f1c4b54eeb26458ced31250"},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(blockKey(t, testKey(1), tt.suite).Seal([]byte("peer sealing test vector")))
		if got != tt.want {
			t.Errorf("%s: Seal = %s\nwant    %s", tt.suite, got, tt.want)
		}
	}
}

func TestNewBlockKeyErrors(t *testing.T) {
	tests := []struct {
		name  string
		key   ContentKey
		suite Suite
		want  error
	}{
		{"zero key", ContentKey{}, SuiteXChaCha20Poly1305, ErrMalformed},
		{"zero key, AES", ContentKey{}, SuiteAES256GCM, ErrMalformed},
		{"suite 0", testKey(1), 0, ErrUnsupportedVersion},
		{"suite 1 (never written outside tests)", testKey(1), 1, ErrUnsupportedVersion},
		{"suite 4", testKey(1), 4, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		if b, err := NewBlockKey(tt.key, tt.suite); !errors.Is(err, tt.want) || b != nil {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSuiteNames(t *testing.T) {
	for _, s := range Suites {
		if got, err := ParseSuite(s.String()); err != nil || got != s {
			t.Errorf("ParseSuite(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseSuite("auto"); err != nil || got != DefaultSuite() {
		t.Errorf("ParseSuite(auto) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "AES-256-GCM", "chacha20-poly1305", "suite-0x02"} {
		if _, err := ParseSuite(bad); !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("ParseSuite(%q): err = %v", bad, err)
		}
	}
}

func TestBlockKeyNotPrinted(t *testing.T) {
	k := blockKey(t, testKey(0xab), SuiteAES256GCM)
	for _, verb := range []string{"%v", "%s", "%x", "%#v", "%+v"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
			t.Errorf("%s prints the key: %s", verb, out)
		}
	}
}

func TestSealDeterminism(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		k1, k2 := blockKey(t, testKey(1), s), blockKey(t, testKey(2), s)
		pt := pattern(4096, 1)
		other := pattern(4096, 2)
		nonce := func(b []byte) []byte { return b[1 : 1+NonceSize] }
		tests := []struct {
			name      string
			a, b      []byte
			wantEqual bool
		}{
			{"same key, same plaintext", k1.Seal(pt), k1.Seal(bytes.Clone(pt)), true},
			{"other key, same plaintext", k1.Seal(pt), k2.Seal(pt), false},
			{"same key, other plaintext", k1.Seal(pt), k1.Seal(other), false},
			{"same key, empty and one zero byte", k1.Seal(nil), k1.Seal([]byte{0}), false},
		}
		for _, tt := range tests {
			if eq := bytes.Equal(tt.a, tt.b); eq != tt.wantEqual {
				t.Fatalf("%s: sealed blocks equal = %v, want %v", tt.name, eq, tt.wantEqual)
			}
			if eq := bytes.Equal(nonce(tt.a), nonce(tt.b)); eq != tt.wantEqual {
				t.Fatalf("%s: IVs equal = %v, want %v", tt.name, eq, tt.wantEqual)
			}
			if !tt.wantEqual && len(tt.a) == len(tt.b) {
				// Unrelated: the ciphertexts share no long run.
				if same := sameBytes(tt.a[1+NonceSize:], tt.b[1+NonceSize:]); same > len(tt.a)/16 {
					t.Fatalf("%s: %d of %d ciphertext bytes coincide", tt.name, same, len(tt.a))
				}
			}
		}
	})
}

// The suites are unrelated: the same key and plaintext give the same IV
// (and check) but unrelated ciphertexts, and neither opens the other's.
func TestSuitesDiffer(t *testing.T) {
	x, a := blockKey(t, testKey(1), SuiteXChaCha20Poly1305), blockKey(t, testKey(1), SuiteAES256GCM)
	pt := pattern(4096, 1)
	sx, sa := x.Seal(pt), a.Seal(pt)
	if !bytes.Equal(sx[1:1+NonceSize], sa[1:1+NonceSize]) {
		t.Fatal("the IV depends on the suite")
	}
	if same := sameBytes(sx[1+NonceSize:], sa[1+NonceSize:]); same > len(sx)/16 {
		t.Fatalf("%d of %d ciphertext bytes coincide", same, len(sx))
	}
	if _, err := x.Open(sa); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("XChaCha20 key opened an AES block: %v", err)
	}
	if _, err := a.Open(sx); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("AES key opened an XChaCha20 block: %v", err)
	}
	// Relabelled: the suite byte is authenticated.
	relabelled := bytes.Clone(sx)
	relabelled[0] = byte(SuiteAES256GCM)
	if _, err := a.Open(relabelled); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("relabelled block: %v", err)
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
	eachSuite(t, func(t *testing.T, s Suite) {
		k := blockKey(t, testKey(3), s)
		chunks := [][]byte{pattern(1000, 1), pattern(1000, 2), pattern(1000, 3)}
		v1 := [][]byte{chunks[0], chunks[1]}
		v2 := [][]byte{chunks[0], chunks[1], chunks[2]} // appended a chunk
		store := map[string]bool{}
		for _, v := range [][][]byte{v1, v2} {
			for _, c := range v {
				store[string(k.Seal(c))] = true
			}
		}
		if len(store) != 3 {
			t.Fatalf("stored %d blocks for 3 distinct chunks", len(store))
		}
	})
}

func TestOpenTamperedByte(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		k := blockKey(t, testKey(1), s)
		sealed := k.Seal(pattern(64, 9))
		for i := range sealed {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(sealed)
				bad[i] ^= bit
				_, err := k.Open(bad)
				switch {
				case err == nil:
					t.Fatalf("flipping bit %#x of byte %d: Open succeeded", bit, i)
				case i == 0 && Suite(bad[0]).Known():
					if !errors.Is(err, ErrDecrypt) {
						t.Fatalf("suite byte to another suite: err = %v, want ErrDecrypt", err)
					}
				case i == 0:
					if !errors.Is(err, ErrUnsupportedVersion) {
						t.Fatalf("suite byte: err = %v, want ErrUnsupportedVersion", err)
					}
				case !errors.Is(err, ErrDecrypt):
					t.Fatalf("byte %d: err = %v, want ErrDecrypt", i, err)
				}
			}
		}
	})
}

func TestOpenErrors(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		k := blockKey(t, testKey(1), s)
		sealed := k.Seal([]byte("some block"))
		tests := []struct {
			name   string
			key    *BlockKey
			sealed []byte
			want   error
		}{
			{"wrong key", blockKey(t, testKey(2), s), sealed, ErrDecrypt},
			{"truncated tag", k, sealed[:len(sealed)-1], ErrDecrypt},
			{"extended", k, append(bytes.Clone(sealed), 0), ErrDecrypt},
			{"shorter than overhead", k, sealed[:Overhead-1], ErrMalformed},
			{"empty", k, nil, ErrMalformed},
			{"format 1 (never written outside tests)", k, append([]byte{1}, sealed[1:]...), ErrUnsupportedVersion},
			{"format 4", k, append([]byte{4}, sealed[1:]...), ErrUnsupportedVersion},
			{"oversized", k, make([]byte, MaxSealedSize+1), ErrTooLarge},
			{"IV not synthetic", k, sealWithRandomIV(k, []byte("some block")), ErrDecrypt},
		}
		for _, tt := range tests {
			pt, err := tt.key.Open(tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("%s: Open: err = %v, want %v", tt.name, err, tt.want)
			}
			if pt != nil {
				t.Fatalf("%s: Open returned plaintext with an error", tt.name)
			}
		}
	})
}

// sealWithRandomIV seals like Seal but with a random IV: a block only a
// key holder can make, which authenticates but is not deterministic.
func sealWithRandomIV(k *BlockKey, pt []byte) []byte {
	out := make([]byte, 1+NonceSize)
	out[0] = byte(k.suite)
	rand.Read(out[1:])
	aead, nonce, ad := k.aead(out[1:])
	return aead.Seal(out, nonce, pt, out[:ad])
}

func TestSealPanicsOversized(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		defer func() {
			if recover() == nil {
				t.Fatal("Seal did not panic")
			}
		}()
		blockKey(t, testKey(1), s).Seal(make([]byte, MaxBlockSize+1))
	})
}

// TestNoPlaintextInCiphertext seals blocks full of a recognisable marker
// and looks for the marker, and for any 8-byte run of it, in the output.
func TestNoPlaintextInCiphertext(t *testing.T) {
	const marker = "PEER-SECRET-MARKER-7f3a"
	eachSuite(t, func(t *testing.T, s Suite) {
		ck, err := NewContentKey()
		if err != nil {
			t.Fatal(err)
		}
		k := blockKey(t, ck, s)
		var all bytes.Buffer
		for i := range 100 {
			block := []byte(strings.Repeat(marker, 10+i) + fmt.Sprint(i))
			all.Write(k.Seal(block))
		}
		out := all.Bytes()
		for i := 0; i+8 <= len(marker); i++ {
			if bytes.Contains(out, []byte(marker[i:i+8])) {
				t.Fatalf("ciphertext contains %q", marker[i:i+8])
			}
		}
	})
}

// BenchmarkSeal and BenchmarkOpen: each suite on 256 KiB blocks (about
// the chunker's average); compare the suites within one run.
func BenchmarkSeal(b *testing.B) {
	pt := pattern(256<<10, 3)
	for _, s := range Suites {
		b.Run(s.String(), func(b *testing.B) {
			k := blockKey(b, testKey(1), s)
			buf := make([]byte, 0, len(pt)+Overhead)
			d := Digest(pt)
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				k.SealDigestAppend(buf[:0], pt, d)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, s := range Suites {
		b.Run(s.String(), func(b *testing.B) {
			k := blockKey(b, testKey(1), s)
			sealed := k.Seal(pattern(256<<10, 3))
			buf := make([]byte, 0, len(sealed))
			b.SetBytes(int64(len(sealed) - Overhead))
			for b.Loop() {
				if _, _, err := k.OpenDigestAppend(buf[:0], sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealParts measures the passes Open makes, on their own, so
// that BenchmarkOpen can be read as a ratio to them in the same run.
func BenchmarkSealParts(b *testing.B) {
	pt := pattern(256<<10, 3)
	k := blockKey(b, testKey(1), SuiteAES256GCM)
	b.Run("blake3", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			d := Digest(pt)
			k.syntheticIV(&d)
		}
	})
	for _, s := range Suites {
		b.Run(s.String()+"-only", func(b *testing.B) {
			k := blockKey(b, testKey(1), s)
			iv := make([]byte, NonceSize)
			out := make([]byte, 0, len(pt)+TagSize)
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				aead, nonce, _ := k.aead(iv)
				aead.Seal(out[:0], nonce, pt, nil)
			}
		})
	}
}

// The buffer-reusing forms give exactly the bytes of Seal and Open, also
// when sealing in place (the plaintext where the ciphertext goes).
func TestSealOpenAppend(t *testing.T) {
	eachSuite(t, func(t *testing.T, s Suite) {
		k := blockKey(t, testKey(3), s)
		for _, n := range []int{0, 1, 1000, 300 << 10} {
			pt := make([]byte, n)
			rand.Read(pt)
			want := k.Seal(pt)

			buf := make([]byte, 1+NonceSize+n, n+Overhead+7)
			copy(buf[1+NonceSize:], pt)
			got := k.SealDigestAppend(buf[:0], buf[1+NonceSize:], Digest(pt))
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: sealing in place differs from Seal", n)
			}
			got = k.SealDigestAppend([]byte("prefix"), pt, Digest(pt))
			if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) {
				t.Fatalf("%d bytes: appending seal differs from Seal", n)
			}

			out, d, err := k.OpenDigestAppend([]byte("ab"), want)
			if err != nil || string(out[:2]) != "ab" || !bytes.Equal(out[2:], pt) || d != Digest(pt) {
				t.Fatalf("%d bytes: OpenDigestAppend: %v", n, err)
			}
			bad := bytes.Clone(want)
			bad[len(bad)-1] ^= 1
			if _, _, err := k.OpenDigestAppend(make([]byte, 0, n), bad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("%d bytes: tampered block: %v", n, err)
			}
		}
	})
}

func TestCheck(t *testing.T) {
	var ck ContentKey
	for i := range ck {
		ck[i] = byte(i + 1)
	}
	otherKey := ck
	otherKey[0] ^= 1
	eachSuite(t, func(t *testing.T, s Suite) {
		k, other := blockKey(t, ck, s), blockKey(t, otherKey, s)
		plain := []byte("a block of a shared MiMei")
		sealed := k.Seal(plain)
		got, ok := SealedCheck(sealed)
		if !ok || got != k.Check(Digest(plain)) {
			t.Fatalf("SealedCheck %x (%v), Check %x", got, ok, k.Check(Digest(plain)))
		}
		tests := []struct {
			name string
			want bool
			a, b [CheckSize]byte
		}{
			{"other plaintext", false, k.Check(Digest(plain)), k.Check(Digest([]byte("another block")))},
			{"other key", false, k.Check(Digest(plain)), other.Check(Digest(plain))},
			{"same", true, k.Check(Digest(plain)), k.Check(Digest(append([]byte(nil), plain...)))},
		}
		for _, tc := range tests {
			if (tc.a == tc.b) != tc.want {
				t.Errorf("%s: equal = %v", tc.name, tc.a == tc.b)
			}
		}
		for _, bad := range [][]byte{nil, sealed[:Overhead-1], append([]byte{0x01}, sealed[1:]...), append([]byte{0x04}, sealed[1:]...)} {
			if _, ok := SealedCheck(bad); ok {
				t.Errorf("SealedCheck accepted %d bytes starting %x", len(bad), bad[:min(1, len(bad))])
			}
		}
	})
}
