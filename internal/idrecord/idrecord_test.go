package idrecord

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
)

// libp2pValidator is go-libp2p-record's Validator interface, restated so
// the package need not import it.
type libp2pValidator interface {
	Validate(key string, value []byte) error
	Select(key string, values [][]byte) (int, error)
}

var _ libp2pValidator = Validator{}

func TestRoundTrip(t *testing.T) {
	p := newPersona(t, 1, 3)
	tests := []struct {
		name   string
		signer int
		edit   func(*Record)
	}{
		{"one device, no addresses", 0, func(r *Record) {
			r.Devices = r.Devices[:1]
			r.Devices[0].Addrs = nil
		}},
		{"all fields", 0, func(r *Record) {
			r.EncKey = bytes.Repeat([]byte{7}, 32)
			r.Mailboxes = []string{"12D3KooWMailboxA", "12D3KooWMailboxB"}
			r.Profile = &Profile{Name: "Ada", About: "Writes notes.\nRuns nodes."}
		}},
		{"signed by the last device", 2, nil},
		{"empty profile", 1, func(r *Record) { r.Profile = &Profile{} }},
		{"maximum lifetime, times off the millisecond", 0, func(r *Record) {
			r.Issued = t0.Add(123456 * time.Nanosecond).In(time.FixedZone("x", 3600))
			r.Expires = t0.Add(MaxLifetime)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.record(42)
			if tt.edit != nil {
				tt.edit(r)
			}
			if err := r.Sign(p.devices[tt.signer]); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if int(r.Signer) != tt.signer || r.Format != Format {
				t.Fatalf("Sign set Signer %d, Format %d; want %d, %d", r.Signer, r.Format, tt.signer, Format)
			}
			b := mustMarshal(t, r)
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("Parse(Marshal(r)) = %+v, want %+v", got, r)
			}
			if err := got.Verify(t0.Add(time.Hour), nil); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if again := mustMarshal(t, got); !bytes.Equal(again, b) {
				t.Fatalf("re-marshal differs:\n%x\n%x", again, b)
			}
			keys := got.DeviceKeys()
			if len(keys) != len(r.Devices) {
				t.Fatalf("DeviceKeys: %d keys for %d devices", len(keys), len(r.Devices))
			}
			for i, k := range keys {
				if !k.Equal(pubOf(p.devices[i])) {
					t.Fatalf("DeviceKeys[%d] is not device %d's key", i, i)
				}
			}
		})
	}
}

