package pairing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// abandonArt is the BIP-39 test phrase the identity tests use too.
const abandonArt = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art"

// v2Fixture is persona 0 of abandon…art at epoch 2, with encryption
// generations 0 of epoch 1, 0 of epoch 2 and 1 of epoch 2, a shower device
// (seed 0x01×32) and a joiner device (seed 0x02×32), and the same for
// persona 1 (separate, one generation).
type v2Fixture struct {
	root   *identity.Root
	keys   *PersonaKeys // persona 0
	other  *PersonaKeys // persona 1, separate
	joiner ed25519.PrivateKey
	sepKey ed25519.PrivateKey // the joiner's device key for persona 1
	joined *JoinedV2
}

// must returns v, panicking on err (fixtures and encodings that cannot
// fail unless the test itself is wrong).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func encGen(t testing.TB, opKey ed25519.PrivateKey, op *identity.OpCert, gen uint32, priv hpke.PrivateKey) EncGen {
	t.Helper()
	c := must(identity.IssueEncKeyCert(opKey, op, gen, priv.PublicKey(), now))
	return EncGen{Priv: priv, Cert: c, Op: op}
}

func personaKeys(t testing.TB, root *identity.Root, index, epoch uint32, name string, separate bool, shower ed25519.PrivateKey) *PersonaKeys {
	t.Helper()
	op := must(identity.IssueOpCert(root, index, epoch, 0, now))
	opKey := root.OperationalKey(index, epoch)
	rec := must(root.RecoveryKey(index))
	p := &PersonaKeys{Index: index, Name: name, Separate: separate, Op: op, OpKey: opKey, RecoveryPub: rec.PublicKey()}
	if epoch > 1 {
		op1 := must(identity.IssueOpCert(root, index, 1, 0, now))
		p.EncGens = append(p.EncGens, encGen(t, root.OperationalKey(index, 1), op1, 0, must(root.EncryptionKey0(index, 1))))
	}
	p.EncGens = append(p.EncGens, encGen(t, opKey, op, 0, must(root.EncryptionKey0(index, epoch))))
	dev := must(identity.IssueDeviceCert(opKey, op, shower.Public().(ed25519.PublicKey), now, 0))
	p.Credential = &identity.Credential{Op: op, Device: dev}
	return p
}

func newV2Fixture(t testing.TB) *v2Fixture {
	t.Helper()
	root := must(identity.RootFromMnemonic(abandonArt))
	t.Cleanup(root.Wipe)
	shower := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	f := &v2Fixture{root: root,
		joiner: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)),
		sepKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))}
	f.keys = personaKeys(t, root, 0, 2, "default", false, shower)
	g1 := must(identity.NewEncryptionKey())
	f.keys.EncGens = append(f.keys.EncGens, encGen(t, f.keys.OpKey, f.keys.Op, 1, g1))
	f.other = personaKeys(t, root, 1, 1, "work", true, shower)
	f.joined = &JoinedV2{Name: "laptop", Certs: []JoinedCert{
		f.cert(t, f.keys, f.joiner, []string{"/ip4/127.0.0.1/udp/4001/quic-v1"}),
		f.cert(t, f.other, f.sepKey, []string{"/ip4/127.0.0.1/udp/4002/quic-v1"}),
	}}
	return f
}

func (f *v2Fixture) cert(t testing.TB, p *PersonaKeys, dev ed25519.PrivateKey, addrs []string) JoinedCert {
	t.Helper()
	c := must(identity.IssueDeviceCert(p.OpKey, p.Op, dev.Public().(ed25519.PublicKey), now, 0))
	return JoinedCert{Index: p.Index, Cert: c, Addrs: addrs}
}

