package pairing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Unix(1_800_000_000, 0)

func testCode(t testing.TB) *Code {
	c, err := NewCode([]byte("\x00\x24peer-id-bytes-of-some-length-here"), []string{"/ip4/127.0.0.1/udp/4001/quic-v1", "/ip4/10.0.0.2/tcp/4001"}, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodeRoundTrip(t *testing.T) {
	c := testCode(t)
	s := c.String()
	if !strings.HasPrefix(s, CodePrefix) {
		t.Fatalf("text form %q", s)
	}
	got, err := ParseCode("  "+s+"\n", now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.PeerID, c.PeerID) || got.Secret != c.Secret || !got.Expires.Equal(c.Expires) || len(got.Addrs) != 2 {
		t.Fatalf("round trip: %+v vs %+v", got, c)
	}
	if c2 := testCode(t); c2.Secret == c.Secret {
		t.Fatal("two codes share a secret")
	}
}

func TestParseCodeErrors(t *testing.T) {
	s := testCode(t).String()
	tests := []struct {
		name string
		in   string
		at   time.Time
		want error
		msg  string
	}{
		{"expired", s, now.Add(time.Hour), ErrExpired, "peer device add"},
		{"wrong prefix", strings.Replace(s, CodePrefix, "peer:invite:", 1), now, ErrMalformed, "starts with"},
		{"truncated", s[:len(s)-10], now, ErrMalformed, ""},
		{"not base58", s + "0OIl", now, ErrMalformed, "damaged"},
		{"empty", CodePrefix, now, ErrMalformed, ""},
		{"too long", CodePrefix + strings.Repeat("z", MaxCodeLen), now, ErrMalformed, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCode(tt.in, tt.at)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestNewCodeTTL(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second, MaxTTL + time.Second} {
		if _, err := NewCode([]byte("id"), nil, ttl, now); err == nil {
			t.Fatalf("ttl %v accepted", ttl)
		}
	}
}

func testWelcome() *Welcome {
	return &Welcome{OK: true, Seed: bytes.Repeat([]byte{7}, SeedLen), PersonaName: "default",
		Devices: []Device{{Cert: []byte("cert-1"), Addrs: []string{"/ip4/127.0.0.1/tcp/1"}, Name: "home"}, {Cert: []byte("cert-2")}}}
}

func TestMessagesRoundTrip(t *testing.T) {
	h := &Hello{Secret: [SecretLen]byte{1, 2, 3}, Name: "phone"}
	b, err := EncodeHello(h)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseHello(b); err != nil || *got != *h {
		t.Fatalf("hello: %+v, %v", got, err)
	}
	w := testWelcome()
	if b, err = EncodeWelcome(w); err != nil {
		t.Fatal(err)
	}
	if got, err := ParseWelcome(b); err != nil || !bytes.Equal(got.Seed, w.Seed) || len(got.Devices) != 2 || got.Devices[0].Name != "home" {
		t.Fatalf("welcome: %+v, %v", got, err)
	}
	j := &Joined{Device: Device{Cert: []byte("cert-3"), Name: "laptop"}}
	if b, err = EncodeJoined(j); err != nil {
		t.Fatal(err)
	}
	if got, err := ParseJoined(b); err != nil || got.Device.Name != "laptop" {
		t.Fatalf("joined: %+v, %v", got, err)
	}
	d := &Done{OK: false, Message: "no"}
	if b, err = EncodeDone(d); err != nil {
		t.Fatal(err)
	}
	if got, err := ParseDone(b); err != nil || *got != *d {
		t.Fatalf("done: %+v, %v", got, err)
	}
}

func TestWelcomeRules(t *testing.T) {
	tests := []struct {
		name string
		edit func(w *Welcome)
	}{
		{"short seed", func(w *Welcome) { w.Seed = w.Seed[:32] }},
		{"no devices", func(w *Welcome) { w.Devices = nil }},
		{"too many devices", func(w *Welcome) { w.Devices = make([]Device, MaxDevices+1) }},
		{"refusal with a seed", func(w *Welcome) { w.OK = false }},
		{"control character in a name", func(w *Welcome) { w.PersonaName = "a\x00b" }},
		{"oversized certificate", func(w *Welcome) { w.Devices[0].Cert = make([]byte, MaxCertLen+1) }},
		{"too many addresses", func(w *Welcome) { w.Devices[0].Addrs = make([]string, MaxAddrs+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWelcome()
			tt.edit(w)
			if _, err := EncodeWelcome(w); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := EncodeWelcome(&Welcome{Message: "wrong code"}); err != nil {
		t.Fatalf("a plain refusal: %v", err)
	}
}

func TestOversizedFrameRefused(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, make([]byte, MaxFrame+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(&buf); err == nil {
		t.Fatal("an oversized frame was read")
	}
}
