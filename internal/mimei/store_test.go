package mimei

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
)

type fixture struct {
	*Store
	kv     kv.Store
	blocks blockstore.Store
	author string
}

type fataler interface{ Fatal(...any) }

func newFixture(t fataler, blocks blockstore.Store) *fixture {
	return newFixtureKV(t, memkv.New(), blocks)
}

// newFixtureKV is newFixture over store.
func newFixtureKV(t fataler, store kv.Store, blocks blockstore.Store) *fixture {
	persona := ed25519.NewKeyFromSeed(make([]byte, 32))
	dev := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	cert, err := identity.IssueDeviceCertV1(persona, dev.Public().(ed25519.PublicKey), 7, time.Unix(1_800_000_000, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	sg := Signer{Device: dev, Cert: cert}
	if blocks == nil {
		blocks = memstore.New()
	}
	s, err := NewStore(Options{KV: store, Blocks: blocks, Signer: func(p string) (Signer, error) {
		if p != sg.Cert.Persona {
			return Signer{}, errors.New("unknown persona")
		}
		return sg, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Store: s, kv: store, blocks: blocks, author: sg.Cert.Persona}
}

func (f *fixture) create(t *testing.T, keep int) ID {
	t.Helper()
	m, err := f.Create(Spec{Author: f.author, AppType: "files", Mark: AutoMark}, Rights{}, keep)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (f *fixture) put(t *testing.T, id ID, p, content string) Entry {
	t.Helper()
	e, err := f.Put(context.Background(), id, p, strings.NewReader(content), PutOptions{Parents: true})
	if err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
	return e
}

func (f *fixture) read(t *testing.T, id ID, ref, p string) string {
	t.Helper()
	_, r, err := f.Open(context.Background(), id, ref, p)
	if err != nil {
		t.Fatalf("open %s@%s: %v", p, ref, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s@%s: %v", p, ref, err)
	}
	return string(b)
}

func names(es []Entry) []string {
	var out []string
	for _, e := range es {
		n := e.Name()
		if e.Dir {
			n += "/"
		}
		out = append(out, n)
	}
	return out
}

func TestFileSpace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)

	e := f.put(t, id, "docs/notes.txt", "hello")
	if e.Size != 5 || e.MIME != "text/plain; charset=utf-8" || e.Path != "docs/notes.txt" {
		t.Fatalf("put entry: %+v", e)
	}
	f.put(t, id, "/docs/img.png", "\x89PNG")
	f.put(t, id, "top", "x")
	if got := f.read(t, id, "", "docs/notes.txt"); got != "hello" {
		t.Fatal(got)
	}
	ls, err := f.List(ctx, id, "", "")
	if err != nil || !slices.Equal(names(ls), []string{"docs/", "top"}) {
		t.Fatalf("ls /: %v %v", names(ls), err)
	}
	ls, _ = f.List(ctx, id, "cur", "docs")
	if !slices.Equal(names(ls), []string{"img.png", "notes.txt"}) {
		t.Fatalf("ls docs: %v", names(ls))
	}
	// Overwrite keeps Created, changes size.
	time.Sleep(2 * time.Millisecond)
	e2 := f.put(t, id, "docs/notes.txt", "hello world")
	if e2.Size != 11 || !e2.Created.Equal(e.Created) {
		t.Fatalf("overwrite: %+v (first %+v)", e2, e)
	}

	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"put without parent", func() error {
			_, err := f.Put(ctx, id, "nope/x", strings.NewReader("x"), PutOptions{})
			return err
		}(), ErrNoFile},
		{"put over dir", func() error { _, err := f.Put(ctx, id, "docs", strings.NewReader("x"), PutOptions{}); return err }(), ErrIsDir},
		{"put under file", func() error {
			_, err := f.Put(ctx, id, "top/x", strings.NewReader("x"), PutOptions{Parents: true})
			return err
		}(), ErrNotDir},
		{"dotdot", func() error { _, err := f.Put(ctx, id, "a/../b", strings.NewReader("x"), PutOptions{}); return err }(), ErrBadPath},
		{"empty segment", func() error { _, err := f.Stat(ctx, id, "", "a//b"); return err }(), ErrBadPath},
		{"long path", func() error { _, err := f.Stat(ctx, id, "", strings.Repeat("a/", 3000)); return err }(), ErrBadPath},
		{"mkdir exists", func() error { _, err := f.Mkdir(id, "docs", false); return err }(), ErrExistsAt},
		{"rm non-empty", f.Remove(id, "docs", false), ErrNotEmpty},
		{"rm missing", f.Remove(id, "missing", false), ErrNoFile},
		{"mv into itself", func() error { _, err := f.Move(id, "docs", "docs/sub"); return err }(), ErrBadPath},
		{"mv onto existing", func() error { _, err := f.Move(id, "top", "docs"); return err }(), ErrExistsAt},
		{"open dir", func() error { _, _, err := f.Open(ctx, id, "", "docs"); return err }(), ErrIsDir},
		{"ls file", func() error { _, err := f.List(ctx, id, "", "top"); return err }(), ErrNotDir},
		{"no version", func() error { _, err := f.Stat(ctx, id, "last", "top"); return err }(), ErrNoVersion},
		{"bad ref", func() error { _, err := f.Stat(ctx, id, "newest", "top"); return err }(), ErrBadRef},
		{"unknown MiMei", func() error { _, err := f.Stat(ctx, ID{1}, "", "top"); return err }(), ErrNotFound},
	}
	for _, tc := range errCases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}

	if _, err := f.Mkdir(id, "a/b/c", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Mkdir(id, "a/b/c", true); err != nil {
		t.Fatal("mkdir -p on an existing dir:", err)
	}
	if _, err := f.Move(id, "docs", "a/b/c/docs"); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, id, "", "a/b/c/docs/img.png"); got != "\x89PNG" {
		t.Fatal(got)
	}
	if _, err := f.Stat(ctx, id, "", "docs/img.png"); !errors.Is(err, ErrNoFile) {
		t.Fatal("old path still there:", err)
	}
	if err := f.Remove(id, "a", true); err != nil {
		t.Fatal(err)
	}
	ls, _ = f.List(ctx, id, "", "")
	if !slices.Equal(names(ls), []string{"top"}) {
		t.Fatalf("after rm -r: %v", names(ls))
	}
}

func tarOf(t *testing.T, files map[string]string, dirs ...string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(1_700_000_000, 0)})
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		tw.WriteHeader(&tar.Header{Name: k, Typeflag: tar.TypeReg, Size: int64(len(files[k])), Mode: 0o644, ModTime: time.Unix(1_700_000_000, 0)})
		tw.Write([]byte(files[k]))
	}
	tw.Close()
	return &buf
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	big := strings.Repeat("0123456789abcdef", 40_000) // 640 KB: several chunks
	files := map[string]string{"a.txt": "A", "sub/b.txt": "B", "sub/deep/c.bin": big, "empty": ""}
	var last int64
	res, err := f.Import(ctx, id, "in", tarOf(t, files, "sub", "emptydir"), func(n int64) { last = n })
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 4 || res.Dirs != 2 || res.Bytes != int64(2+len(big)) || last != res.Bytes {
		t.Fatalf("result %+v, progress %d", res, last)
	}
	for p, want := range files {
		if got := f.read(t, id, "", "in/"+p); got != want {
			t.Fatalf("%s: %d bytes, want %d", p, len(got), len(want))
		}
	}
	st, err := f.Stat(ctx, id, "", "in/a.txt")
	if err != nil || !st.ModTime.Equal(time.Unix(1_700_000_000, 0)) {
		t.Fatalf("mtime: %+v %v", st, err)
	}
	if e, err := f.Stat(ctx, id, "", "in/emptydir"); err != nil || !e.Dir {
		t.Fatalf("empty dir: %+v %v", e, err)
	}
	// A small file's root is the one that filetree.Write would give.
	put := f.put(t, id, "check", "A")
	if put.Root != st.Root {
		t.Fatalf("fast path root %s, filetree root %s", st.Root, put.Root)
	}
	// Bad archives.
	for name, tarball := range map[string]*bytes.Buffer{
		"dotdot": tarOf(t, map[string]string{"../escape": "x"}),
		"symlink": func() *bytes.Buffer {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
			tw.Close()
			return &b
		}(),
		"garbage": bytes.NewBufferString(strings.Repeat("not a tar ", 100)),
	} {
		if _, err := f.Import(ctx, id, "", tarball, nil); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
}

