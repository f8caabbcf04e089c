package exchange

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
)

// The unit tests run on an in-memory network (memnet); the benchmarks
// (exchange_bench_test.go) on loopback libp2p.

// newNet returns an in-memory network closed when the test ends (after
// the servers, which are closed by cleanups registered later).
func newNet(t testing.TB) *memnet.Net {
	t.Helper()
	n := memnet.New()
	t.Cleanup(n.Close)
	return n
}

// nodeSeq makes node names unique.
var nodeSeq atomic.Int64

// newNode adds a node named after prefix to n.
func newNode(n *memnet.Net, prefix string) *memnet.Node {
	return n.Node(netport.PeerID(fmt.Sprintf("%s-%d", prefix, nodeSeq.Add(1))))
}

// dag is a root block (dag-cbor: the list of its children's CIDs) over
// random raw leaves.
type dag struct {
	root   cid.CID
	blocks map[cid.CID][]byte
	bytes  int64
}

func makeDAG(t testing.TB, leaves, size int) *dag {
	t.Helper()
	d := &dag{blocks: map[cid.CID][]byte{}}
	var kids [][]byte
	for range leaves {
		b := make([]byte, size)
		rand.Read(b)
		c := cid.Sum(cid.Raw, b)
		d.blocks[c] = b
		d.bytes += int64(size)
		kids = append(kids, c.Bytes())
	}
	root, err := codec.Marshal(kids)
	if err != nil {
		t.Fatal(err)
	}
	d.root = cid.Sum(cid.DagCBOR, root)
	d.blocks[d.root] = root
	d.bytes += int64(len(root))
	return d
}

