package devices

import (
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/netport"
)

var discard = slog.New(slog.DiscardHandler)

// A record as the node wrote it before this package existed: the format
// must keep loading.
const goldenRecord = "844301020381772f6970342f3132372e302e302e312f7463702f34303031666c6170746f701b0000018bcfe5687b"

func TestLoadGoldenRecord(t *testing.T) {
	st := memkv.New()
	b, _ := hex.DecodeString(goldenRecord)
	if err := st.Set([]byte("dv/12D3KooWGolden"), b); err != nil {
		t.Fatal(err)
	}
	ds, err := load(st, discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Device{PeerID: "12D3KooWGolden", Cert: []byte{1, 2, 3}, Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Name: "laptop", Added: time.UnixMilli(1700000000123)}
	if len(ds) != 1 || !equalDevice(ds[0], want) {
		t.Fatalf("loaded %+v, want %+v", ds, want)
	}
	// And writing it again gives the same bytes.
	st2 := memkv.New()
	if err := put(st2, want); err != nil {
		t.Fatal(err)
	}
	got, _ := st2.Get([]byte("dv/12D3KooWGolden"))
	if hex.EncodeToString(got) != goldenRecord {
		t.Fatalf("encoded %x, want %s", got, goldenRecord)
	}
}

func equalDevice(a, b Device) bool {
	return a.PeerID == b.PeerID && slices.Equal(a.Cert, b.Cert) && slices.Equal(a.Addrs, b.Addrs) &&
		a.Name == b.Name && a.Added.Equal(b.Added)
}

func TestRecordsSurviveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st, err := pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1700000000000)
	in := []Device{
		{PeerID: "12D3KooWB", Cert: []byte("cert-b"), Addrs: []string{"/ip4/10.0.0.2/tcp/4001"}, Name: "nas", Added: t0.Add(time.Second)},
		{PeerID: "12D3KooWA", Cert: []byte("cert-a"), Name: "laptop", Added: t0},
	}
	if err := storeAll(st, in); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(Config{Net: nopNet{}, KV: st, Keys: nopKeys{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.List()
	want := []Device{in[1], in[0]} // oldest first
	if len(got) != len(want) {
		t.Fatalf("loaded %d devices, want %d", len(got), len(want))
	}
	for i := range want {
		if !equalDevice(got[i], want[i]) {
			t.Errorf("device %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if !s.IsOwn("12D3KooWA") || s.IsOwn("12D3KooWC") {
		t.Error("IsOwn does not match the stored devices")
	}
}

func TestDamagedRecordIsSkipped(t *testing.T) {
	st := memkv.New()
	good := Device{PeerID: "12D3KooWGood", Cert: []byte("c"), Added: time.UnixMilli(1)}
	if err := put(st, good); err != nil {
		t.Fatal(err)
	}
	if err := st.Set([]byte("dv/12D3KooWBad"), []byte{0xff, 0x00}); err != nil {
		t.Fatal(err)
	}
	if err := st.Set([]byte("dv/"), []byte{0x80}); err != nil {
		t.Fatal(err)
	}
	ds, err := load(st, discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].PeerID != good.PeerID {
		t.Fatalf("loaded %+v, want only %s", ds, good.PeerID)
	}
}

func TestPeerIDBytes(t *testing.T) {
	for _, tc := range []struct {
		id netport.PeerID
		ok bool
	}{
		{"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", true},
		{"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", true},
		{"memnet-node-1", false},
		{"", false},
		{"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S", false}, // one character short
	} {
		b, err := peerIDBytes(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %v", tc.id, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		back, err := peerIDText(b)
		if err != nil || back != tc.id {
			t.Errorf("%q: back %q, %v", tc.id, back, err)
		}
	}
}
