package pairing

import (
	"bytes"
	"testing"
)

func FuzzParseCode(f *testing.F) {
	f.Add(testCode(f).String())
	f.Add(CodePrefix + "3mJr7AoUXx2Wqd")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s, now)
		if err != nil {
			return
		}
		again, err := ParseCode(c.String(), now)
		if err != nil || again.Secret != c.Secret || !bytes.Equal(again.PeerID, c.PeerID) {
			t.Fatalf("accepted code does not round-trip: %v", err)
		}
	})
}

// fuzzMessage checks that whatever parse accepts encodes back to the same
// bytes (one canonical form, nothing ignored).
func fuzzMessage[M any](f *testing.F, seed []byte, parse func([]byte) (*M, error), enc func(*M) ([]byte, error)) {
	f.Add(seed)
	f.Add([]byte{0x83, 0x01, 0xf5, 0x60})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parse(in)
		if err != nil {
			return
		}
		b, err := enc(m)
		if err != nil {
			t.Fatalf("accepted a message it cannot encode: %v", err)
		}
		if !bytes.Equal(b, in) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzHello(f *testing.F) {
	b, _ := EncodeHello(&Hello{Name: "phone"})
	fuzzMessage(f, b, ParseHello, EncodeHello)
}

func FuzzWelcome(f *testing.F) {
	b, _ := EncodeWelcome(testWelcome())
	fuzzMessage(f, b, ParseWelcome, EncodeWelcome)
}

func FuzzJoined(f *testing.F) {
	b, _ := EncodeJoined(&Joined{Device: Device{Cert: []byte("c"), Addrs: []string{"/ip4/1.2.3.4/tcp/1"}}})
	fuzzMessage(f, b, ParseJoined, EncodeJoined)
}

func FuzzDone(f *testing.F) {
	b, _ := EncodeDone(&Done{OK: true})
	fuzzMessage(f, b, ParseDone, EncodeDone)
}
