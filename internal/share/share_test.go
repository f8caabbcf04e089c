package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// sharedMiMei: alice owns a private MiMei shared with bob, with one
// version published.
type sharedMiMei struct {
	w          *world
	alice, bob *testNode
	id         mimei.ID
	offer      *Offer
	files      map[string][]byte
	head       Head
}

func newShared(t *testing.T) *sharedMiMei {
	t.Helper()
	ctx := context.Background()
	w := newWorld()
	s := &sharedMiMei{w: w, alice: w.node(t, 1, nodeOptions{}), bob: w.node(t, 2, nodeOptions{})}
	s.id = s.alice.create(t, false)
	var err error
	if s.offer, err = s.alice.svc.Share(ctx, s.id, s.bob.persona, false, w.encKey); err != nil {
		t.Fatalf("share: %v", err)
	}
	s.files = map[string][]byte{}
	for i := range 5 {
		p := fmt.Sprintf("docs/f%d.bin", i)
		s.files[p] = randomBytes(uint64(i+1), 1<<20)
		s.alice.put(t, s.id, p, s.files[p])
	}
	vi := s.alice.backup(t, s.id)
	s.head = s.alice.publish(t, w, s.id, fmt.Sprint(vi.Number))
	return s
}

func TestShareFetchPrivate(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	if s.offer.MiMei != s.id || s.offer.Author != s.alice.persona || s.offer.Write {
		t.Fatalf("offer: %+v", s.offer)
	}
	if _, err := s.bob.svc.AddOffer(s.offer, s.alice.persona); err != nil {
		t.Fatalf("add offer: %v", err)
	}
	if s.head.Epoch == 0 {
		t.Fatal("a private MiMei was published unsealed")
	}
	// The sealed record is not the plaintext record.
	_, rc, err := s.alice.store.Version(ctx, s.id, "0")
	if err != nil {
		t.Fatal(err)
	}
	if s.head.Record == rc {
		t.Fatal("head names the plaintext record of a private MiMei")
	}

	got, st := fetch(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)
	if got.Held || got.Conflict != nil || got.Version.Number != 0 || got.Version.CID != rc {
		t.Fatalf("received: %+v", got)
	}
	if want := int(s.head.Blocks) + 1; st.fetched != want || st.skipped != 0 {
		t.Fatalf("fetched %d skipped %d, want %d (blocks + manifest) and 0", st.fetched, st.skipped, want)
	}
	vs, err := s.bob.store.Versions(ctx, s.id)
	if err != nil || len(vs) != 1 || vs[0].CID != rc {
		t.Fatalf("bob's versions: %v %v", vs, err)
	}
	for p, want := range s.files {
		if got := s.bob.read(t, s.id, "last", p); !bytes.Equal(got, want) {
			t.Fatalf("%s at bob differs from alice's", p)
		}
	}
	m, err := s.bob.store.Registry().Get(s.id)
	if err != nil || m.Rights.Owner != s.alice.persona || !slices.Contains(m.Rights.Readers, s.bob.persona) {
		t.Fatalf("bob's replica meta: %+v %v", m, err)
	}
	// Bob's own GC keeps what he received.
	if _, err := s.bob.store.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if vr, err := s.bob.store.Verify(ctx); err != nil || !vr.OK() {
		t.Fatalf("bob's store after GC: %+v %v", vr, err)
	}
}

func TestStrangerRefused(t *testing.T) {
	s := newShared(t)
	carol := s.w.node(t, 3, nodeOptions{})
	cases := []struct {
		name string
		call func() error
	}{
		{"catalog", func() error { _, err := s.alice.svc.Catalog(context.Background(), s.id, carol.persona); return err }},
		{"catalog for nobody", func() error { _, err := s.alice.svc.Catalog(context.Background(), s.id, ""); return err }},
		{"key record", func() error { _, err := s.alice.svc.KeyRecordFor(s.id, s.head.Epoch, carol.persona); return err }},
		{"manifest", func() error { return s.alice.svc.Authorize(carol.persona, carol.peer, s.id.String(), s.head.Manifest) }},
		{"record", func() error { return s.alice.svc.Authorize(carol.persona, carol.peer, s.id.String(), s.head.Record) }},
		{"record for nobody", func() error { return s.alice.svc.Authorize("", "x", s.id.String(), s.head.Record) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrNotShared) {
				t.Fatalf("got %v, want ErrNotShared", err)
			}
		})
	}
	if log, err := s.alice.svc.AccessLog(s.id, 0); err != nil || len(log) != 0 {
		t.Fatalf("refused requests were logged as accesses: %+v %v", log, err)
	}
}

