package codec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// record is shaped like the signed records in internal/identity.
type record struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Name    string
	Key     []byte
	Serial  uint64
	At      int64
}

// named is a map-encoded struct, to exercise unknown-field rejection.
type named struct {
	A int    `cbor:"a"`
	B string `cbor:"b"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestMarshalKnownEncodings(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"small uint", uint64(1), "01"},
		{"uint needs one byte", uint64(24), "18 18"},
		{"uint needs two bytes", uint64(256), "19 0100"},
		{"negative", int64(-1), "20"},
		{"float shortest", 1.5, "f9 3e00"},
		{"text", "a", "61 61"},
		{"bytes", []byte{1, 2}, "42 0102"},
		{"nil bytes encode as empty", []byte(nil), "40"},
		{"map keys sorted shortest first", map[string]int{"bb": 2, "a": 1, "c": 3}, "a3 6161 01 6163 03 626262 02"},
		{"toarray struct", record{Version: 1, Name: "x", Key: []byte{0xff}, Serial: 2, At: -2}, "85 01 6178 41ff 02 21"},
		{"map struct", named{A: 1, B: "z"}, "a2 6161 01 6162 617a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("Marshal = %x, want %x", got, want)
			}
		})
	}
}

func TestMarshalTooLarge(t *testing.T) {
	_, err := Marshal(make([]byte, MaxRecordSize))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Marshal of %d bytes: err = %v, want ErrTooLarge", MaxRecordSize, err)
	}
}

func TestMarshalMapOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.MapOf(rapid.String(), rapid.Int64()).Draw(t, "m")
		a, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild the map in a different insertion order.
		c := make(map[string]int64, len(m))
		keys := reflect.ValueOf(m).MapKeys()
		for i := len(keys) - 1; i >= 0; i-- {
			k := keys[i].String()
			c[k] = m[k]
		}
		b, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("equal maps encode differently: %x vs %x", a, b)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := record{
			Version: rapid.Uint16().Draw(t, "version"),
			Name:    rapid.String().Draw(t, "name"),
			Key:     rapid.SliceOfN(rapid.Byte(), 1, 100).Draw(t, "key"),
			Serial:  rapid.Uint64().Draw(t, "serial"),
			At:      rapid.Int64().Draw(t, "at"),
		}
		b, err := Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out record
		if err := Unmarshal(b, &out); err != nil {
			t.Fatalf("Unmarshal(%x): %v", b, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip: got %+v, want %+v", out, in)
		}
	})
}

func TestUnmarshalRejects(t *testing.T) {
	nested := strings.Repeat("81", MaxNestingLevels+1) + "01"
	manyElems := "99 1001" + strings.Repeat("00", MaxArrayElements+1)
	tests := []struct {
		name    string
		input   []byte
		target  func() any
		wantErr error
	}{
		{"empty input", nil, func() any { return new(any) }, ErrMalformed},
		{"too large", make([]byte, MaxRecordSize+1), func() any { return new(any) }, ErrTooLarge},
		{"trailing bytes", unhex(t, "01 01"), func() any { return new(any) }, ErrMalformed},
		{"truncated", unhex(t, "62 61"), func() any { return new(string) }, ErrMalformed},
		{"indefinite array", unhex(t, "9f 01 ff"), func() any { return new(any) }, ErrMalformed},
		{"indefinite bytes", unhex(t, "5f 41 01 ff"), func() any { return new([]byte) }, ErrMalformed},
		{"indefinite map", unhex(t, "bf 61 61 01 ff"), func() any { return new(any) }, ErrMalformed},
		{"duplicate map key", unhex(t, "a2 6161 01 6161 02"), func() any { return new(map[string]int) }, ErrMalformed},
		{"duplicate map key into any", unhex(t, "a2 6161 01 6161 02"), func() any { return new(any) }, ErrMalformed},
		{"unknown field", unhex(t, "a3 6161 01 6162 617a 6163 01"), func() any { return new(named) }, ErrMalformed},
		{"field name case differs", unhex(t, "a2 6141 01 6162 617a"), func() any { return new(named) }, ErrMalformed},
		{"array too long for record", unhex(t, "86 01 6178 41ff 02 21 00"), func() any { return new(record) }, ErrMalformed},
		{"array too short for record", unhex(t, "84 01 6178 41ff 02"), func() any { return new(record) }, ErrMalformed},
		{"wrong field type", unhex(t, "85 6178 6178 41ff 02 21"), func() any { return new(record) }, ErrMalformed},
		{"uint16 overflow", unhex(t, "85 1a00010000 6178 41ff 02 21"), func() any { return new(record) }, ErrMalformed},
		{"tag", unhex(t, "c1 1a 5f000000"), func() any { return new(any) }, ErrMalformed},
		{"invalid utf-8", unhex(t, "62 fffe"), func() any { return new(string) }, ErrMalformed},
		{"nesting too deep", unhex(t, nested), func() any { return new(any) }, ErrMalformed},
		{"array too long", unhex(t, manyElems), func() any { return new(any) }, ErrMalformed},
		{"int not shortest", unhex(t, "18 01"), func() any { return new(uint64) }, ErrNonCanonical},
		{"length not shortest", unhex(t, "78 01 61"), func() any { return new(string) }, ErrNonCanonical},
		{"float not shortest", unhex(t, "fb 3ff0000000000000"), func() any { return new(any) }, ErrNonCanonical},
		{"map keys unsorted", unhex(t, "a2 6162 01 6161 02"), func() any { return new(map[string]int) }, ErrNonCanonical},
		{"null for bytes", unhex(t, "85 01 6178 f6 02 21"), func() any { return new(record) }, ErrNonCanonical},
		{"undefined", unhex(t, "f7"), func() any { return new(any) }, ErrNonCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal(tt.input, tt.target())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal(%.40x) err = %v, want %v", tt.input, err, tt.wantErr)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		target func() any
		want   any
	}{
		{"record", "85 01 6178 41ff 02 21", func() any { return new(record) }, record{Version: 1, Name: "x", Key: []byte{0xff}, Serial: 2, At: -2}},
		{"map struct", "a2 6161 01 6162 617a", func() any { return new(named) }, named{A: 1, B: "z"}},
		{"sorted map", "a2 6161 02 6162 01", func() any { return new(map[string]int) }, map[string]int{"a": 2, "b": 1}},
		{"max nesting", strings.Repeat("81", MaxNestingLevels-1) + "01", func() any { return new(any) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.target()
			if err := Unmarshal(unhex(t, tt.input), v); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if tt.want != nil {
				if got := reflect.ValueOf(v).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %#v, want %#v", got, tt.want)
				}
			}
		})
	}
}

func TestUnmarshalLeavesTargetOnError(t *testing.T) {
	m := map[string]int{"keep": 1}
	if err := Unmarshal(unhex(t, "a2 6162 01 6161 02"), &m); err == nil {
		t.Fatal("unsorted map accepted")
	}
	if !reflect.DeepEqual(m, map[string]int{"keep": 1}) {
		t.Fatalf("target changed on error: %v", m)
	}
	// A successful decode replaces the value instead of merging into it.
	if err := Unmarshal(unhex(t, "a1 6161 02"), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]int{"a": 2}) {
		t.Fatalf("decode merged into existing map: %v", m)
	}
}

func TestUnmarshalNeedsPointer(t *testing.T) {
	for _, v := range []any{nil, record{}, (*record)(nil)} {
		if err := Unmarshal([]byte{0x01}, v); err == nil {
			t.Errorf("Unmarshal into %T succeeded", v)
		}
	}
}

func TestSignedMessage(t *testing.T) {
	got := SignedMessage("peer/test", []byte{1, 2})
	want := append([]byte("peer-sig/v1\x00peer/test\x00"), 1, 2)
	if !bytes.Equal(got, want) {
		t.Fatalf("SignedMessage = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "a\x00b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SignedMessage(%q) did not panic", bad)
				}
			}()
			SignedMessage(bad, nil)
		}()
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	body := []byte("body")
	sig := Sign(priv, "peer/a", body)
	plain := ed25519.Sign(priv, body) // signature without domain separation

	tests := []struct {
		name   string
		pub    ed25519.PublicKey
		domain string
		body   []byte
		sig    []byte
		want   bool
	}{
		{"valid", pub, "peer/a", body, sig, true},
		{"other domain", pub, "peer/b", body, sig, false},
		{"domain and body shifted", pub, "peer/a\x00b", []byte("ody"), sig, false},
		{"other body", pub, "peer/a", []byte("bodz"), sig, false},
		{"other key", otherPub, "peer/a", body, sig, false},
		{"signature without domain", pub, "peer/a", body, plain, false},
		{"short key", pub[:31], "peer/a", body, sig, false},
		{"nil key", nil, "peer/a", body, sig, false},
		{"short signature", pub, "peer/a", body, sig[:63], false},
		{"long signature", pub, "peer/a", body, append(append([]byte{}, sig...), 0), false},
		{"empty domain", pub, "", body, sig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.pub, tt.domain, tt.body, tt.sig); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzUnmarshal(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzUnmarshal.
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := Unmarshal(data, &v); err == nil {
			again, err := Marshal(v)
			if err != nil {
				t.Fatalf("accepted input does not re-encode: %v", err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("accepted non-canonical input %x (canonical %x)", data, again)
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNonCanonical) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("untyped error: %v", err)
		}
		var r record
		if err := Unmarshal(data, &r); err == nil {
			again, err := Marshal(r)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("record round trip: %x -> %x, %v", data, again, err)
			}
		}
	})
}
