package mimei

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// repDevice is one device of a persona with its own store.
type repDevice struct {
	*Store
	persona string
	sg      Signer
}

func repKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

// newRepDevice makes a store for device devSeed of persona (certificate
// serial devSeed). markExtra is passed to Options.MarkExtra.
func newRepDevice(t *testing.T, persona ed25519.PrivateKey, devSeed byte, markExtra func(context.Context, func(cid.CID) error) error) *repDevice {
	t.Helper()
	dev := repKey(devSeed)
	cert, err := identity.IssueDeviceCertV1(persona, dev.Public().(ed25519.PublicKey), uint64(devSeed), time.Unix(1_700_000_000, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	sg := Signer{Device: dev, Cert: cert}
	s, err := NewStore(Options{KV: memkv.New(), Blocks: memstore.New(), MarkExtra: markExtra,
		Signer: func(p string) (Signer, error) {
			if p != sg.Cert.Persona {
				return Signer{}, fmt.Errorf("no key for %s", p)
			}
			return sg, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return &repDevice{Store: s, persona: sg.Cert.Persona, sg: sg}
}

func (d *repDevice) put(t *testing.T, id ID, p string, content []byte) {
	t.Helper()
	if _, err := d.Put(context.Background(), id, p, bytes.NewReader(content), PutOptions{Parents: true}); err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
}

func (d *repDevice) backup(t *testing.T, id ID, memo string) VersionInfo {
	t.Helper()
	vi, err := d.Backup(context.Background(), id, memo)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return vi
}

func (d *repDevice) readFile(t *testing.T, id ID, ref, p string) []byte {
	t.Helper()
	_, r, err := d.Open(context.Background(), id, ref, p)
	if err != nil {
		t.Fatalf("open %s@%s: %v", p, ref, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatalf("read %s@%s: %v", p, ref, err)
	}
	return buf.Bytes()
}

// copyBlocks copies every block of version ref of id from one store to
// another, except those skip says no to, and returns the Import for it
// (with from's current pointers).
func copyBlocks(t *testing.T, from, to *Store, id ID, ref string, skip func(cid.CID) bool) Import {
	t.Helper()
	ctx := context.Background()
	_, rc, err := from.VersionBlocks(ctx, id, ref, func(c cid.CID) error {
		if skip != nil && skip(c) {
			return nil
		}
		data, err := from.Blocks().Get(ctx, c)
		if err != nil {
			return err
		}
		return to.Blocks().Put(ctx, c, data)
	})
	if err != nil {
		t.Fatalf("copy version %s: %v", ref, err)
	}
	m, err := from.Registry().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	in := Import{Spec: m.Spec, Rights: m.Rights, Record: rc}
	for _, p := range []struct {
		name string
		dst  *[]byte
	}{{PointerLast, &in.Last}, {PointerRelease, &in.Release}} {
		ptr, err := from.Pointer(id, p.name)
		if err != nil {
			t.Fatal(err)
		}
		if ptr != nil {
			if *p.dst, err = ptr.Marshal(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return in
}

func versionNumbers(t *testing.T, s *Store, id ID) []uint64 {
	t.Helper()
	vs, err := s.Versions(context.Background(), id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("versions: %v", err)
	}
	var out []uint64
	for _, v := range vs {
		out = append(out, v.Number)
	}
	return out
}

// threeVersions makes a MiMei on a with versions 0, 1, 2 and returns the
// contents of "data/f.bin" at each.
func threeVersions(t *testing.T, a *repDevice) (ID, [][]byte) {
	t.Helper()
	m, err := a.Create(Spec{Author: a.persona, AppType: "files", Mark: AutoMark}, Rights{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var contents [][]byte
	for i := range 3 {
		data := make([]byte, 200<<10)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		a.put(t, m.ID, "data/f.bin", data)
		a.put(t, m.ID, "notes.txt", []byte(fmt.Sprintf("version %d", i)))
		a.backup(t, m.ID, fmt.Sprint("v", i))
		contents = append(contents, data)
	}
	return m.ID, contents
}

func TestImportVersionReplica(t *testing.T) {
	ctx := context.Background()
	alice := repKey(10)
	a := newRepDevice(t, alice, 11, nil)
	b := newRepDevice(t, repKey(20), 21, nil)
	id, contents := threeVersions(t, a)

	for n := range 3 {
		in := copyBlocks(t, a.Store, b.Store, id, fmt.Sprint(n), nil)
		vi, err := b.ImportVersion(ctx, in)
		if err != nil {
			t.Fatalf("import version %d: %v", n, err)
		}
		if vi.Number != uint64(n) || vi.CID != in.Record {
			t.Fatalf("import version %d: got number %d record %s, want %s", n, vi.Number, vi.CID, in.Record)
		}
	}
	if got := versionNumbers(t, b.Store, id); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("versions on the replica: %v", got)
	}
	for n, want := range contents {
		if got := b.readFile(t, id, fmt.Sprint(n), "data/f.bin"); !bytes.Equal(got, want) {
			t.Fatalf("version %d: file differs from the original (%d vs %d bytes)", n, len(got), len(want))
		}
		if got := string(b.readFile(t, id, fmt.Sprint(n), "notes.txt")); got != fmt.Sprintf("version %d", n) {
			t.Fatalf("version %d notes: %q", n, got)
		}
	}
	// "last" resolves through the owner's signed pointer.
	_, lastA, err := a.Version(ctx, id, RefLast)
	if err != nil {
		t.Fatal(err)
	}
	v, lastB, err := b.Version(ctx, id, RefLast)
	if err != nil || v.Number != 2 || lastB != lastA {
		t.Fatalf("last on the replica: %v %s %v (want 2 %s)", v, lastB, err, lastA)
	}
	if got := b.readFile(t, id, RefLast, "data/f.bin"); !bytes.Equal(got, contents[2]) {
		t.Fatal("last on the replica does not read version 2")
	}
	if ptr, err := b.Pointer(id, PointerLast); err != nil || ptr == nil || ptr.Author != a.persona {
		t.Fatalf("imported pointer: %+v %v", ptr, err)
	}

	// Importing again changes nothing.
	before, err := b.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		in := copyBlocks(t, a.Store, b.Store, id, fmt.Sprint(n), nil)
		if _, err := b.ImportVersion(ctx, in); err != nil {
			t.Fatalf("import version %d again: %v", n, err)
		}
	}
	after, err := b.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("import twice: %d versions, was %d", len(after), len(before))
	}
	for i := range after {
		if after[i].CID != before[i].CID || after[i].Last != before[i].Last {
			t.Fatalf("import twice changed version %d: %+v vs %+v", i, after[i], before[i])
		}
	}
	if br, err := b.Branches(ctx, id); err != nil || len(br) != 0 {
		t.Fatalf("import twice made branches: %v %v", br, err)
	}
	// The replica's blocks survive its GC; its Verify is clean.
	if _, err := b.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.readFile(t, id, "0", "data/f.bin"); !bytes.Equal(got, contents[0]) {
		t.Fatal("version 0 lost by GC on the replica")
	}
	if vr, err := b.Verify(ctx); err != nil || !vr.OK() {
		t.Fatalf("verify replica: %+v %v", vr, err)
	}
}

func TestImportVersionMissingBlock(t *testing.T) {
	ctx := context.Background()
	a := newRepDevice(t, repKey(10), 11, nil)
	id, _ := threeVersions(t, a)
	_, record, err := a.Version(ctx, id, "0")
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := a.Version(ctx, id, "0")
	var chunk cid.CID // a raw block of the file
	a.VersionBlocks(ctx, id, "0", func(c cid.CID) error {
		if c.Type() == cid.Raw && !chunk.Defined() {
			chunk = c
		}
		return nil
	})
	if !chunk.Defined() {
		t.Fatal("version 0 has no raw block")
	}
	cases := []struct {
		name    string
		missing cid.CID
	}{
		{"record", record},
		{"directory tree root", v.Files},
		{"file chunk", chunk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newRepDevice(t, repKey(20), 21, nil)
			in := copyBlocks(t, a.Store, b.Store, id, "0", func(c cid.CID) bool { return c == tc.missing })
			if _, err := b.ImportVersion(ctx, in); err == nil {
				t.Fatal("import with a missing block succeeded")
			}
			if got := versionNumbers(t, b.Store, id); len(got) != 0 {
				t.Fatalf("versions listed after a failed import: %v", got)
			}
			if _, err := b.Registry().Get(id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("MiMei registered after a failed import: %v", err)
			}
			// Once the block arrives the same import succeeds.
			copyBlocks(t, a.Store, b.Store, id, "0", nil)
			if _, err := b.ImportVersion(ctx, in); err != nil {
				t.Fatalf("import after the block arrived: %v", err)
			}
			if got := versionNumbers(t, b.Store, id); !slices.Equal(got, []uint64{0}) {
				t.Fatalf("versions: %v", got)
			}
		})
	}
}

// forgedVersion has signer sign a version of id reusing the file tree of
// version 0 on a, stores it in to's block store and returns its CID.
func forgedVersion(t *testing.T, a *repDevice, to *Store, id ID, sg Signer, mutate func(enc []byte) []byte) cid.CID {
	t.Helper()
	ctx := context.Background()
	v0, _, err := a.Version(ctx, id, "0")
	if err != nil {
		t.Fatal(err)
	}
	v := &Version{MiMei: id, Number: 0, Time: time.Unix(1_750_000_000, 0), Memo: "forged", Files: v0.Files, DB: v0.DB}
	if err := v.Sign(sg); err != nil {
		t.Fatal(err)
	}
	enc, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		enc = mutate(enc)
	}
	c := cid.Sum(cid.DagCBOR, enc)
	if err := to.Blocks().Put(ctx, c, enc); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestImportVersionRejects(t *testing.T) {
	ctx := context.Background()
	a := newRepDevice(t, repKey(10), 11, nil)
	mallory := newRepDevice(t, repKey(30), 31, nil)
	id, _ := threeVersions(t, a)

	flip := func(what string) func([]byte) []byte {
		return func(enc []byte) []byte {
			i := bytes.Index(enc, []byte(what))
			if i < 0 {
				t.Fatalf("%q not in the record", what)
			}
			out := bytes.Clone(enc)
			out[i] ^= 0x20 // same length, other letter case
			return out
		}
	}
	cases := []struct {
		name    string
		writers []string
		record  func(b *Store) cid.CID
		want    error // nil: accepted
	}{
		{"signed by a stranger", nil, func(b *Store) cid.CID {
			return forgedVersion(t, a, b, id, mallory.sg, nil)
		}, ErrBadRights},
		{"signed by a writer", []string{mallory.persona}, func(b *Store) cid.CID {
			return forgedVersion(t, a, b, id, mallory.sg, nil)
		}, nil},
		{"owner's record with its memo changed", nil, func(b *Store) cid.CID {
			return forgedVersion(t, a, b, id, a.sg, flip("forged"))
		}, ErrBadSignature},
		{"owner's record under a CID that does not match", nil, func(b *Store) cid.CID {
			good := forgedVersion(t, a, b, id, a.sg, nil)
			data, _ := b.Blocks().Get(ctx, good)
			bad := cid.Sum(cid.DagCBOR, append(data, 0))
			// A store trusts the CID it is given on Put; make one lie.
			if err := b.Blocks().Put(ctx, bad, data); err != nil {
				t.Fatal(err)
			}
			return bad
		}, errAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newRepDevice(t, repKey(20), 21, nil)
			copyBlocks(t, a.Store, b.Store, id, "0", nil)
			m, _ := a.Registry().Get(id)
			rights := m.Rights
			rights.Writers = tc.writers
			rc := tc.record(b.Store)
			_, err := b.ImportVersion(ctx, Import{Spec: m.Spec, Rights: rights, Record: rc})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("import: %v", err)
			case tc.want == nil:
				if got := versionNumbers(t, b.Store, id); !slices.Equal(got, []uint64{0}) {
					t.Fatalf("versions: %v", got)
				}
				return
			case err == nil:
				t.Fatalf("import accepted, want %v", tc.want)
			case tc.want != errAny && !errors.Is(err, tc.want):
				t.Fatalf("import: %v, want %v", err, tc.want)
			}
			if got := versionNumbers(t, b.Store, id); len(got) != 0 {
				t.Fatalf("versions listed after a refused import: %v", got)
			}
		})
	}
}

// errAny marks a case where any error will do.
var errAny = errors.New("any error")

func TestImportVersionConflictKeepsBoth(t *testing.T) {
	ctx := context.Background()
	persona := repKey(40)
	spec := Spec{Author: identity.DID(persona.Public().(ed25519.PublicKey)), AppType: "notes", Mark: "shared"}
	laptop := newRepDevice(t, persona, 41, nil)
	phone := newRepDevice(t, persona, 42, nil)
	m, err := laptop.Create(spec, Rights{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := m.ID
	if _, err := phone.Create(spec, Rights{}, 0); err != nil {
		t.Fatal(err)
	}
	laptopData := []byte(strings.Repeat("written on the laptop ", 4000))
	phoneData := []byte(strings.Repeat("written on the phone ", 4000))
	laptop.put(t, id, "todo.txt", laptopData)
	laptop.backup(t, id, "laptop 0")
	phone.put(t, id, "todo.txt", phoneData)
	phone.backup(t, id, "phone 0")
	phone.put(t, id, "todo.txt", append(phoneData, "more"...))
	phone.backup(t, id, "phone 1")

	cases := []struct {
		name     string
		ref      string // phone version imported into the laptop
		number   uint64
		wantLine []uint64 // laptop's main line afterwards
	}{
		{"same number, other contents", "0", 0, []uint64{0}},
		{"parent is not the version held", "1", 1, []uint64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := copyBlocks(t, phone.Store, laptop.Store, id, tc.ref, nil)
			in.Last = nil
			_, err := laptop.ImportVersion(ctx, in)
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("import of the phone's version %s: %v, want ErrConflict", tc.ref, err)
			}
			if got := versionNumbers(t, laptop.Store, id); !slices.Equal(got, tc.wantLine) {
				t.Fatalf("laptop versions: %v, want %v", got, tc.wantLine)
			}
			br, err := laptop.Branches(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(br, func(b Branch) bool { return b.Record == in.Record })
			if i < 0 || br[i].Number != tc.number || br[i].Author != spec.Author {
				t.Fatalf("branches %+v lack record %s (version %d)", br, in.Record, tc.number)
			}
			// Importing it again reports the same conflict, no new branch.
			if _, err := laptop.ImportVersion(ctx, in); !errors.Is(err, ErrConflict) {
				t.Fatalf("second import: %v", err)
			}
			if br2, _ := laptop.Branches(ctx, id); len(br2) != len(br) {
				t.Fatalf("second import: %d branches, was %d", len(br2), len(br))
			}
		})
	}
	// Both lines survive GC: the laptop's own version and every block of
	// the phone's branches.
	if _, err := laptop.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got := laptop.readFile(t, id, "0", "todo.txt"); !bytes.Equal(got, laptopData) {
		t.Fatal("laptop's own version 0 changed")
	}
	for _, ref := range []string{"0", "1"} {
		_, _, err := phone.VersionBlocks(ctx, id, ref, func(c cid.CID) error {
			ok, err := laptop.Blocks().Has(ctx, c)
			if err == nil && !ok {
				err = fmt.Errorf("block %s of the phone's version %s was collected", c, ref)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if vr, err := laptop.Verify(ctx); err != nil || !vr.OK() {
		t.Fatalf("verify: %+v %v", vr, err)
	}
	// The other way round: the laptop's version 0 into the phone.
	in := copyBlocks(t, laptop.Store, phone.Store, id, "0", nil)
	if _, err := phone.ImportVersion(ctx, in); !errors.Is(err, ErrConflict) {
		t.Fatalf("laptop's version into the phone: %v", err)
	}
	if got := phone.readFile(t, id, "1", "todo.txt"); !bytes.Equal(got, append(phoneData, "more"...)) {
		t.Fatal("phone's own line changed")
	}
}

func TestGCKeepsMarkExtra(t *testing.T) {
	ctx := context.Background()
	kept := []byte("a manifest another service keeps")
	keptCID := cid.Sum(cid.DagCBOR, kept)
	d := newRepDevice(t, repKey(50), 51, func(ctx context.Context, fn func(cid.CID) error) error {
		return fn(keptCID)
	})
	orphan := []byte("nobody needs this")
	orphanCID := cid.Sum(cid.Raw, orphan)
	for c, data := range map[cid.CID][]byte{keptCID: kept, orphanCID: orphan} {
		if err := d.Blocks().Put(ctx, c, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.GC(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		c    cid.CID
		want bool
	}{
		{"named by MarkExtra", keptCID, true},
		{"named by nobody", orphanCID, false},
	}
	for _, tc := range cases {
		if ok, err := d.Blocks().Has(ctx, tc.c); err != nil || ok != tc.want {
			t.Errorf("%s: Has after GC = %v %v, want %v", tc.name, ok, err, tc.want)
		}
	}
	// MarkExtra's error stops GC before anything is deleted.
	boom := errors.New("boom")
	f := newRepDevice(t, repKey(50), 52, func(context.Context, func(cid.CID) error) error { return boom })
	if err := f.Blocks().Put(ctx, orphanCID, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GC(ctx); !errors.Is(err, boom) {
		t.Fatalf("GC with a failing MarkExtra: %v", err)
	}
	if ok, _ := f.Blocks().Has(ctx, orphanCID); !ok {
		t.Fatal("GC deleted blocks although MarkExtra failed")
	}
}