// TestRejections feeds encodings to Parse and then Verify and checks the
// typed error.
func TestRejections(t *testing.T) {
	p := newPersona(t, 1, 2)
	other := newPersona(t, 2, 1)
	stranger := keyFromSeed(99)
	now := t0.Add(time.Hour)

	tests := []struct {
		name    string
		enc     func(t *testing.T) []byte
		now     time.Time // zero: now
		revoked func(string, uint64) bool
		want    []error // all must match
	}{
		{"signature byte flipped", func(t *testing.T) []byte {
			r := p.signed(t, 1, nil)
			r.Sig[10] ^= 0x01
			return mustMarshal(t, r)
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"signed by a key with no certificate in the record", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			return signUnchecked(t, r, stranger)
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"signed by the other device than Signer names", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Signer = Format, 0
			return signUnchecked(t, r, p.devices[1])
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"body changed after signing", func(t *testing.T) []byte {
			r := p.signed(t, 1, nil)
			r.Seq++
			return mustMarshal(t, r)
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"address byte tampered in the encoding", func(t *testing.T) []byte {
			b := mustMarshal(t, p.signed(t, 1, nil))
			i := bytes.Index(b, []byte("192.0.2.1"))
			b[i] = '9'
			return b
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"expired", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, nil))
		}, t0.Add(24 * time.Hour), nil, []error{ErrExpired}},
		{"oversized input", func(t *testing.T) []byte {
			return make([]byte, MaxSize+1)
		}, time.Time{}, nil, []error{ErrTooLarge}},
		{"oversized record", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			for i := range r.Devices {
				r.Devices[i].Addrs = nil
				for range MaxAddrs {
					r.Devices[i].Addrs = append(r.Devices[i].Addrs, "/dns/"+strings.Repeat("a", MaxAddrLen-5))
				}
			}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrTooLarge}},
		{"too many devices", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			for len(r.Devices) <= MaxDevices {
				r.Devices = append(r.Devices, r.Devices[0])
			}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"no devices", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Devices = Format, nil
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"too many addresses", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			for len(r.Devices[1].Addrs) <= MaxAddrs {
				r.Devices[1].Addrs = append(r.Devices[1].Addrs, "/ip6/::1/udp/1/quic-v1")
			}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"address with a space", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			r.Devices[0].Addrs[0] = "/ip4/1.2.3.4 /tcp/1"
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"too many mailboxes", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			for range MaxMailboxes + 1 {
				r.Mailboxes = append(r.Mailboxes, "12D3KooWMailbox")
			}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"encryption key too long", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.EncKey = Format, make([]byte, MaxEncKeyLen+1)
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"profile name too long", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Profile = Format, &Profile{Name: strings.Repeat("n", MaxNameLen+1)}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"device certified by another persona", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, func(r *Record) {
				r.Devices = append(r.Devices, Device{Cert: other.certs[0]})
			}))
		}, time.Time{}, nil, []error{ErrUncertified}},
		{"persona is not a did:key", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Persona = Format, "did:web:example.org"
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrUncertified, identity.ErrBadDID}},
		{"certificate that does not parse", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			r.Devices[1].Cert = []byte{0x80}
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrUncertified}},
		{"revoked certificate", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, nil))
		}, time.Time{}, func(persona string, serial uint64) bool {
			return persona == p.did && serial == 2
		}, []error{ErrUncertified, identity.ErrRevoked}},
		{"expired certificate", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, func(r *Record) {
				r.Devices[1].Cert = p.cert(t, pubOf(p.devices[1]), 7, 30*time.Minute)
			}))
		}, time.Time{}, nil, []error{ErrUncertified, identity.ErrExpired}},
		{"duplicate device", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, func(r *Record) {
				// A second certificate (another serial) for device 0's key.
				r.Devices[1].Cert = p.cert(t, pubOf(p.devices[0]), 9, certLife)
			}))
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"signer out of range", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Signer = Format, 2
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrBadSignature}},
		{"unknown format", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format + 1
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrUnsupportedVersion}},
		{"unknown format with another layout", func(t *testing.T) []byte {
			return []byte{0x82, 0x02, 0x60} // [2, ""]
		}, time.Time{}, nil, []error{ErrUnsupportedVersion}},
		{"not an array", func(t *testing.T) []byte {
			return []byte{0x01}
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"issued beyond the clock skew", func(t *testing.T) []byte {
			return mustMarshal(t, p.signed(t, 1, nil))
		}, t0.Add(-ClockSkew - time.Millisecond), nil, []error{ErrMalformed}},
		{"lifetime beyond the maximum", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Expires = Format, t0.Add(MaxLifetime+time.Millisecond)
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"expires before issued", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format, r.Expires = Format, t0
			return signUnchecked(t, r, p.devices[0])
		}, time.Time{}, nil, []error{ErrMalformed}},
		{"unsigned", func(t *testing.T) []byte {
			r := p.record(1)
			r.Format = Format
			return encodeUnchecked(t, r)
		}, time.Time{}, nil, []error{ErrMalformed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.now
			if at.IsZero() {
				at = now
			}
			r, err := Parse(tt.enc(t))
			if err == nil {
				err = r.Verify(at, tt.revoked)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Fatalf("err = %v, want %v", err, w)
				}
			}
		})
	}
}

// TestSkewAndExpiryEdges pins the boundaries of the time rules.
func TestSkewAndExpiryEdges(t *testing.T) {
	p := newPersona(t, 1, 1)
	r := p.signed(t, 1, nil)
	tests := []struct {
		at   time.Time
		want error
	}{
		{t0.Add(-ClockSkew), nil},
		{t0.Add(-ClockSkew - time.Millisecond), ErrMalformed},
		{r.Expires.Add(-time.Millisecond), nil},
		{r.Expires, ErrExpired},
	}
	for _, tt := range tests {
		if err := r.Verify(tt.at, nil); !errors.Is(err, tt.want) {
			t.Errorf("Verify at %v: err = %v, want %v", tt.at, err, tt.want)
		}
	}
}

