package share

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// fakeClock moves one millisecond on every reading, so that everything
// stamped with it (cache use, access log) is strictly ordered.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(1_760_000_000_000)
	return c
}

func (c *fakeClock) Now() time.Time { return time.UnixMilli(c.ms.Add(1)) }

// world is the personas the test nodes know of: each node's EncKeyFunc
// looks encryption keys up here, as the node would in identity records.
type world struct {
	clock *fakeClock
	mu    sync.Mutex
	enc   map[string]hpke.PublicKey
}

func newWorld() *world { return &world{clock: newFakeClock(), enc: map[string]hpke.PublicKey{}} }

func (w *world) encKey(_ context.Context, persona string) (hpke.PublicKey, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, ok := w.enc[persona]
	if !ok {
		return nil, fmt.Errorf("no identity record of %s", persona)
	}
	return k, nil
}

// testNode is one node: a persona with one device, a MiMei store and a
// sharing Service.
type testNode struct {
	svc     *Service
	store   *mimei.Store
	kv      kv.Store
	blocks  blockstore.Store
	persona string
	peer    string // the device's peer ID
	key     ed25519.PrivateKey
	closers []io.Closer

	mu     sync.Mutex
	events []string // kinds the Service published, in order
}

type nodeOptions struct {
	dir        string // "": memory; else Pebble KV and a pack store in dir
	cacheQuota int64
	suite      sealing.Suite // 0: the device's default
	device     byte          // another device of the same persona (0: the first)
}

// published lists the kinds of the events n's Service published.
func (n *testNode) published() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.events...)
}