func TestAuthorizeOnlyBlocksOfThatMiMei(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	// Y: another private MiMei of alice's, shared with carol only.
	carol := s.w.node(t, 3, nodeOptions{})
	y := s.alice.create(t, false)
	if _, err := s.alice.svc.Share(ctx, y, carol.persona, false, s.w.encKey); err != nil {
		t.Fatal(err)
	}
	s.alice.put(t, y, "secret.bin", randomBytes(99, 50<<10))
	s.alice.backup(t, y)
	hy := s.alice.publish(t, s.w, y, "0")
	// A plaintext block of X itself (the Get path would return it as is).
	var plainX cid.CID
	for c := range plainBlocks(t, s.alice.store, s.id, "0") {
		if c.Type() == cid.Raw {
			plainX = c
			break
		}
	}

	x := s.id.String()
	cases := []struct {
		name string
		mid  string
		c    cid.CID
		want error
	}{
		{"X's manifest through X", x, s.head.Manifest, nil},
		{"X's sealed record through X", x, s.head.Record, nil},
		{"Y's manifest through X", x, hy.Manifest, ErrNotShared},
		{"Y's sealed record through X", x, hy.Record, ErrNotShared},
		{"X's plaintext block through X", x, plainX, ErrNotShared},
		{"Y's manifest through Y", y.String(), hy.Manifest, ErrNotShared},
		{"an unknown MiMei", "mnotamimei", s.head.Manifest, ErrNotShared},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.alice.svc.Authorize(s.bob.persona, s.bob.peer, tc.mid, tc.c)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Authorize: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFetchDedupAndResume(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	fetch(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)

	// Version 1: one byte of one file of five changed.
	changed := bytes.Clone(s.files["docs/f2.bin"])
	changed[len(changed)/2] ^= 1
	s.alice.put(t, s.id, "docs/f2.bin", changed)
	s.alice.backup(t, s.id)
	s.alice.publish(t, s.w, s.id, "1")
	v0, v1 := plainBlocks(t, s.alice.store, s.id, "0"), plainBlocks(t, s.alice.store, s.id, "1")
	var newBlocks, shared int
	for c := range v1 {
		if v0[c] {
			shared++
		} else {
			newBlocks++
		}
	}
	got, st := fetch(t, s.alice, s.bob, s.bob.persona, s.id, 1, false)
	if got.Version.Number != 1 {
		t.Fatalf("received %+v", got)
	}
	if st.fetched != newBlocks+1 || st.skipped != shared {
		t.Fatalf("version 1: fetched %d, skipped %d; want %d new blocks + 1 manifest and %d skipped", st.fetched, st.skipped, newBlocks, shared)
	}
	t.Logf("version 1: fetched %d blocks, skipped %d", st.fetched, st.skipped)
	if st.skipped <= 2*st.fetched {
		t.Fatalf("version 1 with one file of five changed fetched %d blocks and skipped only %d", st.fetched, st.skipped)
	}
	if got := s.bob.read(t, s.id, "1", "docs/f2.bin"); !bytes.Equal(got, changed) {
		t.Fatal("changed file differs at bob")
	}
	if got := s.bob.read(t, s.id, "1", "docs/f0.bin"); !bytes.Equal(got, s.files["docs/f0.bin"]) {
		t.Fatal("unchanged file differs at bob")
	}

	// Version 2: a new large file. The transfer breaks after k blocks; the
	// next attempt fetches only the rest.
	s.alice.put(t, s.id, "big.bin", randomBytes(2000, 1<<20))
	s.alice.backup(t, s.id)
	s.alice.publish(t, s.w, s.id, "2")
	v2 := plainBlocks(t, s.alice.store, s.id, "2")
	need := 1 // the manifest
	for c := range v2 {
		if !v1[c] {
			need++
		}
	}
	const k = 4
	if need <= k+1 {
		t.Fatalf("version 2 needs only %d blocks; the test needs more", need)
	}
	cat, err := s.alice.svc.Catalog(ctx, s.id, s.bob.persona)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := headOf(cat, 2)
	kr, err := s.alice.svc.KeyRecordFor(s.id, head.Epoch, s.bob.persona)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.bob.svc.Receive(cat, head, kr, false, true)
	if err != nil {
		t.Fatal(err)
	}
	first, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, k)
	if !errors.Is(err, errInterrupted) || first.fetched != k {
		t.Fatalf("interrupted transfer: %+v %v", first, err)
	}
	if _, err := r.Finish(ctx); err == nil {
		t.Fatal("Finish of an interrupted transfer succeeded")
	}
	if ns := versionNumbers(t, s.bob.store, s.id); slices.Contains(ns, 2) {
		t.Fatalf("version 2 listed after an interrupted transfer: %v", ns)
	}
	r, err = s.bob.svc.Receive(cat, head, nil, false, true) // key record kept from the first attempt
	if err != nil {
		t.Fatal(err)
	}
	second, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if second.fetched != need-k {
		t.Fatalf("resumed transfer fetched %d blocks, want the %d not fetched before", second.fetched, need-k)
	}
	if _, err := r.Finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if ns := versionNumbers(t, s.bob.store, s.id); !slices.Equal(ns, []uint64{0, 1, 2}) {
		t.Fatalf("bob's versions: %v", ns)
	}
}

func versionNumbers(t *testing.T, s *mimei.Store, id mimei.ID) []uint64 {
	t.Helper()
	vs, err := s.Versions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, v := range vs {
		out = append(out, v.Number)
	}
	return out
}

func TestUnshareRotatesKey(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	fetch(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)
	oldCat, err := s.alice.svc.Catalog(ctx, s.id, s.bob.persona)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := s.bob.svc.contentKey(s.id, s.head.Epoch, s.alice.persona)
	if err != nil {
		t.Fatalf("bob's key of epoch %d: %v", s.head.Epoch, err)
	}

	if err := s.alice.svc.Unshare(ctx, s.id, s.bob.persona, s.w.encKey); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	s.alice.put(t, s.id, "after.txt", []byte("written after bob was removed, and long enough to matter"))
	s.alice.backup(t, s.id)
	head := s.alice.publish(t, s.w, s.id, "1")
	if head.Epoch <= s.head.Epoch {
		t.Fatalf("epoch after unshare %d, before %d", head.Epoch, s.head.Epoch)
	}

	refused := []struct {
		name string
		call func() error
		want error
	}{
		{"catalog", func() error { _, err := s.alice.svc.Catalog(ctx, s.id, s.bob.persona); return err }, ErrNotShared},
		{"new key record", func() error { _, err := s.alice.svc.KeyRecordFor(s.id, head.Epoch, s.bob.persona); return err }, ErrNotShared},
		{"old key record", func() error { _, err := s.alice.svc.KeyRecordFor(s.id, s.head.Epoch, s.bob.persona); return err }, ErrNotShared},
		{"new manifest", func() error { return s.alice.svc.Authorize(s.bob.persona, s.bob.peer, s.id.String(), head.Manifest) }, ErrNotShared},
		{"receive with the new key record", func() error {
			raw, err := s.alice.svc.KeyRecord(s.id, head.Epoch) // as if it leaked
			if err != nil {
				return err
			}
			_, err = s.bob.svc.Receive(oldCat, head, raw, false, true)
			return err
		}, ErrNoKey},
		{"receive with no key record", func() error {
			_, err := s.bob.svc.Receive(oldCat, head, nil, false, true)
			return err
		}, ErrNoKey},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The old key opens none of the new version's sealed blocks.
	sealed, err := s.alice.svc.Get(ctx, head.Record)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldKey.Open(sealed); !errors.Is(err, sealing.ErrDecrypt) {
		t.Fatalf("old key on the new record: %v, want ErrDecrypt", err)
	}
	oldSealed, err := s.alice.svc.Get(ctx, s.head.Record)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldKey.Open(oldSealed); err != nil {
		t.Fatalf("old key on the old record: %v", err)
	}
	// What bob fetched before stays his.
	if got := s.bob.read(t, s.id, "0", "docs/f0.bin"); !bytes.Equal(got, s.files["docs/f0.bin"]) {
		t.Fatal("bob lost version 0")
	}
}

// windows indexes every 32-byte window of data.
func windows(data []byte) map[[32]byte]struct{} {
	out := make(map[[32]byte]struct{}, len(data))
	for i := 0; i+32 <= len(data); i++ {
		out[[32]byte(data[i:i+32])] = struct{}{}
	}
	return out
}

// plaintextFiles lists the files under dir holding any window of plain.
func plaintextFiles(t *testing.T, dir string, plain map[[32]byte]struct{}) []string {
	t.Helper()
	var found []string
	var files int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i := 0; i+32 <= len(b); i++ {
			if _, ok := plain[[32]byte(b[i:i+32])]; ok {
				found = append(found, fmt.Sprintf("%s at %d", p, i))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return found
}

func TestHolderSeesNoPlaintext(t *testing.T) {
	w := newWorld()
	alice := w.node(t, 1, nodeOptions{})
	bobDir := t.TempDir()
	bob := w.node(t, 2, nodeOptions{dir: bobDir})
	holderDir := t.TempDir()
	holder := w.node(t, 4, nodeOptions{dir: holderDir})
	id := alice.create(t, false)
	if _, err := alice.svc.Share(context.Background(), id, bob.persona, false, w.encKey); err != nil {
		t.Fatal(err)
	}
	secret := randomBytes(42, 300<<10)
	alice.put(t, id, "secret.bin", secret)
	alice.backup(t, id)
	head := alice.publish(t, w, id, "0")

	// The holder keeps bob's copy without a key: asked as bob, held.
	got, st := fetch(t, alice, holder, bob.persona, id, 0, true)
	if !got.Held || st.fetched != int(head.Blocks)+1 {
		t.Fatalf("held: %+v, fetched %d of %d", got, st.fetched, head.Blocks+1)
	}
	// Registered (to serve what it holds), with no version imported.
	if in, err := holder.store.Info(id); err != nil || in.Versions != 0 || in.Files != 0 || in.Shows != nil {
		t.Fatalf("the holder imported a version it cannot read: %+v %v", in, err)
	}
	// Bob, with the key, stores plaintext: the control that the scan finds it.
	fetch(t, alice, bob, bob.persona, id, 0, false)
	if !bytes.Equal(bob.read(t, id, "0", "secret.bin"), secret) {
		t.Fatal("bob's copy differs")
	}

	// The holder's GC keeps what it holds.
	ctx := context.Background()
	if _, err := holder.store.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := holder.blocks.Has(ctx, head.Record); err != nil || !ok {
		t.Fatalf("held record collected by GC: %v %v", ok, err)
	}

	holder.close()
	bob.close()
	plain := windows(secret)
	if found := plaintextFiles(t, holderDir, plain); len(found) > 0 {
		t.Fatalf("plaintext at the holder: %v", found)
	}
	if found := plaintextFiles(t, bobDir, plain); len(found) == 0 {
		t.Fatal("the scan finds no plaintext even at bob, who can read it: the scan is broken")
	}
}

// A node holding a sealed version without its key keeps it to serve it
// on (Finish: "records the head so the version can be served on"; the
// membership index lists "sealed blocks held without key").
func TestHolderServesHeldVersion(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	alice, bob, holder := w.node(t, 1, nodeOptions{}), w.node(t, 2, nodeOptions{}), w.node(t, 4, nodeOptions{})
	stranger := w.node(t, 5, nodeOptions{})
	id := alice.create(t, false)
	if _, err := alice.svc.Share(ctx, id, bob.persona, false, w.encKey); err != nil {
		t.Fatal(err)
	}
	content := randomBytes(5, 10<<10)
	alice.put(t, id, "f.txt", content)
	alice.backup(t, id)
	head := alice.publish(t, w, id, "0")
	if got, _ := fetch(t, alice, holder, bob.persona, id, 0, true); !got.Held {
		t.Fatal("the holder's fetch was not held")
	}
	if in, err := holder.store.Info(id); err != nil || in.Versions != 0 {
		t.Fatalf("the holder's MiMei: %+v %v (want registered, no version)", in, err)
	}
	if err := holder.svc.Authorize(bob.persona, bob.peer, id.String(), head.Manifest); err != nil {
		t.Fatalf("the holder refuses its own held version to a reader: %v", err)
	}
	if err := holder.svc.Authorize(stranger.persona, stranger.peer, id.String(), head.Manifest); !errors.Is(err, ErrNotShared) {
		t.Fatalf("the holder serves a stranger: %v", err)
	}
	r, err := bob.svc.Receive(mustCatalog(t, alice, id, bob.persona), head, mustKeyRecord(t, alice, id, head.Epoch, bob.persona), false, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer(ctx, holder.svc, bob.persona, bob.peer, id, r, 0); err != nil {
		t.Fatalf("transfer from the holder: %v", err)
	}
	if _, err := r.Finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if got := bob.read(t, id, "0", "f.txt"); !bytes.Equal(got, content) {
		t.Fatal("the version served by the holder reads differently at bob")
	}
}

func mustCatalog(t *testing.T, owner *testNode, id mimei.ID, persona string) *Catalog {
	t.Helper()
	c, err := owner.svc.Catalog(context.Background(), id, persona)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustKeyRecord(t *testing.T, owner *testNode, id mimei.ID, epoch uint32, persona string) []byte {
	t.Helper()
	kr, err := owner.svc.KeyRecordFor(id, epoch, persona)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestPublicFetchAndAccessLog(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	alice, bob, stranger := w.node(t, 1, nodeOptions{}), w.node(t, 2, nodeOptions{}), w.node(t, 5, nodeOptions{})
	id := alice.create(t, true)
	content := randomBytes(7, 600<<10)
	alice.put(t, id, "pub.bin", content)
	vi := alice.backup(t, id)
	head := alice.publish(t, w, id, "0")

	// Listed as they are: no epoch, the plaintext record, the plaintext blocks.
	if head.Epoch != 0 || head.Record != vi.CID {
		t.Fatalf("public head: epoch %d record %s (plaintext record %s)", head.Epoch, head.Record, vi.CID)
	}
	data, err := alice.store.Blocks().Get(ctx, head.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	man, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	plain := plainBlocks(t, alice.store, id, "0")
	if man.Next.Defined() || len(man.Blocks) != len(plain) || uint64(len(plain)) != head.Blocks {
		t.Fatalf("manifest lists %d blocks, version has %d, head says %d", len(man.Blocks), len(plain), head.Blocks)
	}
	for _, c := range man.Blocks {
		if !plain[c] {
			t.Fatalf("manifest lists %s, not a block of the version", c)
		}
	}
	if _, err := alice.svc.KeyRecordFor(id, 1, bob.persona); !errors.Is(err, ErrNoKey) {
		t.Fatalf("key record of a public MiMei: %v", err)
	}

	got, _ := fetch(t, alice, stranger, "", id, 0, false)
	if got.Version.CID != vi.CID || !bytes.Equal(stranger.read(t, id, "last", "pub.bin"), content) {
		t.Fatalf("stranger's copy: %+v", got)
	}
	fetch(t, alice, bob, bob.persona, id, 0, false)
	alice.put(t, id, "more.txt", []byte("v1"))
	alice.backup(t, id)
	alice.publish(t, w, id, "1")
	fetch(t, alice, bob, bob.persona, id, 1, false)

	want := []Access{
		{MiMei: id, Version: 0, Persona: "", Peer: stranger.peer},
		{MiMei: id, Version: 0, Persona: bob.persona, Peer: bob.peer},
		{MiMei: id, Version: 1, Persona: bob.persona, Peer: bob.peer},
	}
	log, err := alice.svc.AccessLog(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(want) {
		t.Fatalf("access log: %+v, want %d entries", log, len(want))
	}
	for i := range want {
		g := log[i]
		g.Time = want[i].Time
		if g != want[i] {
			t.Fatalf("access %d: %+v, want %+v", i, log[i], want[i])
		}
		if i > 0 && log[i].Time.Before(log[i-1].Time) {
			t.Fatalf("access log out of order: %+v", log)
		}
	}
	if last, err := alice.svc.AccessLog(id, 1); err != nil || len(last) != 1 || last[0].Version != 1 {
		t.Fatalf("newest access: %+v %v", last, err)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	const size = 300 << 10
	alice := w.node(t, 1, nodeOptions{})
	const quota = 2*size + size/2 // two MiMei fit, three do not
	cache := w.node(t, 6, nodeOptions{cacheQuota: quota})

	var ids []mimei.ID
	contents := map[mimei.ID][]byte{}
	for i := range 4 {
		id := alice.create(t, true)
		contents[id] = randomBytes(uint64(100+i), size)
		alice.put(t, id, "f.bin", contents[id])
		alice.backup(t, id)
		alice.publish(t, w, id, "0")
		ids = append(ids, id)
	}
	fetched := map[mimei.ID]bool{}
	add := func(id mimei.ID) []mimei.ID {
		t.Helper()
		fetched[id] = true
		got, _ := fetch(t, alice, cache, "", id, 0, false)
		ev, err := cache.svc.AddToCache(ctx, id, int64(got.Head.Bytes))
		if err != nil {
			t.Fatalf("add to cache: %v", err)
		}
		return ev
	}
	steps := []struct {
		name    string
		do      func() []mimei.ID
		evicted []mimei.ID
		cached  []mimei.ID // least recently used first
	}{
		{"first", func() []mimei.ID { return add(ids[0]) }, nil, ids[:1]},
		{"second", func() []mimei.ID { return add(ids[1]) }, nil, ids[:2]},
		{"touch first", func() []mimei.ID { cache.svc.Touch(ids[0]); return nil }, nil, []mimei.ID{ids[1], ids[0]}},
		{"third evicts the second", func() []mimei.ID { return add(ids[2]) }, ids[1:2], []mimei.ID{ids[0], ids[2]}},
		{"fourth evicts the first", func() []mimei.ID { return add(ids[3]) }, ids[0:1], []mimei.ID{ids[2], ids[3]}},
	}
	gone := map[mimei.ID]bool{}
	for _, st := range steps {
		ev := st.do()
		if !slices.Equal(ev, st.evicted) {
			t.Fatalf("%s: evicted %v, want %v", st.name, ev, st.evicted)
		}
		for _, id := range ev {
			gone[id] = true
		}
		entries, err := cache.svc.Cached()
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		var got []mimei.ID
		for _, e := range entries {
			total += e.Bytes
			got = append(got, e.MiMei)
		}
		if total > quota || !slices.Equal(got, st.cached) {
			t.Fatalf("%s: cache %v (%d bytes, quota %d), want %v", st.name, got, total, quota, st.cached)
		}
		for id := range fetched {
			_, err := cache.store.Registry().Get(id)
			if gone[id] != errors.Is(err, mimei.ErrNotFound) {
				t.Fatalf("%s: %s evicted=%v, registry says %v", st.name, id, gone[id], err)
			}
		}
	}
	// The evicted MiMei's blocks are collected; the cached ones are whole.
	for _, id := range ids {
		var here, all int
		for c := range plainBlocks(t, alice.store, id, "0") {
			all++
			if ok, _ := cache.blocks.Has(ctx, c); ok {
				here++
			}
		}
		switch {
		case gone[id] && here != 0:
			t.Errorf("evicted %s: %d of its %d blocks still stored", id, here, all)
		case !gone[id] && !bytes.Equal(cache.read(t, id, "0", "f.bin"), contents[id]):
			t.Errorf("cached %s damaged by eviction", id)
		}
	}
	// A cached MiMei fetched again costs nothing: its manifest survived GC.
	if _, st := fetch(t, alice, cache, "", ids[3], 0, false); st.fetched != 0 {
		t.Fatalf("refetch of a cached MiMei fetched %d blocks", st.fetched)
	}
}

// A version relayed by a cache (trusted=false) is accepted only when the
// owner signed it; the rights in the relayed catalog are unsigned, so they
// must not replace the rights the replica got from the owner.
func TestUntrustedCatalogRights(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	mallory := s.w.node(t, 7, nodeOptions{})
	fetch(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)
	s.alice.put(t, s.id, "v1.txt", []byte("one"))
	s.alice.backup(t, s.id)
	s.alice.publish(t, s.w, s.id, "1")
	before, err := s.bob.store.Registry().Get(s.id)
	if err != nil {
		t.Fatal(err)
	}

	cat := mustCatalog(t, s.alice, s.id, s.bob.persona)
	cat.Rights.Writers = append(cat.Rights.Writers, mallory.persona)
	cat.Rights.Public = true
	head, _ := headOf(cat, 1)
	r, err := s.bob.svc.Receive(cat, head, mustKeyRecord(t, s.alice, s.id, head.Epoch, s.bob.persona), false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Finish(ctx); err != nil {
		t.Fatalf("owner-signed version through a cache: %v", err)
	}
	if ns := versionNumbers(t, s.bob.store, s.id); !slices.Equal(ns, []uint64{0, 1}) {
		t.Fatalf("versions: %v", ns)
	}
	after, err := s.bob.store.Registry().Get(s.id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Rights.Public != before.Rights.Public || !slices.Equal(after.Rights.Writers, before.Rights.Writers) {
		t.Fatalf("rights from an untrusted catalog replaced the replica's: before %+v, after %+v", before.Rights, after.Rights)
	}
}

// A reader with the key accepts a sealed block on the check the manifest
// lists and by opening it, without hashing it: a block with another check,
// or with the listed check and anything else changed, is refused with
// cid.ErrIntegrity (so the exchange drops the provider) and not stored.
func TestSealedBlocksVerifiedByCheck(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	cat, err := s.alice.svc.Catalog(ctx, s.id, s.bob.persona)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := headOf(cat, 0)
	kr, err := s.alice.svc.KeyRecordFor(s.id, head.Epoch, s.bob.persona)
	if err != nil {
		t.Fatal(err)
	}
	var other []byte // a genuine sealed block of the version, not the one asked for
	tests := []struct {
		name   string
		tamper func(data []byte) []byte
		where  string // what refuses it
	}{
		{"ciphertext changed, check kept", func(d []byte) []byte { d[len(d)/2] ^= 1; return d }, "put"},
		{"tag changed", func(d []byte) []byte { d[len(d)-1] ^= 1; return d }, "put"},
		{"nonce changed after the check", func(d []byte) []byte { d[1+sealing.CheckSize] ^= 1; return d }, "put"},
		{"check changed", func(d []byte) []byte { d[1] ^= 1; return d }, "verify"},
		{"another block of the version", func([]byte) []byte { return bytes.Clone(other) }, "verify"},
		{"truncated", func(d []byte) []byte { return d[:sealing.Overhead-1] }, "verify"},
		{"another suite", func(d []byte) []byte { d[0] ^= byte(sealing.SuiteXChaCha20Poly1305 ^ sealing.SuiteAES256GCM); return d }, "put"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.bob.svc.Receive(cat, head, kr, false, true)
			if err != nil {
				t.Fatal(err)
			}
			var hit cid.CID
			_, err = transferWith(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, 0, func(c cid.CID, d []byte) []byte {
				if _, sealed := r.sealedMode(c); !sealed {
					return d
				}
				if other == nil {
					other = bytes.Clone(d)
					return d
				}
				if hit.Defined() {
					return d
				}
				hit = c
				return tc.tamper(d)
			})
			if !errors.Is(err, cid.ErrIntegrity) {
				t.Fatalf("got %v, want cid.ErrIntegrity", err)
			}
			if err := r.Flush(ctx); err != nil { // as the node does after a broken fetch
				t.Fatal(err)
			}
			if put := strings.HasPrefix(err.Error(), "put "); put != (tc.where == "put") {
				t.Fatalf("refused by the wrong step (want %s): %v", tc.where, err)
			}
			if has, err := r.Has(ctx, hit); err != nil || has {
				t.Fatalf("tampered block %s stored: %v %v", hit, has, err)
			}
		})
	}
	// Untouched, the same path takes the whole version.
	got, _ := fetch(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)
	if got.Version.Number != 0 {
		t.Fatalf("received %+v", got)
	}
}

// TestEpochKeepsItsSuite: an epoch seals with the suite its key record
// names, whatever the sealing device or the reader would pick for a new
// epoch, so every device seals a block of the epoch to the same bytes.
func TestEpochKeepsItsSuite(t *testing.T) {
	ctx := context.Background()
	for _, suite := range sealing.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			other := sealing.SuiteXChaCha20Poly1305
			if suite == other {
				other = sealing.SuiteAES256GCM
			}
			w := newWorld()
			alice := w.node(t, 1, nodeOptions{suite: suite})
			bob := w.node(t, 2, nodeOptions{suite: other})
			carol := w.node(t, 3, nodeOptions{suite: other})
			id := alice.create(t, false)
			if _, err := alice.svc.Share(ctx, id, bob.persona, false, w.encKey); err != nil {
				t.Fatal(err)
			}
			alice.put(t, id, "a.txt", []byte("sealed with the first epoch's suite"))
			head := alice.publish(t, w, id, fmt.Sprint(alice.backup(t, id).Number))
			suiteOf := func(head Head) sealing.Suite {
				t.Helper()
				raw, err := alice.svc.KeyRecord(id, head.Epoch)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := sealing.ParseKeyRecord(raw)
				if err != nil {
					t.Fatal(err)
				}
				block, err := alice.svc.Get(ctx, head.Record)
				if err != nil {
					t.Fatal(err)
				}
				if sealing.Suite(block[0]) != rec.Suite {
					t.Fatalf("block sealed with %s, the record names %s", sealing.Suite(block[0]), rec.Suite)
				}
				return rec.Suite
			}
			if got := suiteOf(head); got != suite {
				t.Fatalf("epoch sealed with %s, want %s", got, suite)
			}
			if got, _ := fetch(t, alice, bob, bob.persona, id, head.Number, false); got.Version.Number != head.Number {
				t.Fatalf("bob received %+v", got)
			}
			if got := bob.read(t, id, "last", "a.txt"); string(got) != "sealed with the first epoch's suite" {
				t.Fatalf("bob read %q", got)
			}

			// Alice's device now prefers the other suite (another device of
			// hers, or a changed setting): adding a reader rewraps the
			// epoch, and new blocks of it are still sealed with its suite.
			alice.svc.cfg.Suite = other
			if _, err := alice.svc.Share(ctx, id, carol.persona, false, w.encKey); err != nil {
				t.Fatal(err)
			}
			alice.put(t, id, "b.txt", []byte("a block sealed after the setting changed"))
			head2 := alice.publish(t, w, id, fmt.Sprint(alice.backup(t, id).Number))
			if head2.Epoch != head.Epoch || suiteOf(head2) != suite {
				t.Fatalf("epoch %d sealed with %s, want epoch %d with %s", head2.Epoch, suiteOf(head2), head.Epoch, suite)
			}
			fetch(t, alice, carol, carol.persona, id, head2.Number, false)
			if got := carol.read(t, id, "last", "b.txt"); string(got) != "a block sealed after the setting changed" {
				t.Fatalf("carol read %q", got)
			}

			// Revoking carol rotates the key: the new epoch takes the
			// device's suite of now.
			if err := alice.svc.Unshare(ctx, id, carol.persona, w.encKey); err != nil {
				t.Fatal(err)
			}
			alice.put(t, id, "c.txt", []byte("after the rotation"))
			head3 := alice.publish(t, w, id, fmt.Sprint(alice.backup(t, id).Number))
			if head3.Epoch <= head2.Epoch || suiteOf(head3) != other {
				t.Fatalf("rotated epoch %d sealed with %s, want a new epoch with %s", head3.Epoch, suiteOf(head3), other)
			}
		})
	}
}

// TestGCDuringFetchKeepsReceivedBlocks: a GC run while a version is being
// fetched keeps the blocks already received (no version names them yet),
// and lets them go once the receiver is released without a version.
func TestGCDuringFetchKeepsReceivedBlocks(t *testing.T) {
	ctx := context.Background()
	s := newShared(t)
	r := receive(t, s.alice, s.bob, s.bob.persona, s.id, 0, false)
	if _, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, 4); !errors.Is(err, errInterrupted) {
		t.Fatalf("partial transfer: %v", err)
	}
	rep, err := s.bob.store.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Swept != 0 || rep.Marked != 4 {
		t.Fatalf("GC during the fetch swept %d blocks and marked %d, want 0 and the 4 received", rep.Swept, rep.Marked)
	}
	st, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, s.id, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.skipped != 4 {
		t.Fatalf("after GC the fetch skipped %d blocks, want the 4 received before", st.skipped)
	}
	if _, err := r.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	for p, want := range s.files {
		if got := s.bob.read(t, s.id, "last", p); !bytes.Equal(got, want) {
			t.Fatalf("%s differs after a GC mid-fetch", p)
		}
	}

	// A fetch given up: once released, what it received is garbage.
	alice2 := s.alice.create(t, false)
	if _, err := s.alice.svc.Share(ctx, alice2, s.bob.persona, false, s.w.encKey); err != nil {
		t.Fatal(err)
	}
	s.alice.put(t, alice2, "x.bin", randomBytes(99, 1<<20))
	s.alice.publish(t, s.w, alice2, fmt.Sprint(s.alice.backup(t, alice2).Number))
	r2 := receive(t, s.alice, s.bob, s.bob.persona, alice2, 0, false)
	if _, err := transfer(ctx, s.alice.svc, s.bob.persona, s.bob.peer, alice2, r2, 2); !errors.Is(err, errInterrupted) {
		t.Fatalf("partial transfer: %v", err)
	}
	r2.Release()
	if rep, err = s.bob.store.GC(ctx); err != nil || rep.Swept != 2 {
		t.Fatalf("GC after a released fetch swept %d blocks (%v), want the 2 it received", rep.Swept, err)
	}
}
