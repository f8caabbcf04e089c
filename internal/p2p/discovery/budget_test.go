package discovery

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
)

// throwaway is a device key that can sign records of any number of
// personas made up on the spot, as a flood of throwaway registrations or
// served records would.
type throwaway struct {
	key ed25519.PrivateKey
	id  peer.ID
}

func newThrowaway(t *testing.T) throwaway {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := crypto.UnmarshalEd25519PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return throwaway{key: k, id: id}
}

// record signs a record of persona p listing the device, with sequence seq.
func (d throwaway) record(t *testing.T, p ed25519.PrivateKey, seq uint64) (did string, raw []byte) {
	t.Helper()
	c, err := identity.IssueDeviceCertV1(p, d.key.Public().(ed25519.PublicKey), 1, time.Now().Add(-time.Minute), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	did = identity.DID(p.Public().(ed25519.PublicKey))
	now := time.Now()
	r := &idrecord.Record{Persona: did, Seq: seq, Issued: now, Expires: now.Add(time.Hour),
		Devices: []idrecord.Device{{Cert: cert, Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}}}
	if err := r.Sign(d.key); err != nil {
		t.Fatal(err)
	}
	if raw, err = r.Marshal(); err != nil {
		t.Fatal(err)
	}
	return did, raw
}

func newPersona(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func register(s *Service, d throwaway, addr string, raw []byte) *Response {
	return s.serveIndex(d.id, addr, &Request{Version: WireVersion, Op: OpRegister, Record: raw})
}

func registered(s *Service, did string) bool {
	r := s.serveIndex("", "", &Request{Version: WireVersion, Op: OpLookup, Persona: did})
	return r.Status == StatusOK
}

// TestIndexBudgetPerPeerAndAddress: one device registers at most
// MaxIndexPerPeer personas and one address at most MaxIndexPerAddr;
// renewing a registration is always taken.
func TestIndexBudgetPerPeerAndAddress(t *testing.T) {
	ix := newNode(t, Config{ServeIndex: true, MaxIndexPerPeer: 8, MaxIndexPerAddr: 20})
	d := newThrowaway(t)
	var mine []ed25519.PrivateKey
	accepted := 0
	for i := range 30 {
		p := newPersona(t)
		_, raw := d.record(t, p, 1)
		if r := register(ix.svc, d, fmt.Sprintf("10.0.0.%d", i), raw); r.Status == StatusOK {
			accepted++
			mine = append(mine, p)
		} else if r.Status != StatusRefused {
			t.Fatalf("registration %d: %+v", i, r)
		}
	}
	if accepted != 8 {
		t.Fatalf("one device registered %d personas, want 8", accepted)
	}
	// Renewing one (a newer sequence) is taken though the device is at its budget.
	did, raw := d.record(t, mine[0], 2)
	if r := register(ix.svc, d, "10.0.0.99", raw); r.Status != StatusOK {
		t.Fatalf("renewal refused: %+v", r)
	}
	if !registered(ix.svc, did) {
		t.Fatal("renewed registration not found")
	}

	// Many devices, one address: at most 20.
	accepted = 0
	for range 50 {
		dd := newThrowaway(t)
		_, raw := dd.record(t, newPersona(t), 1)
		if register(ix.svc, dd, "192.0.2.7", raw).Status == StatusOK {
			accepted++
		}
	}
	if accepted != 20 {
		t.Fatalf("one address registered %d, want 20", accepted)
	}
	if n := ix.svc.IndexSize(); n != 28 {
		t.Fatalf("index holds %d, want 28", n)
	}
}

// TestIndexFloodCannotFlush: a full index under a flood of throwaway
// registrations from a few addresses evicts the flood's own oldest, never
// the registrations of other addresses.
func TestIndexFloodCannotFlush(t *testing.T) {
	ix := newNode(t, Config{ServeIndex: true, MaxIndexEntries: 100})
	var legit []string
	for i := range 40 {
		d := newThrowaway(t)
		did, raw := d.record(t, newPersona(t), 1)
		if r := register(ix.svc, d, fmt.Sprintf("198.51.100.%d", i), raw); r.Status != StatusOK {
			t.Fatalf("legitimate %d: %+v", i, r)
		}
		legit = append(legit, did)
	}
	for i := range 1000 {
		d := newThrowaway(t)
		_, raw := d.record(t, newPersona(t), 1)
		register(ix.svc, d, fmt.Sprintf("203.0.113.%d", i%4), raw)
	}
	if n := ix.svc.IndexSize(); n > 100 {
		t.Fatalf("index holds %d, bound 100", n)
	}
	for _, did := range legit {
		if !registered(ix.svc, did) {
			t.Fatalf("a legitimate registration was flushed by the flood")
		}
	}
}

// TestCacheBounded: records strangers serve unasked fill at most a
// quarter of the cache and never flush the records this node asked for;
// past the bound the least recently used go first.
func TestCacheBounded(t *testing.T) {
	n := newNode(t, Config{MaxCacheEntries: 40})
	d := newThrowaway(t)
	var asked []string
	for range 30 {
		did, raw := d.record(t, newPersona(t), 1)
		if _, err := n.svc.Learn(raw, "test"); err != nil {
			t.Fatal(err)
		}
		asked = append(asked, did)
	}
	for i := range 500 {
		s := newThrowaway(t)
		_, raw := s.record(t, newPersona(t), 1)
		if _, err := n.svc.learnID(s.id, raw); err != nil {
			t.Fatalf("stranger %d: %v", i, err)
		}
	}
	if got := n.svc.CacheSize(); got != 40 {
		t.Fatalf("cache holds %d, want 40", got)
	}
	for _, did := range asked {
		if _, ok := n.svc.Cached(did); !ok {
			t.Fatal("a record asked for was flushed by strangers' records")
		}
	}
	// More asked-for records than fit: the strangers' go, then the least
	// recently used of ours; one just used stays.
	for i := range 40 {
		if i%10 == 0 {
			n.svc.Cached(asked[0])
		}
		_, raw := d.record(t, newPersona(t), 1)
		if _, err := n.svc.Learn(raw, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.svc.CacheSize(); got != 40 {
		t.Fatalf("cache holds %d, want 40", got)
	}
	if _, ok := n.svc.Cached(asked[0]); !ok {
		t.Fatal("the record used most recently was evicted")
	}
	if _, ok := n.svc.Cached(asked[1]); ok {
		t.Fatal("the least recently used record was kept")
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"/ip4/192.0.2.1/tcp/4001", "192.0.2.1"},
		{"/ip6/2001:db8:1:2:3:4:5:6/udp/4001/quic-v1", "2001:db8:1:2::/64"},
		{"/ip6/2001:db8:1:2:ffff::1/tcp/1", "2001:db8:1:2::/64"},
		{"/ip4/192.0.2.9/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit", "192.0.2.9"},
		{"/dns4/example.com/tcp/1", ""},
	}
	for _, tc := range tests {
		m, err := ma.NewMultiaddr(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := addrKey(m); got != tc.want {
			t.Errorf("addrKey(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := addrKey(nil); got != "" {
		t.Errorf("addrKey(nil) = %q", got)
	}
}
