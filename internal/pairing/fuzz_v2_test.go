package pairing

import (
	"bytes"
	"testing"
)

// The format-2 fuzz targets: whatever a parser accepts encodes back to the
// same bytes, and verifying it never panics. Seeds: the fixture's messages
// and a format-1 message of each kind.

func FuzzWelcomeV2(f *testing.F) {
	f.Add(must(EncodeWelcomeV2(&WelcomeV2{Message: "wrong code"})))
	f.Add(must(EncodeWelcome(testWelcome())))
	fuzzMessage(f, must(EncodeWelcomeV2(&WelcomeV2{OK: true, Personas: 2})), ParseWelcomeV2, EncodeWelcomeV2)
}

func FuzzPersonaKeys(f *testing.F) {
	fx := newV2Fixture(f)
	f.Add(must(EncodePersonaKeys(fx.other)))
	f.Add(must(EncodeWelcomeV2(&WelcomeV2{OK: true, Personas: 1})))
	f.Add(must(EncodeJoinedV2(fx.joined)))
	f.Add(must(EncodePersonaKeys(fx.keys)))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePersonaKeys(in)
		if err != nil {
			return
		}
		b, err := EncodePersonaKeys(p)
		if err != nil {
			t.Fatalf("accepted persona keys it cannot encode: %v", err)
		}
		if !bytes.Equal(b, in) {
			t.Fatal("re-encoding differs")
		}
		if err := p.Verify(now); err != nil && !typedV2(err) {
			t.Fatalf("untyped error %v", err)
		}
		_ = p.CheckEpoch(p.Epoch() + 1)
	})
}

func FuzzJoinedV2(f *testing.F) {
	fx := newV2Fixture(f)
	keys := []*PersonaKeys{fx.keys, fx.other}
	f.Add(must(EncodeJoined(&Joined{Device: Device{Cert: []byte("c")}})))
	f.Add(must(EncodeJoinedV2(&JoinedV2{Certs: fx.joined.Certs[1:]})))
	f.Add(must(EncodeJoinedV2(fx.joined)))
	f.Fuzz(func(t *testing.T, in []byte) {
		j, err := ParseJoinedV2(in)
		if err != nil {
			return
		}
		b, err := EncodeJoinedV2(j)
		if err != nil {
			t.Fatalf("accepted a joined it cannot encode: %v", err)
		}
		if !bytes.Equal(b, in) {
			t.Fatal("re-encoding differs")
		}
		if _, err := j.Verify(keys, now); err != nil && !typedV2(err) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