// typedV2 reports whether err is one a caller of the format-2 parsers and
// verifiers branches on.
func typedV2(err error) bool {
	for _, e := range []error{ErrMalformed, ErrStale, identity.ErrMalformed, identity.ErrUnsupportedVersion,
		identity.ErrBadSignature, identity.ErrExpired, identity.ErrRevoked, identity.ErrPersonaMismatch,
		identity.ErrEpochMismatch, identity.ErrStaleEpoch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func TestV2ProtocolID(t *testing.T) {
	if ProtocolIDV2 != "/peer/pair/2.0.0" || ProtocolID != "/peer/pair/1.0.0" {
		t.Fatalf("protocol IDs %q, %q", ProtocolID, ProtocolIDV2)
	}
}

func TestWelcomeV2RoundTrip(t *testing.T) {
	for _, w := range []*WelcomeV2{{OK: true, Personas: 1}, {OK: true, Personas: MaxPersonas, Message: "hi"}, {Message: "wrong code"}} {
		b := must(EncodeWelcomeV2(w))
		if got, err := ParseWelcomeV2(b); err != nil || *got != *w {
			t.Fatalf("welcome %+v: %+v, %v", w, got, err)
		}
		if _, err := ParseWelcome(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("a format-1 reader took a format-2 welcome: %v", err)
		}
	}
	v1 := must(EncodeWelcome(testWelcome()))
	if _, err := ParseWelcomeV2(v1); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("a format-1 welcome: %v", err)
	}
}

func TestWelcomeV2Rules(t *testing.T) {
	for _, w := range []*WelcomeV2{{OK: true}, {OK: true, Personas: MaxPersonas + 1}, {Personas: 1}, {OK: true, Personas: 1, Message: "a\x07"},
		{Message: strings.Repeat("m", MaxMessage+1)}} {
		if _, err := EncodeWelcomeV2(w); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%+v: %v", w, err)
		}
	}
	b := must(codec.Marshal(&welcomeV2Wire{Version: VersionV2, OK: true, Personas: MaxPersonas + 1}))
	if _, err := ParseWelcomeV2(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("parse with too many personas: %v", err)
	}
}

func TestPersonaKeysRoundTrip(t *testing.T) {
	f := newV2Fixture(t)
	for _, p := range []*PersonaKeys{f.keys, f.other} {
		b := must(EncodePersonaKeys(p))
		got := must(ParsePersonaKeys(b))
		if err := got.Verify(now); err != nil {
			t.Fatalf("verify %q: %v", p.Name, err)
		}
		if again := must(EncodePersonaKeys(got)); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
		if got.Index != p.Index || got.Name != p.Name || got.Separate != p.Separate || got.Persona() != p.Op.Persona ||
			got.Epoch() != p.Op.Epoch || !got.OpKey.Equal(p.OpKey) || len(got.EncGens) != len(p.EncGens) {
			t.Fatalf("round trip: %+v", got)
		}
		for i, g := range got.EncGens {
			if !bytes.Equal(g.Priv.PublicKey().Bytes(), p.EncGens[i].Priv.PublicKey().Bytes()) {
				t.Fatalf("generation %d: another key", i)
			}
		}
	}
}