func (d *dag) store(t testing.TB) *memstore.Store {
	t.Helper()
	s := memstore.New()
	for c, b := range d.blocks {
		if err := s.Put(context.Background(), c, b); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// links reads the children of a dag-cbor block.
func links(c cid.CID, data []byte) ([]cid.CID, error) {
	if c.Prefix().Codec != cid.DagCBOR {
		return nil, nil
	}
	var raw [][]byte
	if err := codec.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	out := make([]cid.CID, len(raw))
	for i, b := range raw {
		var err error
		if out[i], err = cid.Cast(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *dag) request() Request {
	return Request{MiMei: "obj", Roots: []cid.CID{d.root}, Links: links}
}

// checkAll fails unless local holds every block of d, byte for byte.
func (d *dag) checkAll(t testing.TB, local blockstore.Getter) {
	t.Helper()
	for c, want := range d.blocks {
		got, err := local.Get(context.Background(), c)
		if err != nil {
			t.Fatalf("block %s: %v", c, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("block %s differs", c)
		}
	}
}

func allowAll(netport.PeerID, string, cid.CID) error { return nil }

// provider is a node of a memnet serving blocks.
type provider struct {
	node *memnet.Node
	id   netport.PeerID
	srv  *Server
}

// newProvider adds a node to n serving store (cfg.Authorize nil: allow
// everything). Nodes connect on their first stream.
func newProvider(t testing.TB, n *memnet.Net, store blockstore.Getter, cfg ServerConfig) *provider {
	t.Helper()
	node := newNode(n, "provider")
	if cfg.Authorize == nil {
		cfg.Authorize = allowAll
	}
	srv := NewServer(node, store, cfg)
	t.Cleanup(func() { srv.Close() })
	return &provider{node: node, id: node.Self(), srv: srv}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFetchDAG(t *testing.T) {
	d := makeDAG(t, 500, 4<<10)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{})
	local := memstore.New()
	var last Progress
	req := d.request()
	req.Progress = func(pr Progress) {
		if pr.Done < last.Done || pr.Known < last.Known || pr.Bytes < last.Bytes {
			t.Errorf("progress went back: %+v after %+v", pr, last)
		}
		last = pr
	}
	res, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{p.id})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	n := len(d.blocks)
	if res.Fetched != n || res.Skipped != 0 || res.Bytes != d.bytes || res.PerProvider[p.id] != n || res.Bad != 0 {
		t.Fatalf("result %+v, want %d blocks, %d bytes", res, n, d.bytes)
	}
	if last.Done != n || last.Known != n || last.Bytes != d.bytes {
		t.Fatalf("last progress %+v", last)
	}
	if st := p.srv.Stats(); st.BlocksServed != int64(n) || st.BytesServed != d.bytes {
		t.Fatalf("server stats %+v", st)
	}

	// Everything is local now: nothing is asked of anyone.
	req.Progress = nil
	res, err = Fetch(ctxT(t), client, local, req, nil)
	if err != nil || res.Skipped != n || res.Fetched != 0 {
		t.Fatalf("second fetch: %+v, %v", res, err)
	}
}

func TestFetchSpreadsOverProviders(t *testing.T) {
	d := makeDAG(t, 500, 16<<10)
	net := newNet(t)
	client := newNode(net, "client")
	var ids []netport.PeerID
	for range 3 {
		ids = append(ids, newProvider(t, net, d.store(t), ServerConfig{}).id)
	}
	local := memstore.New()
	req := d.request()
	req.Window = 8
	res, err := Fetch(ctxT(t), client, local, req, ids)
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	sum := 0
	for _, id := range ids {
		if res.PerProvider[id] == 0 {
			t.Errorf("provider %s served nothing: %v", id, res.PerProvider)
		}
		sum += res.PerProvider[id]
	}
	if sum != len(d.blocks) || res.Fetched != len(d.blocks) {
		t.Fatalf("per provider %v, fetched %d, want %d", res.PerProvider, res.Fetched, len(d.blocks))
	}
}

func TestFetchUnavailable(t *testing.T) {
	d := makeDAG(t, 20, 100)
	deny := func(netport.PeerID, string, cid.CID) error { return errors.New("no") }
	onlyRoot := memstore.New()
	onlyRoot.Put(context.Background(), d.root, d.blocks[d.root])
	for _, tc := range []struct {
		name      string
		store     blockstore.Getter
		authorize func(netport.PeerID, string, cid.CID) error
		denied    bool
	}{
		{"denied", d.store(t), deny, true},
		{"no Authorize denies", d.store(t), nil, true},
		{"missing", onlyRoot, allowAll, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newNet(t)
			client, h := newNode(net, "client"), newNode(net, "provider")
			srv := NewServer(h, tc.store, ServerConfig{Authorize: tc.authorize})
			defer srv.Close()
			_, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []netport.PeerID{h.Self()})
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
			st := srv.Stats()
			if tc.denied && st.Denied == 0 || !tc.denied && st.Missing == 0 {
				t.Fatalf("stats %+v", st)
			}
			t.Log(err)
		})
	}
}

// gatedGetter holds every Get but that of except until open is closed.
type gatedGetter struct {
	blockstore.Getter
	open   <-chan struct{}
	except cid.CID
}

func (g gatedGetter) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	if c == g.except {
		return g.Getter.Get(ctx, c)
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Getter.Get(ctx, c)
}

// corruptGetter flips a byte of every block and reports its first call.
type corruptGetter struct {
	blockstore.Getter
	once   sync.Once
	called chan struct{}
}

func (g *corruptGetter) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	b, err := g.Getter.Get(ctx, c)
	if err == nil && len(b) > 0 {
		b[len(b)/2] ^= 1
	}
	g.once.Do(func() { close(g.called) })
	return b, err
}

// verifyingStore checks blocks as they are put, as a store that opens
// sealed blocks does, for a Request whose Verify lets everything through.
type verifyingStore struct{ blockstore.Store }

func (s verifyingStore) Put(ctx context.Context, c cid.CID, data []byte) error {
	if err := cid.Verify(c, data); err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	return s.Store.Put(ctx, c, data)
}

func TestFetchBadBlockComesFromAnother(t *testing.T) {
	for _, tc := range []struct {
		name   string
		verify func(cid.CID, []byte) error
		local  func() blockstore.Store
	}{
		{"hashed by Fetch", nil, func() blockstore.Store { return memstore.New() }},
		{"checked by the store's Put", func(cid.CID, []byte) error { return nil }, func() blockstore.Store { return verifyingStore{memstore.New()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := makeDAG(t, 50, 1000)
			var leaves []cid.CID
			for c := range d.blocks {
				if c != d.root {
					leaves = append(leaves, c)
				}
			}
			net := newNet(t)
			client := newNode(net, "client")
			bad := &corruptGetter{Getter: d.store(t), called: make(chan struct{})}
			badP := newProvider(t, net, bad, ServerConfig{})
			// The honest provider waits until the liar has been asked, so the
			// liar surely gets work.
			good := newProvider(t, net, gatedGetter{Getter: d.store(t), open: bad.called}, ServerConfig{})
			local := tc.local()
			req := Request{Roots: leaves, Window: 1, Verify: tc.verify}
			res, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{badP.id, good.id})
			if err != nil {
				t.Fatal(err)
			}
			if res.Bad != 1 || res.PerProvider[badP.id] != 0 || res.PerProvider[good.id] != len(leaves) {
				t.Fatalf("result %+v", res)
			}
			for _, c := range leaves {
				got, err := local.Get(context.Background(), c)
				if err != nil || !bytes.Equal(got, d.blocks[c]) {
					t.Fatalf("block %s: %v", c, err)
				}
			}
		})
	}
}

// triggerGetter calls fn (once) when Get has been called n times.
type triggerGetter struct {
	blockstore.Getter
	calls atomic.Int64
	n     int64
	fn    func()
}

func (g *triggerGetter) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	if g.calls.Add(1) == g.n {
		go g.fn()
	}
	return g.Getter.Get(ctx, c)
}