func TestVersions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, id, "a", "one")
	db.ExecStrings("SET", "k", "1")
	db.ExecStrings("RPUSH", "l", "x", "y")
	v0, err := f.Backup(ctx, id, "first")
	if err != nil {
		t.Fatal(err)
	}
	if v0.Number != 0 || v0.Parent.Defined() || !v0.Files.Defined() || !v0.DB.Defined() || v0.Memo != "first" {
		t.Fatalf("v0: %+v", v0.Version)
	}
	f.put(t, id, "a", "two")
	f.put(t, id, "dir/b", "bee")
	db.ExecStrings("SET", "k", "2")
	db.ExecStrings("SADD", "s", "m")
	db.ExecStrings("DEL", "l")
	v1, err := f.Backup(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if v1.Number != 1 || v1.Parent != v0.CID {
		t.Fatalf("v1: %+v", v1.Version)
	}
	// Read old versions by number and pointer.
	for ref, want := range map[string]string{"0": "one", "1": "two", "last": "two", "cur": "two"} {
		if got := f.read(t, id, ref, "a"); got != want {
			t.Errorf("a@%s = %q, want %q", ref, got, want)
		}
	}
	view, err := f.VersionDB(ctx, id, "0")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := view.ExecStrings("GET", "k"); r.String() != `"1"` {
		t.Fatalf("k@0 = %s", r)
	}
	if _, err := view.ExecStrings("SET", "k", "3"); err == nil {
		t.Fatal("frozen database accepted a write")
	}
	// Diff.
	d, err := f.Diff(ctx, id, "0", "1")
	if err != nil {
		t.Fatal(err)
	}
	var fl, kl []string
	for _, c := range d.Files {
		fl = append(fl, string(c.Op)+" "+c.Path)
	}
	for _, c := range d.Keys {
		kl = append(kl, string(c.Op)+" "+string(c.Key))
	}
	if !slices.Equal(fl, []string{"changed a", "added dir", "added dir/b"}) || !slices.Equal(kl, []string{"changed k", "removed l", "added s"}) {
		t.Fatalf("diff 0→1: files %q keys %q", fl, kl)
	}
	f.put(t, id, "c", "sea")
	d, err = f.Diff(ctx, id, "last", "cur")
	if err != nil || len(d.Files) != 1 || d.Files[0].Path != "c" || len(d.Keys) != 0 {
		t.Fatalf("diff last→cur: %+v %v", d, err)
	}
	// Release, protection, delete.
	if _, err := f.Release(ctx, id, "0"); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteVersion(ctx, id, "release", false); !errors.Is(err, ErrProtected) {
		t.Fatal("deleting the release without force:", err)
	}
	// Restore version 0 into cur.
	if _, err := f.Restore(ctx, id, "release"); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, id, "", "a"); got != "one" {
		t.Fatal("restored a =", got)
	}
	if _, err := f.Stat(ctx, id, "", "dir/b"); !errors.Is(err, ErrNoFile) {
		t.Fatal("restore kept a later file:", err)
	}
	if r, _ := db.ExecStrings("LRANGE", "l", "0", "-1"); r.String() != "1) \"x\"\n2) \"y\"" {
		t.Fatalf("restored list: %s", r)
	}
	if r, _ := db.ExecStrings("EXISTS", "s"); r.Int != 0 {
		t.Fatal("restore kept a later key")
	}
	d, _ = f.Diff(ctx, id, "0", "cur")
	if len(d.Files)+len(d.Keys) != 0 {
		t.Fatalf("cur differs from the restored version: %+v", d)
	}
	// Delete the last version: last moves back.
	if err := f.DeleteVersion(ctx, id, "1", false); err != nil {
		t.Fatal(err)
	}
	vs, err := f.Versions(ctx, id)
	if err != nil || len(vs) != 1 || !vs[0].Last || !vs[0].Release {
		t.Fatalf("versions after delete: %+v %v", vs, err)
	}
	if err := f.DeleteVersion(ctx, id, "0", true); err != nil {
		t.Fatal("force delete of the release:", err)
	}
	if p, _ := f.Pointer(id, PointerRelease); p != nil {
		t.Fatal("release pointer survived its version")
	}
	// Numbers keep rising and the chain keeps its head.
	v2, err := f.Backup(ctx, id, "after")
	if err != nil || v2.Number != 2 || v2.Parent != v1.CID {
		t.Fatalf("v2: %+v %v", v2, err)
	}
}

