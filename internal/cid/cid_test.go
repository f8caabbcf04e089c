package cid

import (
	"errors"
	"strings"
	"testing"

	gocid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestSumVerifyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		codec uint64
		data  string
	}{{Raw, ""}, {Raw, "hello"}, {DagCBOR, "\x80"}} {
		c := Sum(tc.codec, []byte(tc.data))
		if err := Verify(c, []byte(tc.data)); err != nil {
			t.Fatal(err)
		}
		if err := Verify(c, []byte(tc.data+"x")); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), c.String()) {
			t.Fatalf("tampered: %v", err)
		}
		p, err := Parse(c.String())
		if err != nil || p != c {
			t.Fatalf("parse %s: %v", c, err)
		}
		b, err := Cast(c.Bytes())
		if err != nil || b != c {
			t.Fatalf("cast: %v", err)
		}
		d, err := Digest(c)
		if err != nil || FromDigest(tc.codec, d) != c {
			t.Fatalf("digest: %v", err)
		}
	}
	// Known answer: BLAKE3("") = af1349b9…
	d, _ := Digest(Sum(Raw, nil))
	if got := string([]byte{d[0], d[1]}); got != "\xaf\x13" {
		t.Fatalf("BLAKE3 of empty input starts %x", d[:2])
	}
}

func TestRejects(t *testing.T) {
	sha, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	v0 := gocid.NewCidV0(sha)
	other := gocid.NewCidV1(gocid.DagProtobuf, Sum(Raw, nil).Hash())
	for _, tc := range []struct {
		name string
		s    string
	}{{"empty", ""}, {"garbage", "not-a-cid"}, {"cidv0 sha256", v0.String()}, {"sha256 v1", gocid.NewCidV1(Raw, sha).String()},
		{"other codec", other.String()}, {"too long", strings.Repeat("b", 200)}} {
		if _, err := Parse(tc.s); !errors.Is(err, ErrBadCID) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := Cast(make([]byte, 100)); !errors.Is(err, ErrBadCID) {
		t.Error("oversized cast accepted")
	}
	if err := Verify(Undef, nil); !errors.Is(err, ErrBadCID) {
		t.Error("undefined CID verified")
	}
}

func FuzzCast(f *testing.F) {
	f.Add(Sum(Raw, []byte("a")).Bytes())
	f.Add(Sum(DagCBOR, nil).Bytes())
	f.Add([]byte{1, 0x55, 0x1e, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Cast(b)
		if err == nil && (c.ByteLen() != len(b) || Check(c) != nil) {
			t.Fatalf("accepted %x as %s", b, c)
		}
	})
}

func BenchmarkSum(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}} {
		buf := make([]byte, tc.n)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(tc.n))
			for b.Loop() {
				Sum(Raw, buf)
			}
		})
	}
}