func TestFetchSurvivesProviderClosing(t *testing.T) {
	d := makeDAG(t, 500, 8<<10)
	net := newNet(t)
	client := newNode(net, "client")
	a := newProvider(t, net, d.store(t), ServerConfig{})
	closed := make(chan struct{})
	var bn *memnet.Node
	trig := &triggerGetter{Getter: d.store(t), n: 10, fn: func() { bn.Close(); close(closed) }}
	b := newProvider(t, net, trig, ServerConfig{})
	bn = b.node
	// a serves the root but holds the leaves until b's node has closed (its
	// streams reset, itself unreachable), so b surely is mid-transfer then.
	a.srv.store = gatedGetter{Getter: a.srv.store, open: closed, except: d.root}
	local := memstore.New()
	req := d.request()
	req.Window = 16
	res, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{a.id, b.id})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if trig.calls.Load() < 10 || res.PerProvider[a.id] == 0 {
		t.Fatalf("b asked %d times; result %+v", trig.calls.Load(), res)
	}
}

func TestFetchResumes(t *testing.T) {
	d := makeDAG(t, 500, 4<<10)
	n := len(d.blocks)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{})
	local := memstore.New()
	ctx, cancel := context.WithCancel(ctxT(t))
	req := d.request()
	req.Window = 16
	req.Progress = func(pr Progress) {
		if pr.Done >= n/2 {
			cancel()
		}
	}
	first, err := Fetch(ctx, client, local, req, []netport.PeerID{p.id})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first fetch: %+v, %v", first, err)
	}
	req.Progress = nil
	second, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{p.id})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if second.Skipped < first.Fetched || second.Fetched+second.Skipped != n {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	// Blocks served but cancelled in flight are at most one window.
	if served := p.srv.Stats().BlocksServed; served > int64(n+req.Window) {
		t.Fatalf("served %d blocks for %d", served, n)
	}
}