func (w *world) node(t *testing.T, seed byte, o nodeOptions) *testNode {
	t.Helper()
	personaKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	dev := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed, 0xd0 + o.device}, 16))
	cert, err := identity.IssueDeviceCertV1(personaKey, dev.Public().(ed25519.PublicKey), 1+uint64(o.device), time.Unix(1_700_000_000, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	sg := mimei.Signer{Device: dev, Cert: cert}
	n := &testNode{persona: cert.Persona, peer: fmt.Sprintf("peer%d", seed), key: personaKey}
	if o.device > 0 {
		n.peer = fmt.Sprintf("peer%d.%d", seed, o.device)
	}
	if o.dir == "" {
		n.kv, n.blocks = memkv.New(), memstore.New()
	} else {
		pk, err := pebblekv.Open(filepath.Join(o.dir, "kv"), pebblekv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := packstore.Open(filepath.Join(o.dir, "blocks"), pk, packstore.Options{})
		if err != nil {
			pk.Close()
			t.Fatal(err)
		}
		n.kv, n.blocks = pk, ps
		n.closers = []io.Closer{ps, pk}
		t.Cleanup(func() { n.close() })
	}
	n.store, err = mimei.NewStore(mimei.Options{
		KV: n.kv, Blocks: n.blocks, Now: w.clock.Now,
		Signer: func(p string) (mimei.Signer, error) {
			if p != sg.Cert.Persona {
				return mimei.Signer{}, fmt.Errorf("no device key for %s", p)
			}
			return sg, nil
		},
		// As the node wires it: GC keeps what the sharing state holds.
		MarkExtra: func(ctx context.Context, fn func(cid.CID) error) error { return n.svc.MarkBlocks(ctx, fn) },
	})
	if err != nil {
		t.Fatal(err)
	}
	n.svc, err = New(Config{
		KV: n.kv, Store: n.store, Persona: n.persona, CacheQuota: o.cacheQuota, Suite: o.suite, Now: w.clock.Now,
		Event: func(kind string, _ any) {
			n.mu.Lock()
			n.events = append(n.events, kind)
			n.mu.Unlock()
		},
		PersonaKey: func(p string) (ed25519.PrivateKey, error) {
			if p != n.persona {
				return nil, fmt.Errorf("no key for %s", p)
			}
			return personaKey, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := identity.EncryptionKey(personaKey)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.enc[n.persona] = enc.PublicKey()
	w.mu.Unlock()
	return n
}

// close closes an on-disk node's stores (block store first: its index is
// in the KV).
func (n *testNode) close() {
	for _, c := range n.closers {
		c.Close()
	}
	n.closers = nil
}

// create registers a MiMei owned by n.
func (n *testNode) create(t *testing.T, public bool) mimei.ID {
	t.Helper()
	m, err := n.store.Create(mimei.Spec{Author: n.persona, AppType: "files", Mark: mimei.AutoMark}, mimei.Rights{Public: public}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (n *testNode) put(t *testing.T, id mimei.ID, p string, data []byte) {
	t.Helper()
	if _, err := n.store.Put(context.Background(), id, p, bytes.NewReader(data), mimei.PutOptions{Parents: true}); err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
}

func (n *testNode) backup(t *testing.T, id mimei.ID) mimei.VersionInfo {
	t.Helper()
	vi, err := n.store.Backup(context.Background(), id, "")
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return vi
}

func (n *testNode) publish(t *testing.T, w *world, id mimei.ID, ref string) Head {
	t.Helper()
	h, err := n.svc.Publish(context.Background(), id, ref, w.encKey)
	if err != nil {
		t.Fatalf("publish %s: %v", ref, err)
	}
	return h
}

func (n *testNode) read(t *testing.T, id mimei.ID, ref, p string) []byte {
	t.Helper()
	_, r, err := n.store.Open(context.Background(), id, ref, p)
	if err != nil {
		t.Fatalf("open %s@%s: %v", p, ref, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s@%s: %v", p, ref, err)
	}
	return b
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// errInterrupted ends a transfer after its put limit.
var errInterrupted = errors.New("transfer interrupted")

type transferStats struct{ fetched, skipped int }

// transfer plays the network between an owner and a receiver as the block
// exchange does: from the receiver's roots, a block the receiver has is
// read locally (skipped), any other is authorized by the owner for
// persona, fetched, checked against its CID and put; either way its links
// are followed. limit > 0 stops after that many puts with errInterrupted.
func transfer(ctx context.Context, owner *Service, persona, peer string, id mimei.ID, r *Receiver, limit int) (transferStats, error) {
	return transferWith(ctx, owner, persona, peer, id, r, limit, nil)
}

// transferWith is transfer with a provider that sends tamper's result
// instead of each block it serves (tamper may return the block as it is).
func transferWith(ctx context.Context, owner *Service, persona, peer string, id mimei.ID, r *Receiver, limit int, tamper func(cid.CID, []byte) []byte) (transferStats, error) {
	var st transferStats
	queue := r.Roots()
	seen := map[cid.CID]bool{}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if seen[c] {
			continue
		}
		seen[c] = true
		var data []byte
		has, err := r.Has(ctx, c)
		if err != nil {
			return st, err
		}
		if has {
			if data, err = r.Get(ctx, c); err != nil {
				return st, fmt.Errorf("local block %s: %w", c, err)
			}
			st.skipped++
		} else {
			if limit > 0 && st.fetched == limit {
				return st, errInterrupted
			}
			if err := owner.Authorize(persona, peer, id.String(), c); err != nil {
				return st, fmt.Errorf("authorize %s: %w", c, err)
			}
			if data, err = owner.Get(ctx, c); err != nil {
				return st, fmt.Errorf("get %s: %w", c, err)
			}
			if tamper != nil {
				data = tamper(c, bytes.Clone(data))
			}
			if err := r.Verify(c, data); err != nil {
				return st, err
			}
			if err := r.Put(ctx, c, data); err != nil {
				return st, fmt.Errorf("put %s: %w", c, err)
			}
			st.fetched++
		}
		links, err := r.Links(c, data)
		if err != nil {
			return st, err
		}
		queue = append(queue, links...)
	}
	return st, nil
}

// fetch is one reader's whole fetch of version n of id from owner:
// catalog and key record asked as persona, receive, transfer, finish.
func fetch(t *testing.T, owner, reader *testNode, persona string, id mimei.ID, n uint64, hold bool) (Received, transferStats) {
	t.Helper()
	ctx := context.Background()
	r := receive(t, owner, reader, persona, id, n, hold)
	st, err := transfer(ctx, owner.svc, persona, reader.peer, id, r, 0)
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	got, err := r.Finish(ctx)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	return got, st
}

// receive starts a reader's fetch of version n of id from owner: the
// catalog and key record asked as persona, and the Receiver.
func receive(t *testing.T, owner, reader *testNode, persona string, id mimei.ID, n uint64, hold bool) *Receiver {
	t.Helper()
	ctx := context.Background()
	cat, err := owner.svc.Catalog(ctx, id, persona)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	head, ok := headOf(cat, n)
	if !ok {
		t.Fatalf("catalog has no head of version %d: %+v", n, cat.Heads)
	}
	var kr []byte
	if head.Epoch > 0 && !hold {
		if kr, err = owner.svc.KeyRecordFor(id, head.Epoch, persona); err != nil {
			t.Fatalf("key record: %v", err)
		}
	}
	r, err := reader.svc.Receive(cat, head, kr, hold, true)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return r
}

func headOf(cat *Catalog, n uint64) (Head, bool) {
	for _, h := range cat.Heads {
		if h.Number == n {
			return h, true
		}
	}
	return Head{}, false
}

// plainBlocks lists the distinct plaintext blocks of version ref of id.
func plainBlocks(t *testing.T, s *mimei.Store, id mimei.ID, ref string) map[cid.CID]bool {
	t.Helper()
	out := map[cid.CID]bool{}
	if _, _, err := s.VersionBlocks(context.Background(), id, ref, func(c cid.CID) error {
		out[c] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