// TestEveryByteFlipped: no single changed byte yields a valid record.
func TestEveryByteFlipped(t *testing.T) {
	p := newPersona(t, 1, 2)
	good := mustMarshal(t, p.signed(t, 5, func(r *Record) {
		r.Mailboxes = []string{"12D3KooWMailbox"}
		r.EncKey = []byte{1, 2, 3}
		r.Profile = &Profile{Name: "n", About: "a"}
	}))
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		r, err := Parse(b)
		if err == nil {
			err = r.Verify(t0.Add(time.Hour), nil)
		}
		if err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
		if !typed(err) {
			t.Fatalf("byte %d flipped: untyped error %v", i, err)
		}
	}
}

func TestSignErrors(t *testing.T) {
	p := newPersona(t, 1, 2)
	other := newPersona(t, 2, 1)
	tests := []struct {
		name string
		key  ed25519.PrivateKey
		edit func(*Record)
		want error
	}{
		{"key without certificate", keyFromSeed(99), nil, ErrUncertified},
		{"record of another persona", p.devices[0], func(r *Record) { r.Persona = other.did }, ErrUncertified},
		{"too many devices", p.devices[0], func(r *Record) {
			for len(r.Devices) <= MaxDevices {
				r.Devices = append(r.Devices, r.Devices[1])
			}
		}, ErrMalformed},
		{"too many mailboxes", p.devices[0], func(r *Record) { r.Mailboxes = make([]string, MaxMailboxes+1) }, ErrMalformed},
		{"empty mailbox", p.devices[0], func(r *Record) { r.Mailboxes = []string{""} }, ErrMalformed},
		{"control character in name", p.devices[0], func(r *Record) { r.Profile = &Profile{Name: "a\nb"} }, ErrMalformed},
		{"lifetime too long", p.devices[0], func(r *Record) { r.Expires = r.Issued.Add(MaxLifetime + time.Second) }, ErrMalformed},
		{"zero times", p.devices[0], func(r *Record) { r.Issued, r.Expires = time.Time{}, time.Time{} }, ErrMalformed},
		{"too large", p.devices[0], func(r *Record) {
			for i := range r.Devices {
				r.Devices[i].Addrs = nil
				for range MaxAddrs {
					r.Devices[i].Addrs = append(r.Devices[i].Addrs, strings.Repeat("a", MaxAddrLen))
				}
			}
		}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.record(1)
			if tt.edit != nil {
				tt.edit(r)
			}
			err := r.Sign(tt.key)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign: err = %v, want %v", err, tt.want)
			}
			if r.Sig != nil {
				t.Fatal("Sign failed but left a signature")
			}
		})
	}
	t.Run("fills the persona", func(t *testing.T) {
		r := p.record(1)
		r.Persona = ""
		if err := r.Sign(p.devices[1]); err != nil {
			t.Fatal(err)
		}
		if r.Persona != p.did || r.Signer != 1 {
			t.Fatalf("Persona %q, Signer %d; want %q, 1", r.Persona, r.Signer, p.did)
		}
	})
}

