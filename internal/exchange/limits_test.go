package exchange

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
)

// The tests of the limits by party and by address count the bytes each
// bucket gave out (deterministic), on a server whose buckets run on a
// stopped clock so that none refills and is forgotten before it is looked
// at; the rates are high enough that no block waits. One test measures
// time, but only as a lower bound (a loaded machine only makes it slower).

// frozen is a clock that never moves.
func frozen() time.Time { return time.Unix(1_700_000_000, 0) }

// newLimitedProvider is newProvider on a stopped clock.
func newLimitedProvider(t testing.TB, n *memnet.Net, d *dag, cfg ServerConfig) *provider {
	t.Helper()
	node := newNode(n, "provider")
	cfg.Authorize = allowAll
	srv := newServer(node, d.store(t), cfg, frozen)
	t.Cleanup(func() { srv.Close() })
	return &provider{node: node, id: node.Self(), srv: srv}
}

// settled waits until the server has released every stream (its handlers
// return a little after the client has read the last block).
func settled(t testing.TB, s *Server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.streams)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still served", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// tableBytes is what the table's buckets gave out, by key.
func tableBytes(s *Server, tab *limitTable) map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for k, l := range tab.m {
		out[k] = l.bucket.bytes()
	}
	return out
}

func fetchAll(t *testing.T, p *provider, d *dag, clients ...*memnet.Node) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			local := memstore.New()
			if _, err := Fetch(ctxT(t), c, local, d.request(), []netport.PeerID{p.id}); err != nil {
				t.Error(err)
				return
			}
			d.checkAll(t, local)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	settled(t, p.srv)
}

const noWait = 1 << 30 // a rate no test reaches

// The devices of one persona draw from one bucket; a stranger's device
// from its own.
func TestServerPersonaSharesBucket(t *testing.T) {
	d := makeDAG(t, 8, 16<<10)
	net := newNet(t)
	phone, laptop, stranger := newNode(net, "phone"), newNode(net, "laptop"), newNode(net, "stranger")
	persona := map[netport.PeerID]string{phone.Self(): "alice", laptop.Self(): "alice"}
	p := newLimitedProvider(t, net, d, ServerConfig{
		RateBytesPerSec: noWait, AddrBytesPerSec: noWait,
		RateKey: func(remote netport.PeerID) string { return persona[remote] },
	})
	fetchAll(t, p, d, phone, laptop, stranger)
	got := tableBytes(p.srv, p.srv.parties)
	want := map[string]int64{
		partyKeyPrefix + "alice":                  2 * d.bytes,
		deviceKeyPrefix + string(stranger.Self()): d.bytes,
	}
	if len(got) != len(want) || got[partyKeyPrefix+"alice"] != want[partyKeyPrefix+"alice"] ||
		got[deviceKeyPrefix+string(stranger.Self())] != d.bytes {
		t.Fatalf("party buckets %v, want %v", got, want)
	}
	// Each device has its own address here: three address buckets.
	if addrs := tableBytes(p.srv, p.srv.addrs); len(addrs) != 3 {
		t.Fatalf("address buckets %v, want one per device", addrs)
	}
}

// Devices Unlimited names (our own) draw from no bucket at all.
func TestServerUnlimitedDevices(t *testing.T) {
	d := makeDAG(t, 4, 16<<10)
	net := newNet(t)
	own, stranger := newNode(net, "own"), newNode(net, "stranger")
	p := newLimitedProvider(t, net, d, ServerConfig{
		RateBytesPerSec: noWait, AddrBytesPerSec: noWait, TotalBytesPerSec: noWait,
		Unlimited: func(remote netport.PeerID) bool { return remote == own.Self() },
	})
	fetchAll(t, p, d, own, stranger)
	parties, addrs := tableBytes(p.srv, p.srv.parties), tableBytes(p.srv, p.srv.addrs)
	if len(parties) != 1 || parties[deviceKeyPrefix+string(stranger.Self())] != d.bytes || len(addrs) != 1 {
		t.Fatalf("party buckets %v, address buckets %v: want only the stranger's", parties, addrs)
	}
}

// Peer IDs at one address (one IPv4 address, or one IPv6 /64) draw from
// one address bucket, each also from its own party bucket.
func TestServerAddressSharesBucket(t *testing.T) {
	d := makeDAG(t, 4, 16<<10)
	net := newNet(t)
	p := newLimitedProvider(t, net, d, ServerConfig{RateBytesPerSec: noWait, AddrBytesPerSec: noWait})
	var clients []*memnet.Node
	for i := range 6 {
		c := newNode(net, "stranger")
		ip := "192.0.2.7"
		if i >= 4 {
			ip = []string{"2001:db8:1:2::a", "2001:db8:1:2:ffff::b"}[i-4]
		}
		net.SetAddr(c.Self(), netip.MustParseAddr(ip))
		clients = append(clients, c)
	}
	other := newNode(net, "elsewhere")
	fetchAll(t, p, d, append(clients, other)...)

	addrs := tableBytes(p.srv, p.srv.addrs)
	want := map[string]int64{
		"ip4 192.0.2.7":         4 * d.bytes,
		"ip6 2001:db8:1:2::/64": 2 * d.bytes,
		netport.Addr{IP: net.Addr(other.Self())}.Source(): d.bytes,
	}
	if len(addrs) != len(want) {
		t.Fatalf("address buckets %v, want %v", addrs, want)
	}
	for k, v := range want {
		if addrs[k] != v {
			t.Fatalf("address buckets %v, want %v", addrs, want)
		}
	}
	if parties := tableBytes(p.srv, p.srv.parties); len(parties) != 7 {
		t.Fatalf("party buckets %v, want one per peer ID", parties)
	}
}