func TestServerResetsMalformedStreams(t *testing.T) {
	d := makeDAG(t, 10, 100)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{})
	badWant, _ := codec.Marshal(&Want{MiMei: "m"})
	dupWant, _ := codec.Marshal(&Want{MiMei: "m", CIDs: [][]byte{d.root.Bytes(), d.root.Bytes()}})
	for _, tc := range []struct {
		name string
		in   []byte
		bad  bool // counted as a bad request (not merely cut short)
	}{
		{"oversized frame", []byte{0xff, 0xff, 0x7f}, true},
		{"garbage", frame([]byte{0xde, 0xad, 0xbe, 0xef}), true},
		{"want without CIDs", frame(badWant), true},
		{"want naming a CID twice", frame(dupWant), true},
		{"non-minimal frame length", []byte{0x80, 0x00}, true},
		{"truncated frame", []byte{0x20, 0x01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.srv.Stats().BadRequests
			st, err := client.NewStream(ctxT(t), p.id, ProtoBlocks)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Reset()
			st.SetDeadline(time.Now().Add(10 * time.Second))
			st.Write(tc.in)
			st.CloseWrite()
			_, err = io.ReadAll(st)
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("stream ended with %v, want a reset", err)
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server did not reset the stream: %v", err)
			}
			if got := p.srv.Stats().BadRequests - before; tc.bad && got != 1 {
				t.Fatalf("bad requests +%d", got)
			}
		})
	}
	// The server still serves.
	local := memstore.New()
	if _, err := Fetch(ctxT(t), client, local, d.request(), []netport.PeerID{p.id}); err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
}

func TestServerLimitsStreamsPerPeer(t *testing.T) {
	d := makeDAG(t, 1, 100)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{MaxStreamsPerPeer: 1})
	want := &Want{CIDs: [][]byte{d.root.Bytes()}}
	open := func() (netport.Stream, error) {
		st, err := client.NewStream(ctxT(t), p.id, ProtoBlocks)
		if err != nil {
			t.Fatal(err)
		}
		st.SetDeadline(time.Now().Add(10 * time.Second))
		if err := WriteWant(st, want); err != nil {
			return st, err
		}
		_, err = ReadBlock(newReader(st))
		return st, err
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Reset()
	second, err := open()
	defer second.Reset()
	if err == nil || p.srv.Stats().Rejected != 1 {
		t.Fatalf("second stream: %v; stats %+v", err, p.srv.Stats())
	}
}

func TestServerRateLimitSharedByStreams(t *testing.T) {
	const rate = 2 << 20
	d1, d2 := makeDAG(t, 16, 64<<10), makeDAG(t, 16, 64<<10)
	both := memstore.New()
	for _, d := range []*dag{d1, d2} {
		for c, b := range d.blocks {
			both.Put(context.Background(), c, b)
		}
	}
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, both, ServerConfig{RateBytesPerSec: rate})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, d := range []*dag{d1, d2} {
		wg.Go(func() {
			_, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []netport.PeerID{p.id})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	total := float64(d1.bytes + d2.bytes)
	burst := float64(newBucket(rate).burst)
	// Both fetches draw from one bucket: at least (total-burst)/rate, with
	// slack for timer granularity. Per-stream buckets would take half.
	min := time.Duration(0.8 * (total - burst) / rate * float64(time.Second))
	if elapsed < min {
		t.Fatalf("%.0f bytes at %d B/s took %v, want at least %v", total, rate, elapsed, min)
	}
	t.Logf("%.0f bytes in %v", total, elapsed)
}

// TotalBytesPerSec holds all peers together to one rate: two clients
// (two peer IDs, each with its own per-peer bucket, unlimited here) share
// it, so together they take at least as long as one would at that rate.
func TestServerTotalRateSharedByPeers(t *testing.T) {
	const rate = 2 << 20
	d1, d2 := makeDAG(t, 16, 64<<10), makeDAG(t, 16, 64<<10)
	both := memstore.New()
	for _, d := range []*dag{d1, d2} {
		for c, b := range d.blocks {
			both.Put(context.Background(), c, b)
		}
	}
	net := newNet(t)
	p := newProvider(t, net, both, ServerConfig{TotalBytesPerSec: rate})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, d := range []*dag{d1, d2} {
		client := newNode(net, "client")
		wg.Go(func() {
			_, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []netport.PeerID{p.id})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	total := float64(d1.bytes + d2.bytes)
	burst := float64(newBucket(rate).burst)
	// One bucket for both peers: at least (total-burst)/rate, with slack
	// for timer granularity. A bucket per peer would take half.
	min := time.Duration(0.8 * (total - burst) / rate * float64(time.Second))
	if elapsed < min {
		t.Fatalf("%.0f bytes at %d B/s in total took %v, want at least %v", total, rate, elapsed, min)
	}
	if st := p.srv.Stats(); st.BytesServed < int64(total) {
		t.Fatalf("served %d bytes, want %.0f", st.BytesServed, total)
	}
	t.Logf("%.0f bytes in %v", total, elapsed)
}

// A client waiting for blocks it asked for, behind a rate limit, is not
// cut off by the idle timeout however long the blocks take.
func TestServerIdleTimeoutSparesWaitingClient(t *testing.T) {
	const rate = 256 << 10
	d := makeDAG(t, 8, 64<<10)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{RateBytesPerSec: rate, IdleTimeout: 200 * time.Millisecond})
	local := memstore.New()
	start := time.Now()
	if _, err := Fetch(ctxT(t), client, local, d.request(), []netport.PeerID{p.id}); err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if el := time.Since(start); el < time.Second {
		t.Fatalf("%d bytes at %d B/s took only %v: the test needs longer than the idle timeout", d.bytes, rate, el)
	}
}

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(1 << 20)
	b.now = func() time.Time { return now }
	b.last = now
	if d := b.delay(int(b.burst)); d != 0 {
		t.Fatalf("full bucket: wait %v", d)
	}
	if d := b.delay(1 << 20); d != time.Second {
		t.Fatalf("empty bucket, 1 s of bytes: wait %v", d)
	}
	now = now.Add(10 * time.Second) // refills to burst, not beyond
	if d := b.delay(int(b.burst) + 1<<19); d != 500*time.Millisecond {
		t.Fatalf("after refill: wait %v", d)
	}
}

func TestFetchNoProviders(t *testing.T) {
	d := makeDAG(t, 1, 10)
	net := newNet(t)
	client := newNode(net, "client")
	if _, err := Fetch(ctxT(t), client, memstore.New(), d.request(), nil); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("got %v", err)
	}
	// A provider that does not exist: dropped, then none is left.
	other := newNode(net, "gone")
	id := other.Self()
	other.Close()
	if _, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []netport.PeerID{id}); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("got %v", err)
	}
}