func TestPersonaKeysVerifyErrors(t *testing.T) {
	f := newV2Fixture(t)
	tests := []struct {
		name string
		edit func(p *PersonaKeys)
		want error
	}{
		{"operational key of another epoch", func(p *PersonaKeys) { p.OpKey = f.root.OperationalKey(0, 1) }, identity.ErrPersonaMismatch},
		{"recovery key of another persona", func(p *PersonaKeys) { p.RecoveryPub = f.other.RecoveryPub }, identity.ErrPersonaMismatch},
		{"generation of another persona", func(p *PersonaKeys) { p.EncGens = append(p.EncGens, f.other.EncGens[0]) }, identity.ErrPersonaMismatch},
		{"generation with another private key", func(p *PersonaKeys) { p.EncGens[0].Priv = p.EncGens[1].Priv }, identity.ErrPersonaMismatch},
		{"generation under the wrong operational certificate", func(p *PersonaKeys) { p.EncGens[0].Op = p.Op }, identity.ErrEpochMismatch},
		{"generation of a later epoch", func(p *PersonaKeys) {
			op3 := must(identity.IssueOpCert(f.root, 0, 3, 0, now))
			p.EncGens = append(p.EncGens, encGen(t, f.root.OperationalKey(0, 3), op3, 0, must(f.root.EncryptionKey0(0, 3))))
		}, identity.ErrEpochMismatch},
		{"generation given twice", func(p *PersonaKeys) { p.EncGens = append(p.EncGens, p.EncGens[0]) }, ErrMalformed},
		{"credential of an earlier epoch", func(p *PersonaKeys) {
			p.Credential = personaKeys(t, f.root, 0, 1, "default", false, f.joiner).Credential
		}, identity.ErrEpochMismatch},
		{"credential of another persona", func(p *PersonaKeys) { p.Credential = f.other.Credential }, identity.ErrPersonaMismatch},
		{"expired credential", func(p *PersonaKeys) {
			dev := must(identity.IssueDeviceCert(p.OpKey, p.Op, f.joiner.Public().(ed25519.PublicKey), now.Add(-2*time.Hour), time.Hour))
			p.Credential = &identity.Credential{Op: p.Op, Device: dev}
		}, identity.ErrExpired},
		{"operational certificate not signed by the root", func(p *PersonaKeys) {
			op := p.Op.Clone()
			op.Sig[0] ^= 1
			p.Op = op
		}, identity.ErrBadSignature},
		{"no generation", func(p *PersonaKeys) { p.EncGens = nil }, ErrMalformed},
		{"no credential", func(p *PersonaKeys) { p.Credential = nil }, ErrMalformed},
		{"no name", func(p *PersonaKeys) { p.Name = "" }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := *f.keys
			p.EncGens = append([]EncGen(nil), f.keys.EncGens...)
			tt.edit(&p)
			if err := p.Verify(now); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckEpoch(t *testing.T) {
	f := newV2Fixture(t)
	for _, e := range []uint32{0, 1, 2} {
		if err := f.keys.CheckEpoch(e); err != nil {
			t.Fatalf("record epoch %d: %v", e, err)
		}
	}
	if err := f.keys.CheckEpoch(3); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "epoch 3") {
		t.Fatalf("record epoch 3: %v", err)
	}
}

func TestJoinedV2RoundTripAndVerify(t *testing.T) {
	f := newV2Fixture(t)
	b := must(EncodeJoinedV2(f.joined))
	got := must(ParseJoinedV2(b))
	if again := must(EncodeJoinedV2(got)); !bytes.Equal(again, b) {
		t.Fatal("re-encoding differs")
	}
	if got.Name != "laptop" || len(got.Certs) != 2 || got.Certs[1].Addrs[0] != f.joined.Certs[1].Addrs[0] {
		t.Fatalf("round trip: %+v", got)
	}
	shared, err := got.Verify([]*PersonaKeys{f.keys, f.other}, now)
	if err != nil || !shared.Equal(f.joiner.Public()) {
		t.Fatalf("verify: %x, %v", shared, err)
	}
}

func TestJoinedV2VerifyErrors(t *testing.T) {
	f := newV2Fixture(t)
	third := personaKeys(t, f.root, 2, 1, "club", false, f.joiner)
	tests := []struct {
		name string
		keys []*PersonaKeys
		edit func(j *JoinedV2)
		want error
	}{
		{"fewer certificates than personas", []*PersonaKeys{f.keys, f.other, third}, nil, ErrMalformed},
		{"certificates in another order", []*PersonaKeys{f.other, f.keys}, nil, ErrMalformed},
		{"certificate under an earlier epoch", []*PersonaKeys{f.keys, f.other}, func(j *JoinedV2) {
			old := personaKeys(t, f.root, 0, 1, "default", false, f.joiner)
			j.Certs[0] = f.cert(t, old, f.joiner, nil)
		}, identity.ErrEpochMismatch},
		{"separate persona shares the device key", []*PersonaKeys{f.keys, f.other}, func(j *JoinedV2) {
			j.Certs[1] = f.cert(t, f.other, f.joiner, nil)
		}, identity.ErrPersonaMismatch},
		{"non-separate personas with two device keys", []*PersonaKeys{f.keys, f.other, third}, func(j *JoinedV2) {
			j.Certs = append(j.Certs, f.cert(t, third, f.sepKey, nil))
		}, identity.ErrPersonaMismatch},
		{"a persona certified twice", []*PersonaKeys{f.keys, f.other}, func(j *JoinedV2) { j.Certs[1] = j.Certs[0] }, ErrMalformed},
		{"no certificates", nil, func(j *JoinedV2) { j.Certs = nil }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &JoinedV2{Name: f.joined.Name, Certs: append([]JoinedCert(nil), f.joined.Certs...)}
			if tt.edit != nil {
				tt.edit(j)
			}
			if _, err := j.Verify(tt.keys, now); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	j := &JoinedV2{Name: "x", Certs: append(f.joined.Certs[:1:1], f.cert(t, third, f.joiner, nil))}
	if shared, err := j.Verify([]*PersonaKeys{f.keys, third}, now); err != nil || !shared.Equal(f.joiner.Public()) {
		t.Fatalf("two shared personas: %v", err)
	}
}

// TestPersonaKeysByteFlips flips every byte of an encoded PersonaKeys
// (one generation, to keep it quick; all bits, and the lowest): each
// result is refused with a typed error by the parser or by Verify, or it
// differs from the original only in the fields that are the shower's word
// (Index, Name, Separate).
func TestPersonaKeysByteFlips(t *testing.T) {
	f := newV2Fixture(t)
	keys := f.other
	orig := must(EncodePersonaKeys(keys))
	refused, unsigned := 0, 0
	defer func() {
		t.Logf("%d bytes: %d flips refused, %d changed an unsigned field", len(orig), refused, unsigned)
	}()
	flips := []byte{0xff, 0x01}
	if testing.Short() {
		flips = flips[:1]
	}
	for i := range orig {
		for _, x := range flips {
			b := bytes.Clone(orig)
			b[i] ^= x
			p, err := ParsePersonaKeys(b)
			if err == nil {
				err = p.Verify(now)
			}
			if err != nil {
				if !typedV2(err) {
					t.Fatalf("byte %d ^ %#x: untyped error %v", i, x, err)
				}
				refused++
				continue
			}
			unsigned++
			if p.Index == keys.Index && p.Name == keys.Name && p.Separate == keys.Separate {
				t.Fatalf("byte %d ^ %#x: flipped message verifies as the same persona keys", i, x)
			}
			p.Index, p.Name, p.Separate = keys.Index, keys.Name, keys.Separate
			if again := must(EncodePersonaKeys(p)); !bytes.Equal(again, orig) {
				t.Fatalf("byte %d ^ %#x: a flip outside the unsigned fields verifies", i, x)
			}
		}
	}
}

// TestJoinedV2ByteFlips: as for PersonaKeys; the unsigned fields are the
// device name and the addresses.
func TestJoinedV2ByteFlips(t *testing.T) {
	f := newV2Fixture(t)
	keys := []*PersonaKeys{f.keys, f.other}
	orig := must(EncodeJoinedV2(f.joined))
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 0xff
		j, err := ParseJoinedV2(b)
		if err == nil {
			_, err = j.Verify(keys, now)
		}
		if err != nil {
			if !typedV2(err) {
				t.Fatalf("byte %d: untyped error %v", i, err)
			}
			continue
		}
		j.Name = f.joined.Name
		for k := range j.Certs {
			j.Certs[k].Addrs = f.joined.Certs[k].Addrs
		}
		if again := must(EncodeJoinedV2(j)); !bytes.Equal(again, orig) {
			t.Fatalf("byte %d: a flip outside the name and addresses verifies", i)
		}
		if bytes.Equal(b, orig) {
			t.Fatalf("byte %d: flip did nothing", i)
		}
	}
}

func TestWelcomeV2ByteFlips(t *testing.T) {
	orig := must(EncodeWelcomeV2(&WelcomeV2{OK: true, Personas: 2, Message: "ok"}))
	for i := range orig {
		for _, x := range []byte{0x01, 0xff} {
			b := bytes.Clone(orig)
			b[i] ^= x
			w, err := ParseWelcomeV2(b)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("byte %d: untyped error %v", i, err)
				}
				continue
			}
			if again := must(EncodeWelcomeV2(w)); !bytes.Equal(again, b) {
				t.Fatalf("byte %d: accepted a non-canonical welcome", i)
			}
		}
	}
}

// TestV2Limits checks the limits a reader enforces before trusting sizes.
func TestV2Limits(t *testing.T) {
	f := newV2Fixture(t)
	good := must(EncodePersonaKeys(f.keys))
	var w personaKeysWire
	if err := codec.Unmarshal(good, &w); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(w *personaKeysWire)
	}{
		{"too many generations", func(w *personaKeysWire) {
			for len(w.EncGens) <= MaxEncGens {
				w.EncGens = append(w.EncGens, w.EncGens[0])
			}
		}},
		{"no generation", func(w *personaKeysWire) { w.EncGens = nil }},
		{"operational key of 64 bytes", func(w *personaKeysWire) { w.OpKey = f.keys.OpKey }},
		{"short recovery key", func(w *personaKeysWire) { w.RecoveryPub = w.RecoveryPub[:32] }},
		{"encryption key of 64 bytes", func(w *personaKeysWire) {
			w.EncGens = append([]encGenWire(nil), w.EncGens...)
			w.EncGens[0].Priv = bytes.Repeat([]byte{9}, SeedLen)
		}},
		{"oversized operational certificate", func(w *personaKeysWire) { w.OpCert = make([]byte, MaxOpCertLen+1) }},
		{"oversized credential", func(w *personaKeysWire) { w.Credential = make([]byte, MaxCredentialLen+1) }},
		{"name too long", func(w *personaKeysWire) { w.Name = strings.Repeat("n", MaxNameLen+1) }},
		{"credential is an operational certificate", func(w *personaKeysWire) { w.Credential = w.OpCert }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := w
			tt.edit(&c)
			b := must(codec.Marshal(&c))
			if _, err := ParsePersonaKeys(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}

	t.Run("the most generations fit a frame", func(t *testing.T) {
		p := *f.keys
		for len(p.EncGens) < MaxEncGens {
			g := must(identity.NewEncryptionKey())
			p.EncGens = append(p.EncGens, encGen(t, p.OpKey, p.Op, uint32(len(p.EncGens)), g))
		}
		b := must(EncodePersonaKeys(&p))
		if len(b) > MaxFrameV2 {
			t.Fatalf("%d bytes", len(b))
		}
		t.Logf("persona keys with %d generations: %d bytes", len(p.EncGens), len(b))
		p.EncGens = append(p.EncGens, p.EncGens[0])
		if _, err := EncodePersonaKeys(&p); !errors.Is(err, ErrMalformed) {
			t.Fatalf("one generation too many: %v", err)
		}
	})
	t.Run("oversized input", func(t *testing.T) {
		big := append(bytes.Clone(good), make([]byte, MaxFrameV2)...)
		for _, parse := range []func([]byte) error{
			func(b []byte) error { _, err := ParsePersonaKeys(b); return err },
			func(b []byte) error { _, err := ParseJoinedV2(b); return err },
			func(b []byte) error { _, err := ParseWelcomeV2(b); return err },
		} {
			if err := parse(big); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "limit") {
				t.Fatalf("err = %v", err)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, make([]byte, MaxFrameV2+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadV2(&buf); err == nil {
			t.Fatal("an oversized frame was read")
		}
	})
	t.Run("too many joined certificates", func(t *testing.T) {
		j := &JoinedV2{Certs: make([]JoinedCert, MaxPersonas+1)}
		for i := range j.Certs {
			j.Certs[i] = JoinedCert{Index: uint32(i), Cert: f.joined.Certs[0].Cert}
		}
		if _, err := EncodeJoinedV2(j); !errors.Is(err, ErrMalformed) {
			t.Fatalf("encode: %v", err)
		}
		cert := must(f.joined.Certs[0].Cert.Marshal())
		jw := joinedV2Wire{Version: VersionV2}
		for i := 0; i <= MaxPersonas; i++ {
			jw.Certs = append(jw.Certs, joinedCertWire{Index: uint32(i), Cert: cert})
		}
		if _, err := ParseJoinedV2(must(codec.Marshal(&jw))); !errors.Is(err, ErrMalformed) {
			t.Fatalf("parse: %v", err)
		}
	})
}

// byteFieldSizes is every byte-string field of the format-2 wire types and
// what bounds it: an exact length, or a certificate the identity parser
// reads. A field added to a wire type fails TestV2NoSeedField until it is
// listed here, so that no field can carry a seed unnoticed.
var byteFieldSizes = map[string]int{
	"personaKeysWire.OpCert":      -MaxOpCertLen,
	"personaKeysWire.OpKey":       OpKeyLen,
	"personaKeysWire.RecoveryPub": identity.EncryptionPublicKeySize,
	"personaKeysWire.Credential":  -MaxCredentialLen,
	"encGenWire.Priv":             EncPrivLen,
	"encGenWire.Cert":             -MaxEncCertLen,
	"encGenWire.OpCert":           -MaxOpCertLen,
	"joinedCertWire.Cert":         -MaxDevCertLen,
}

func byteFields(t reflect.Type, out map[string]bool) {
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Pointer:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		byteFields(t.Elem(), out)
	case reflect.Struct:
		for i := range t.NumField() {
			fl := t.Field(i)
			if fl.Name == "_" {
				continue
			}
			if strings.Contains(strings.ToLower(fl.Name), "seed") || strings.Contains(strings.ToLower(fl.Name), "root") {
				out[t.Name()+"."+fl.Name+" (named like a seed)"] = true
			}
			k := fl.Type.Kind()
			if (k == reflect.Slice || k == reflect.Array) && fl.Type.Elem().Kind() == reflect.Uint8 {
				out[t.Name()+"."+fl.Name] = true
				continue
			}
			if k == reflect.Interface || k == reflect.Map {
				out[t.Name()+"."+fl.Name+" (untyped)"] = true
			}
			byteFields(fl.Type, out)
		}
	}
}

// TestV2NoSeedField is the structural test: no format-2 message has a
// field that can carry a seed (a 64-byte secret). Every byte string is
// either of a fixed length other than SeedLen or a certificate that the
// identity parser reads (whose only 64-byte field is a signature that
// Verify checks).
func TestV2NoSeedField(t *testing.T) {
	found := map[string]bool{}
	for _, v := range []any{welcomeV2Wire{}, personaKeysWire{}, joinedV2Wire{}} {
		byteFields(reflect.TypeOf(v), found)
	}
	for name := range found {
		size, ok := byteFieldSizes[name]
		if !ok {
			t.Errorf("field %s is not accounted for in byteFieldSizes", name)
		}
		if size == SeedLen {
			t.Errorf("field %s is seed-sized", name)
		}
	}
	for name := range byteFieldSizes {
		if !found[name] {
			t.Errorf("byteFieldSizes lists %s, which is gone", name)
		}
	}

	// And what is sent holds neither the seed nor a root or recovery
	// private key.
	f := newV2Fixture(t)
	var sent []byte
	for _, p := range []*PersonaKeys{f.keys, f.other} {
		sent = append(sent, must(EncodePersonaKeys(p))...)
	}
	sent = append(sent, must(EncodeJoinedV2(f.joined))...)
	secrets := map[string][]byte{"seed": f.root.Seed()}
	for _, i := range []uint32{0, 1} {
		secrets["root key"] = f.root.PersonaRoot(i).Seed()
		rec := must(f.root.RecoveryKey(i))
		secrets["recovery key"] = must(rec.Bytes())
		for what, s := range secrets {
			for k := 0; k+16 <= len(s); k += 8 {
				if bytes.Contains(sent, s[k:k+16]) {
					t.Fatalf("the messages carry part of the %s of persona %d", what, i)
				}
			}
		}
	}
}