// The shared buckets do hold the parties to the rate: two devices of one
// persona, or two strangers at one address, together take at least as
// long as one would at that rate (a bucket per device would take half).
func TestServerSharedBucketsLimit(t *testing.T) {
	const rate = 2 << 20
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
		same bool // put the two clients at one address
	}{
		{"persona", ServerConfig{RateBytesPerSec: rate, RateKey: func(netport.PeerID) string { return "alice" }}, false},
		{"address", ServerConfig{AddrBytesPerSec: rate}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := makeDAG(t, 16, 64<<10)
			net := newNet(t)
			p := newProvider(t, net, d.store(t), tc.cfg)
			a, b := newNode(net, "client"), newNode(net, "client")
			if tc.same {
				ip := netip.MustParseAddr("198.51.100.1")
				net.SetAddr(a.Self(), ip)
				net.SetAddr(b.Self(), ip)
			}
			start := time.Now()
			fetchAll(t, p, d, a, b)
			elapsed := time.Since(start)
			total := float64(2 * d.bytes)
			burst := float64(newBucket(rate).burst)
			min := time.Duration(0.8 * (total - burst) / rate * float64(time.Second))
			if elapsed < min {
				t.Fatalf("%.0f bytes at %d B/s took %v, want at least %v", total, rate, elapsed, min)
			}
		})
	}
}

// A flood of throwaway peer IDs, each from an address of its own, leaves
// at most maxIdleLimits buckets in each table once its streams are done:
// the buckets are not refilled (the clock stands still), so only the
// bound forgets them.
func TestServerFloodBoundsBuckets(t *testing.T) {
	const ids = 10_000
	d := makeDAG(t, 1, 1<<10)
	net := newNet(t)
	p := newLimitedProvider(t, net, d, ServerConfig{RateBytesPerSec: noWait, AddrBytesPerSec: noWait})
	want := &Want{MiMei: "obj", CIDs: [][]byte{d.root.Bytes()}}
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range next {
				c := newNode(net, "throwaway")
				st, err := c.NewStream(ctxT(t), p.id, ProtoBlocks)
				if err != nil {
					t.Error(err)
					c.Close()
					continue // and take the rest, so that the sender is not stuck
				}
				st.SetDeadline(time.Now().Add(20 * time.Second))
				if err := WriteWant(st, want); err != nil {
					t.Error(err)
				}
				st.CloseWrite()
				if blk, err := ReadBlock(st); err != nil || blk.Status != StatusOK {
					t.Errorf("block: %+v, %v", blk, err)
				}
				st.Close()
				c.Close()
			}
		})
	}
	for i := range ids {
		if t.Failed() {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	settled(t, p.srv)
	s := p.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parties.len() != maxIdleLimits || s.addrs.len() != maxIdleLimits || len(s.peers) != 0 {
		t.Fatalf("after %d peer IDs: %d party buckets, %d address buckets, %d peers; want %d, %d, 0",
			ids, s.parties.len(), s.addrs.len(), len(s.peers), maxIdleLimits, maxIdleLimits)
	}
	if st := s.Stats(); st.BlocksServed != ids {
		t.Fatalf("served %d blocks, want %d", st.BlocksServed, ids)
	}
}

// A bucket that refilled is forgotten when its last stream ends, and one
// in use is never forgotten however many come and go.
func TestLimitTable(t *testing.T) {
	now := frozen()
	tab := newLimitTable(1<<20, func() time.Time { return now })
	tab.maxIdle = 2
	held := tab.acquire("held")
	held.bucket.delay(1 << 20)
	for _, k := range []string{"a", "b", "c", "d"} {
		l := tab.acquire(k)
		l.bucket.delay(1)
		tab.release(l)
	}
	if tab.len() != 3 || tab.m["held"] == nil || tab.m["c"] == nil || tab.m["d"] == nil {
		t.Fatalf("table %v, want held and the two latest", tab.m)
	}
	if tab.acquire("c") != tab.m["c"] || tab.m["c"].bucket.bytes() != 1 {
		t.Fatal("an idle key did not get its bucket back")
	}
	now = now.Add(time.Second) // everything refills
	tab.release(tab.m["c"])
	tab.acquire("e")
	if tab.len() != 2 || tab.m["held"] == nil || tab.m["e"] == nil {
		t.Fatalf("table %v after refilling, want held and e", tab.m)
	}
}