func TestRetentionPinsRefs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 2)
	other := f.create(t, 0)
	for i := range 3 {
		f.put(t, id, "f", strings.Repeat("x", i+1))
		if _, err := f.Backup(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	nums := func() []uint64 {
		vs, err := f.Versions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, v := range vs {
			out = append(out, v.Number)
		}
		return out
	}
	if got := nums(); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("keep 2: %v", got)
	}
	if _, err := f.Pin(ctx, id, "1"); err != nil {
		t.Fatal(err)
	}
	one := uint64(2)
	if _, err := f.AddRef(ctx, other, id, &one); err != nil {
		t.Fatal(err)
	}
	if r, err := f.AddRef(ctx, other, id, &one); err != nil || r.Count != 2 {
		t.Fatalf("second ref: %+v %v", r, err)
	}
	for range 2 {
		f.put(t, id, "f", "more")
		if _, err := f.Backup(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := nums(); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("pinned 1 and referenced 2 kept: %v", got)
	}
	if err := f.DeleteVersion(ctx, id, "2", false); !errors.Is(err, ErrReferenced) {
		t.Fatal("deleting a referenced version:", err)
	}
	if err := f.Delete(id, false); !errors.Is(err, ErrReferenced) {
		t.Fatal("deleting a referenced MiMei:", err)
	}
	f.DropRef(ctx, other, id, &one)
	if _, err := f.DropRef(ctx, other, id, &one); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DropRef(ctx, other, id, &one); !errors.Is(err, ErrNoRef) {
		t.Fatal("dropping a missing ref:", err)
	}
	if _, err := f.Unpin(ctx, id, "1"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetKeep(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if got := nums(); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("after unpin and unref: %v", got)
	}
	if err := f.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Versions(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatal("deleted MiMei still listed:", err)
	}
}

func TestFork(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	f.put(t, id, "x/y", "why")
	db, _ := f.DB(id)
	db.ExecStrings("HSET", "h", "f", "v")
	v0, _ := f.Backup(ctx, id, "")
	f.put(t, id, "x/y", "changed later")
	m, err := f.Fork(ctx, id, "", Spec{Author: f.author, AppType: "files", Mark: "forked"}, Rights{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.reg.Get(m.ID)
	if got.Origin == nil || got.Origin.MiMei != id || got.Origin.Version != 0 || got.Origin.Record != v0.CID {
		t.Fatalf("origin: %+v", got.Origin)
	}
	if s := f.read(t, m.ID, "last", "x/y"); s != "why" {
		t.Fatal("fork content:", s)
	}
	fdb, _ := f.DB(m.ID)
	if r, _ := fdb.ExecStrings("HGET", "h", "f"); r.String() != `"v"` {
		t.Fatal("fork db:", r)
	}
	// Fork of cur records no version.
	m2, err := f.Fork(ctx, id, "cur", Spec{Author: f.author, AppType: "files", Mark: AutoMark}, Rights{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = f.reg.Get(m2.ID)
	if got.Origin == nil || got.Origin.Record.Defined() || f.read(t, m2.ID, "", "x/y") != "changed later" {
		t.Fatalf("fork of cur: %+v", got.Origin)
	}
}

func diskUse(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestGCReturnsSpace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ps, err := packstore.Open(dir, memkv.New(), packstore.Options{MaxPackSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	f := newFixture(t, ps)
	rng := rand.New(rand.NewPCG(1, 2))
	keep := f.create(t, 0)
	f.Put(ctx, keep, "kept.bin", bytes.NewReader(randBytes(rng, 2<<20)), PutOptions{})
	f.Backup(ctx, keep, "")
	if _, err := f.GC(ctx); err != nil {
		t.Fatal(err)
	}
	before := diskUse(t, dir)

	id := f.create(t, 0)
	data := randBytes(rng, 16<<20)
	f.Put(ctx, id, "big.bin", bytes.NewReader(data), PutOptions{})
	f.Backup(ctx, id, "")
	data[8<<20] ^= 1 // a second version sharing most blocks
	f.Put(ctx, id, "big.bin", bytes.NewReader(data), PutOptions{})
	f.Backup(ctx, id, "")
	if err := f.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	rep, err := f.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := diskUse(t, dir)
	t.Logf("disk before %d, after delete+gc %d (%+.1f%%), swept %d blocks", before, after, 100*float64(after-before)/float64(before), rep.Swept)
	if float64(after) > 1.10*float64(before) {
		t.Fatalf("disk use %d after GC, was %d before: more than 10%% above", after, before)
	}
	if got := f.read(t, keep, "last", "kept.bin"); len(got) != 2<<20 {
		t.Fatal("kept MiMei lost data")
	}
	vr, err := f.Verify(ctx)
	if err != nil || !vr.OK() {
		t.Fatalf("verify after GC: %+v %v", vr, err)
	}
}

func TestCorruptBlockNamed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ps, err := packstore.Open(dir, memkv.New(), packstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	f := newFixture(t, ps)
	id := f.create(t, 0)
	data := randBytes(rand.New(rand.NewPCG(3, 4)), 3000)
	e := f.put(t, id, "f.bin", string(data))
	// Flip a byte of the block inside its pack file.
	var packs []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			packs = append(packs, p)
		}
		return nil
	})
	flipped := false
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		if i := bytes.Index(b, data[1000:1064]); i >= 0 {
			b[i+10] ^= 0x40
			os.WriteFile(p, b, 0o644)
			flipped = true
		}
	}
	if !flipped {
		t.Fatal("block not found in the packs")
	}
	_, r, err := f.Open(ctx, id, "", "f.bin")
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, cid.ErrIntegrity) || !strings.Contains(err.Error(), e.Root.String()) {
		t.Fatalf("read of a corrupt block: %v (want integrity error naming %s)", err, e.Root)
	}
	vr, err := f.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if vr.OK() || len(vr.Problems) != 1 || vr.Problems[0].CID != e.Root {
		t.Fatalf("verify: %+v", vr)
	}
	if _, err := f.GC(ctx); err == nil {
		// The corrupt block is a leaf; GC may proceed (it does not read
		// leaves) but must not delete it.
		if ok, _ := ps.Has(ctx, e.Root); !ok {
			t.Fatal("GC removed a needed (corrupt) block")
		}
	}
}

func TestTreeMatchesDirtree(t *testing.T) {
	// Frozen entries carry what cur had, through dirtree.
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	f.put(t, id, "a/b/c.txt", "c")
	v, err := f.Backup(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	de, err := dirtree.Lookup(ctx, f.blocks, v.Files, "a/b/c.txt")
	cur, _ := f.Stat(ctx, id, "", "a/b/c.txt")
	if err != nil || de.Root != cur.Root || de.MIME != cur.MIME || !de.ModTime.Equal(cur.ModTime) {
		t.Fatalf("frozen %+v vs cur %+v (%v)", de, cur, err)
	}
	st, _ := f.Stat(ctx, id, "last", "a")
	if !st.Dir || st.Size != 1 {
		t.Fatalf("frozen dir: %+v", st)
	}
}
