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

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
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

func allowAll(peer.ID, string, cid.CID) error { return nil }

// provider is a host serving blocks.
type provider struct {
	h   host.Host
	srv *Server
}

func newProvider(t testing.TB, client host.Host, store blockstore.Getter, cfg ServerConfig) *provider {
	t.Helper()
	h := newHost(t)
	if cfg.Authorize == nil {
		cfg.Authorize = allowAll
	}
	srv := NewServer(h, store, cfg)
	t.Cleanup(func() { srv.Close() })
	connect(t, client, h)
	return &provider{h: h, srv: srv}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFetchDAG(t *testing.T) {
	d := makeDAG(t, 500, 4<<10)
	client := newHost(t)
	p := newProvider(t, client, d.store(t), ServerConfig{})
	local := memstore.New()
	var last Progress
	req := d.request()
	req.Progress = func(pr Progress) {
		if pr.Done < last.Done || pr.Known < last.Known || pr.Bytes < last.Bytes {
			t.Errorf("progress went back: %+v after %+v", pr, last)
		}
		last = pr
	}
	res, err := Fetch(ctxT(t), client, local, req, []peer.ID{p.h.ID()})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	n := len(d.blocks)
	if res.Fetched != n || res.Skipped != 0 || res.Bytes != d.bytes || res.PerProvider[p.h.ID()] != n || res.Bad != 0 {
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
	client := newHost(t)
	var ids []peer.ID
	for range 3 {
		ids = append(ids, newProvider(t, client, d.store(t), ServerConfig{}).h.ID())
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
	deny := func(peer.ID, string, cid.CID) error { return errors.New("no") }
	onlyRoot := memstore.New()
	onlyRoot.Put(context.Background(), d.root, d.blocks[d.root])
	for _, tc := range []struct {
		name      string
		store     blockstore.Getter
		authorize func(peer.ID, string, cid.CID) error
		denied    bool
	}{
		{"denied", d.store(t), deny, true},
		{"no Authorize denies", d.store(t), nil, true},
		{"missing", onlyRoot, allowAll, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newHost(t)
			h := newHost(t)
			srv := NewServer(h, tc.store, ServerConfig{Authorize: tc.authorize})
			defer srv.Close()
			connect(t, client, h)
			_, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []peer.ID{h.ID()})
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
			client := newHost(t)
			bad := &corruptGetter{Getter: d.store(t), called: make(chan struct{})}
			badP := newProvider(t, client, bad, ServerConfig{})
			// The honest provider waits until the liar has been asked, so the
			// liar surely gets work.
			good := newProvider(t, client, gatedGetter{Getter: d.store(t), open: bad.called}, ServerConfig{})
			local := tc.local()
			req := Request{Roots: leaves, Window: 1, Verify: tc.verify}
			res, err := Fetch(ctxT(t), client, local, req, []peer.ID{badP.h.ID(), good.h.ID()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Bad != 1 || res.PerProvider[badP.h.ID()] != 0 || res.PerProvider[good.h.ID()] != len(leaves) {
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
	client := newHost(t)
	a := newProvider(t, client, d.store(t), ServerConfig{})
	closed := make(chan struct{})
	var bh host.Host
	trig := &triggerGetter{Getter: d.store(t), n: 10, fn: func() { bh.Close(); close(closed) }}
	b := newProvider(t, client, trig, ServerConfig{})
	bh = b.h
	// a serves the root but holds the leaves until b's host has closed, so
	// b surely is mid-transfer then.
	a.srv.store = gatedGetter{Getter: a.srv.store, open: closed, except: d.root}
	local := memstore.New()
	req := d.request()
	req.Window = 16
	res, err := Fetch(ctxT(t), client, local, req, []peer.ID{a.h.ID(), b.h.ID()})
	if err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
	if trig.calls.Load() < 10 || res.PerProvider[a.h.ID()] == 0 {
		t.Fatalf("b asked %d times; result %+v", trig.calls.Load(), res)
	}
}

func TestFetchResumes(t *testing.T) {
	d := makeDAG(t, 500, 4<<10)
	n := len(d.blocks)
	client := newHost(t)
	p := newProvider(t, client, d.store(t), ServerConfig{})
	local := memstore.New()
	ctx, cancel := context.WithCancel(ctxT(t))
	req := d.request()
	req.Window = 16
	req.Progress = func(pr Progress) {
		if pr.Done >= n/2 {
			cancel()
		}
	}
	first, err := Fetch(ctx, client, local, req, []peer.ID{p.h.ID()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first fetch: %+v, %v", first, err)
	}
	req.Progress = nil
	second, err := Fetch(ctxT(t), client, local, req, []peer.ID{p.h.ID()})
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
	client := newHost(t)
	p := newProvider(t, client, d.store(t), ServerConfig{})
	badWant, _ := codec.Marshal(&Want{MiMei: "m"})
	for _, tc := range []struct {
		name string
		in   []byte
		bad  bool // counted as a bad request (not merely cut short)
	}{
		{"oversized frame", []byte{0xff, 0xff, 0x7f}, true},
		{"garbage", frame([]byte{0xde, 0xad, 0xbe, 0xef}), true},
		{"want without CIDs", frame(badWant), true},
		{"non-minimal frame length", []byte{0x80, 0x00}, true},
		{"truncated frame", []byte{0x20, 0x01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.srv.Stats().BadRequests
			st, err := client.NewStream(ctxT(t), p.h.ID(), ProtoBlocks)
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
	if _, err := Fetch(ctxT(t), client, local, d.request(), []peer.ID{p.h.ID()}); err != nil {
		t.Fatal(err)
	}
	d.checkAll(t, local)
}

func TestServerLimitsStreamsPerPeer(t *testing.T) {
	d := makeDAG(t, 1, 100)
	client := newHost(t)
	p := newProvider(t, client, d.store(t), ServerConfig{MaxStreamsPerPeer: 1})
	want := &Want{CIDs: [][]byte{d.root.Bytes()}}
	open := func() (network.Stream, error) {
		st, err := client.NewStream(ctxT(t), p.h.ID(), ProtoBlocks)
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
	client := newHost(t)
	p := newProvider(t, client, both, ServerConfig{RateBytesPerSec: rate})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, d := range []*dag{d1, d2} {
		wg.Go(func() {
			_, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []peer.ID{p.h.ID()})
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

// A client waiting for blocks it asked for, behind a rate limit, is not
// cut off by the idle timeout however long the blocks take.
func TestServerIdleTimeoutSparesWaitingClient(t *testing.T) {
	const rate = 256 << 10
	d := makeDAG(t, 8, 64<<10)
	client := newHost(t)
	p := newProvider(t, client, d.store(t), ServerConfig{RateBytesPerSec: rate, IdleTimeout: 200 * time.Millisecond})
	local := memstore.New()
	start := time.Now()
	if _, err := Fetch(ctxT(t), client, local, d.request(), []peer.ID{p.h.ID()}); err != nil {
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
	client := newHost(t)
	if _, err := Fetch(ctxT(t), client, memstore.New(), d.request(), nil); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("got %v", err)
	}
	// A provider that does not exist: dropped, then none is left.
	other := newHost(t)
	id := other.ID()
	other.Close()
	if _, err := Fetch(ctxT(t), client, memstore.New(), d.request(), []peer.ID{id}); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("got %v", err)
	}
}