func TestKey(t *testing.T) {
	p := newPersona(t, 1, 0)
	k, err := Key(p.did)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/peerid/" + string(pubOf(p.priv)); k != want {
		t.Fatalf("Key = %q, want %q", k, want)
	}
	back, err := PersonaFromKey(k)
	if err != nil || back != p.did {
		t.Fatalf("PersonaFromKey = %q, %v; want %q", back, err, p.did)
	}
	if _, err := Key("did:key:zNotAKey"); !errors.Is(err, identity.ErrBadDID) {
		t.Fatalf("Key of a bad DID: err = %v, want ErrBadDID", err)
	}
	raw := string(pubOf(p.priv))
	for _, bad := range []string{
		"",
		raw,
		"/peerid/",
		"/peerid/" + raw[:31],
		"/peerid/" + raw + "x",
		"/pk/" + raw,
		"/peerid" + raw,
		"/PEERID/" + raw,
	} {
		if _, err := PersonaFromKey(bad); !errors.Is(err, ErrWrongKey) {
			t.Errorf("PersonaFromKey(%q): err = %v, want ErrWrongKey", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	p := newPersona(t, 1, 2)
	other := newPersona(t, 2, 1)
	key, _ := Key(p.did)
	otherKey, _ := Key(other.did)
	good := mustMarshal(t, p.signed(t, 1, nil))
	at := func(ts time.Time) func() time.Time { return func() time.Time { return ts } }
	tests := []struct {
		name string
		v    Validator
		key  string
		val  []byte
		want error
	}{
		{"valid", Validator{Now: at(t0)}, key, good, nil},
		{"key of another persona", Validator{Now: at(t0)}, otherKey, good, ErrWrongKey},
		{"key outside the namespace", Validator{Now: at(t0)}, "/pk/" + key[len("/peerid/"):], good, ErrWrongKey},
		{"expired by the injected clock", Validator{Now: at(t0.Add(48 * time.Hour))}, key, good, ErrExpired},
		{"revoked", Validator{Now: at(t0), Revoked: func(string, uint64) bool { return true }}, key, good, ErrUncertified},
		{"garbage", Validator{Now: at(t0)}, key, []byte("junk"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.v.Validate(tt.key, tt.val); !errors.Is(err, tt.want) {
				t.Fatalf("Validate: err = %v, want %v", err, tt.want)
			}
		})
	}
	// The zero Validator uses the real clock: the fixed-time record has
	// long expired or is far in the future, either way invalid.
	if err := (Validator{}).Validate(key, good); err == nil {
		t.Fatal("zero Validator accepted a record issued at a fixed test time")
	}
}

func TestSelect(t *testing.T) {
	p := newPersona(t, 1, 2)
	key, _ := Key(p.did)
	v := Validator{Now: func() time.Time { return t0.Add(time.Hour) }}

	seq := func(n uint64, edit func(*Record)) []byte { return mustMarshal(t, p.signed(t, n, edit)) }
	later := func(r *Record) { r.Issued = t0.Add(time.Minute) }
	// Two records alike but for one address: their encodings differ.
	addrA := func(r *Record) { r.Devices[0].Addrs[0] = "/ip4/192.0.2.1/udp/1/quic-v1" }
	addrB := func(r *Record) { r.Devices[0].Addrs[0] = "/ip4/192.0.2.2/udp/1/quic-v1" }
	encA, encB := seq(3, addrA), seq(3, addrB)
	larger, smaller := encA, encB
	if bytes.Compare(encA, encB) < 0 {
		larger, smaller = encB, encA
	}
	forged := seq(9, nil)
	forged[len(forged)-1] ^= 0xff
	expired := seq(8, func(r *Record) { r.Issued, r.Expires = t0.Add(-2*time.Hour), t0.Add(-time.Hour) })
	otherPersona := mustMarshal(t, newPersona(t, 2, 1).signed(t, 10, nil))

	tests := []struct {
		name string
		vals [][]byte
		want int // -1: error
	}{
		{"highest seq", [][]byte{seq(1, nil), seq(3, nil), seq(2, nil)}, 1},
		{"lower seq loses to higher", [][]byte{seq(5, nil), seq(4, later)}, 0},
		{"same seq: later issued wins", [][]byte{seq(3, nil), seq(3, later)}, 1},
		{"same seq and time: larger encoding wins", [][]byte{smaller, larger}, 1},
		{"same seq and time: larger encoding wins, other order", [][]byte{larger, smaller}, 0},
		{"identical: first wins", [][]byte{encA, encA}, 0},
		{"invalid values skipped", [][]byte{[]byte("junk"), forged, seq(2, nil), expired, otherPersona, seq(1, nil)}, 2},
		{"none valid", [][]byte{[]byte("junk"), forged, expired}, -1},
		{"none at all", nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Select(key, tt.vals)
			if tt.want < 0 {
				if err == nil {
					t.Fatalf("Select = %d, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Select = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestNewer(t *testing.T) {
	p := newPersona(t, 1, 1)
	r1 := p.signed(t, 1, nil)
	r2 := p.signed(t, 2, nil)
	r2early := p.signed(t, 2, func(r *Record) { r.Issued = t0.Add(-time.Hour) })
	tests := []struct {
		a, b *Record
		want bool
	}{
		{r2, r1, true},
		{r1, r2, false},
		{r2, r2early, true},
		{r2early, r2, false},
		{r1, r1, false},
		{r1, nil, true},
		{nil, r1, false},
	}
	for i, tt := range tests {
		if got := Newer(tt.a, tt.b); got != tt.want {
			t.Errorf("case %d: Newer = %v, want %v", i, got, tt.want)
		}
	}
}

func ExampleKey() {
	pub := pubOf(keyFromSeed(1))
	k, _ := Key(identity.DID(pub))
	fmt.Printf("%q\n", k[:8])
	fmt.Println(len(k))
	// Output:
	// "/peerid/"
	// 40
}