// A provider behind a slow link takes less of the work than a fast one:
// with a small window, providers take work as they answer.
func TestFetchFasterProviderTakesMore(t *testing.T) {
	d := makeDAG(t, 100, 16<<10)
	net := newNet(t)
	client := newNode(net, "client")
	fast := newProvider(t, net, d.store(t), ServerConfig{})
	slow := newProvider(t, net, d.store(t), ServerConfig{})
	net.SetBandwidth(client.Self(), slow.id, 128<<10) // 8 blocks a second
	local := memstore.New()
	req := d.request()
	req.Window = 4
	res, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{fast.id, slow.id})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if f, s := res.PerProvider[fast.id], res.PerProvider[slow.id]; f < 2*s || f+s != len(d.blocks) {
		t.Fatalf("fast served %d, slow %d, of %d", f, s, len(d.blocks))
	}
	t.Logf("per provider: %v", res.PerProvider)
}

// A fetch cut off by a partition fails with ErrNoProviders; once the
// network heals, fetching again fetches only the rest.
func TestFetchAfterPartitionHeals(t *testing.T) {
	d := makeDAG(t, 500, 4<<10)
	n := len(d.blocks)
	net := newNet(t)
	client := newNode(net, "client")
	p := newProvider(t, net, d.store(t), ServerConfig{})
	local := memstore.New()
	req := d.request()
	req.Window = 16
	var once sync.Once
	req.Progress = func(pr Progress) {
		if pr.Done >= n/2 {
			once.Do(func() { net.Partition([]netport.PeerID{client.Self()}, []netport.PeerID{p.id}) })
		}
	}
	first, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{p.id})
	if !errors.Is(err, ErrNoProviders) || !errors.Is(err, netport.ErrReset) && !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("first fetch: %+v, %v", first, err)
	}
	if client.Connected(p.id) {
		t.Fatal("still connected across the partition")
	}
	net.Heal()
	req.Progress = nil
	second, err := Fetch(ctxT(t), client, local, req, []netport.PeerID{p.id})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if second.Skipped < first.Fetched || second.Fetched+second.Skipped != n || second.Fetched == 0 {
		t.Fatalf("first %+v, second %+v", first, second)
	}
}
