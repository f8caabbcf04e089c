package mimei

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"

	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/identity"
)

// carry brings version ref of id from one device to another, as the
// sharing layer does: its blocks, then ImportVersion.
func carry(t *testing.T, from, to *repDevice, id ID, ref string) (VersionInfo, error) {
	t.Helper()
	in := copyBlocks(t, from.Store, to.Store, id, ref, nil)
	return to.ImportVersion(context.Background(), in)
}

// curFiles lists the files of cur of id, sorted.
func curFiles(t *testing.T, d *repDevice, id ID) []string {
	t.Helper()
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		es, err := d.List(context.Background(), id, RefCur, dir)
		if err != nil {
			t.Fatalf("list cur %q: %v", dir, err)
		}
		for _, e := range es {
			if e.Dir {
				walk(e.Path)
			} else {
				out = append(out, e.Path)
			}
		}
	}
	walk("")
	slices.Sort(out)
	return out
}

func (d *repDevice) exec(t *testing.T, id ID, args ...string) string {
	t.Helper()
	db, err := d.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.ExecStrings(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return r.String()
}

// twoDevices makes a box and a laptop of one persona holding the same
// MiMei: the box made version 0 (a.txt and a database key) and the laptop
// received it.
func twoDevices(t *testing.T) (box, laptop *repDevice, id ID) {
	t.Helper()
	persona := repKey(60)
	box = newRepDevice(t, persona, 61, nil)
	laptop = newRepDevice(t, persona, 62, nil)
	m, err := box.Create(Spec{Author: box.persona, AppType: "files", Mark: "home"}, Rights{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	box.put(t, m.ID, "a.txt", []byte("from the box"))
	box.exec(t, m.ID, "SET", "k", "box")
	box.backup(t, m.ID, "v0")
	vi, err := carry(t, box, laptop, m.ID, "0")
	if err != nil {
		t.Fatalf("version 0 to the laptop: %v", err)
	}
	// A device that had nothing of the MiMei takes its version as cur.
	if !vi.MovedCur {
		t.Fatal("the laptop's cur did not move to version 0")
	}
	if got := curFiles(t, laptop, m.ID); !slices.Equal(got, []string{"a.txt"}) {
		t.Fatalf("laptop cur: %v", got)
	}
	if got := laptop.exec(t, m.ID, "GET", "k"); got != `"box"` {
		t.Fatalf("laptop cur database: GET k = %s", got)
	}
	return box, laptop, m.ID
}

// The case: the laptop adds laptop.txt and backs up version 1; on
// the box, whose cur has not changed since version 0, cur moves to
// version 1, so the box's next backup keeps laptop.txt.
func TestImportFastForwardsCur(t *testing.T) {
	ctx := context.Background()
	box, laptop, id := twoDevices(t)
	if _, err := laptop.Restore(ctx, id, RefLast); err != nil {
		t.Fatal(err)
	}
	laptop.put(t, id, "laptop.txt", []byte("from the laptop"))
	laptop.exec(t, id, "HSET", "h", "f", "laptop")
	v1 := laptop.backup(t, id, "v1")

	vi, err := carry(t, laptop, box, id, "1")
	if err != nil {
		t.Fatalf("version 1 to the box: %v", err)
	}
	if !vi.MovedCur {
		t.Fatal("the box's cur did not move to version 1")
	}
	if got := curFiles(t, box, id); !slices.Equal(got, []string{"a.txt", "laptop.txt"}) {
		t.Fatalf("box cur after version 1 arrived: %v", got)
	}
	if got := box.exec(t, id, "HGET", "h", "f"); got != `"laptop"` {
		t.Fatalf("box cur database: HGET h f = %s", got)
	}
	box.put(t, id, "box.txt", []byte("later, on the box"))
	v2 := box.backup(t, id, "v2")
	if v2.Parent != v1.CID {
		t.Fatalf("box's version 2 follows %s, want version 1 %s", v2.Parent, v1.CID)
	}
	d, err := box.Diff(ctx, id, "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 1 || d.Files[0].Path != "box.txt" || d.Files[0].Op != dirtree.Added || len(d.Keys) != 0 {
		t.Fatalf("diff 1 2 = %+v, want only + box.txt", d)
	}
	if br, err := box.Branches(ctx, id); err != nil || len(br) != 0 {
		t.Fatalf("box branches: %+v %v", br, err)
	}
	if in, err := box.Info(id); err != nil || in.Base == nil || *in.Base != 2 || in.Diverged != 0 {
		t.Fatalf("box info: base %v diverged %d, %v", in.Base, in.Diverged, err)
	}
	// And back: the laptop, unchanged since version 1, follows version 2.
	if vi, err := carry(t, box, laptop, id, "2"); err != nil || !vi.MovedCur {
		t.Fatalf("version 2 to the laptop: moved %v, %v", vi.MovedCur, err)
	}
	if got := curFiles(t, laptop, id); !slices.Equal(got, []string{"a.txt", "box.txt", "laptop.txt"}) {
		t.Fatalf("laptop cur after version 2: %v", got)
	}
	// An older version arriving later (filling history) leaves cur alone.
	phone := newRepDevice(t, repKey(60), 63, nil)
	for _, ref := range []string{"2", "1"} {
		if _, err := carry(t, box, phone, id, ref); err != nil {
			t.Fatalf("version %s to the phone: %v", ref, err)
		}
	}
	if got := curFiles(t, phone, id); !slices.Equal(got, []string{"a.txt", "box.txt", "laptop.txt"}) {
		t.Fatalf("phone cur after versions 2 then 1: %v", got)
	}
}

// Both changed: the laptop backs up version 1 while the box has changes of
// its own in cur. The box keeps its cur and version 1, and says so; its
// next backup is a sibling of version 1 (both follow version 0), which the
// laptop keeps as a branch without touching its cur.
func TestImportDivergedKeepsBoth(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, d *repDevice, id ID)
		files  []string // box cur after the change
	}{
		{"a file added", func(t *testing.T, d *repDevice, id ID) { d.put(t, id, "box.txt", []byte("box")) }, []string{"a.txt", "box.txt"}},
		{"a file removed", func(t *testing.T, d *repDevice, id ID) {
			if err := d.Remove(id, "a.txt", false); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"a database key set", func(t *testing.T, d *repDevice, id ID) { d.exec(t, id, "SET", "local", "1") }, []string{"a.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			box, laptop, id := twoDevices(t)
			_, v0c, err := box.Version(ctx, id, "0")
			if err != nil {
				t.Fatal(err)
			}
			laptop.put(t, id, "laptop.txt", []byte("from the laptop"))
			laptop.backup(t, id, "v1")
			tc.change(t, box, id)

			vi, err := carry(t, laptop, box, id, "1")
			if !errors.Is(err, ErrDiverged) || vi.MovedCur {
				t.Fatalf("version 1 to the changed box: moved %v, %v; want ErrDiverged", vi.MovedCur, err)
			}
			if got := curFiles(t, box, id); !slices.Equal(got, tc.files) {
				t.Fatalf("box cur: %v, want its own %v", got, tc.files)
			}
			if got := versionNumbers(t, box.Store, id); !slices.Equal(got, []uint64{0, 1}) {
				t.Fatalf("box versions: %v", got)
			}
			br, err := box.Branches(ctx, id)
			if err != nil || len(br) != 1 || br[0].Kind != BranchDiverged || br[0].Number != 1 ||
				br[0].Base == nil || *br[0].Base != 0 || br[0].Author != laptop.persona {
				t.Fatalf("box branches: %+v %v", br, err)
			}
			if in, err := box.Info(id); err != nil || in.Diverged != 1 || in.Base == nil || *in.Base != 0 {
				t.Fatalf("box info: diverged %d base %v, %v", in.Diverged, in.Base, err)
			}
			// The box's backup is a sibling of version 1.
			v2 := box.backup(t, id, "v2 on the box")
			if v2.Parent != v0c {
				t.Fatalf("box's version 2 follows %s, want version 0 %s", v2.Parent, v0c)
			}
			if got := box.readFile(t, id, "1", "laptop.txt"); string(got) != "from the laptop" {
				t.Fatalf("version 1 on the box: %q", got)
			}
			// The laptop keeps it as a branch; its cur keeps laptop.txt.
			if vi, err := carry(t, box, laptop, id, "2"); !errors.Is(err, ErrConflict) || vi.MovedCur {
				t.Fatalf("box's version 2 to the laptop: moved %v, %v; want ErrConflict", vi.MovedCur, err)
			}
			if got := curFiles(t, laptop, id); !slices.Contains(got, "laptop.txt") {
				t.Fatalf("laptop cur lost laptop.txt: %v", got)
			}
			// A later box version on that line reaches the laptop's line
			// (its parent is a branch there) but does not build on the
			// laptop's cur: kept, reported, cur unchanged.
			box.put(t, id, "b3.txt", []byte("3"))
			box.backup(t, id, "v3")
			if vi, err := carry(t, box, laptop, id, "3"); !errors.Is(err, ErrDiverged) || vi.MovedCur {
				t.Fatalf("box's version 3 to the laptop: moved %v, %v; want ErrDiverged", vi.MovedCur, err)
			}
			if got := curFiles(t, laptop, id); !slices.Equal(got, []string{"a.txt", "laptop.txt"}) {
				t.Fatalf("laptop cur: %v", got)
			}
			// Restoring on the box settles its divergence.
			if _, err := box.Restore(ctx, id, "1"); err != nil {
				t.Fatal(err)
			}
			if br, err := box.Branches(ctx, id); err != nil || len(br) != 0 {
				t.Fatalf("box branches after restore: %+v %v", br, err)
			}
			if in, err := box.Info(id); err != nil || in.Diverged != 0 || in.Base == nil || *in.Base != 3 {
				t.Fatalf("box info after restore: diverged %d base %v, %v", in.Diverged, in.Base, err)
			}
		})
	}
}

// A restore of an older version followed by a backup continues the line:
// the new version follows the newest, so other devices take it.
func TestRestoreOlderThenBackupContinuesLine(t *testing.T) {
	ctx := context.Background()
	box, laptop, id := twoDevices(t)
	box.put(t, id, "b.txt", []byte("b"))
	v1 := box.backup(t, id, "v1")
	if _, err := carry(t, box, laptop, id, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Restore(ctx, id, "0"); err != nil {
		t.Fatal(err)
	}
	v2 := box.backup(t, id, "back to 0")
	if v2.Parent != v1.CID {
		t.Fatalf("version 2 follows %s, want version 1 %s", v2.Parent, v1.CID)
	}
	if vi, err := carry(t, box, laptop, id, "2"); err != nil || !vi.MovedCur {
		t.Fatalf("version 2 to the laptop: moved %v, %v", vi.MovedCur, err)
	}
	if got := curFiles(t, laptop, id); !slices.Equal(got, []string{"a.txt"}) {
		t.Fatalf("laptop cur: %v", got)
	}
}

// A MiMei received from someone else has no working copy here: reads of
// cur show its newest version, and Info says which and counts it. The
// owner's devices, a writer's, or a reader who wrote into cur read cur.
func TestReadRefReceived(t *testing.T) {
	alice := newRepDevice(t, repKey(70), 71, nil)
	carolKey := repKey(90)
	carol := identity.DID(carolKey.Public().(ed25519.PublicKey))
	m, err := alice.Create(Spec{Author: alice.persona, AppType: "files", Mark: AutoMark}, Rights{Writers: []string{carol}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	alice.put(t, m.ID, "a.txt", []byte("a"))
	alice.backup(t, m.ID, "v0")
	alice.put(t, m.ID, "dir/b.txt", []byte("bb"))
	alice.exec(t, m.ID, "SET", "k", "v")
	alice.backup(t, m.ID, "v1")

	bob := newRepDevice(t, repKey(80), 81, nil)
	carolDev := newRepDevice(t, carolKey, 91, nil)
	for _, d := range []*repDevice{bob, carolDev} {
		for _, ref := range []string{"0", "1"} {
			if _, err := carry(t, alice, d, m.ID, ref); err != nil {
				t.Fatalf("version %s: %v", ref, err)
			}
		}
	}
	cases := []struct {
		name     string
		d        *repDevice
		ref      string
		want     string
		received bool
	}{
		{"the owner's cur", alice, RefCur, RefCur, false},
		{"a reader's cur", bob, RefCur, "1", true},
		{"a reader's default", bob, "", "1", true},
		{"a reader's version asked for", bob, "0", "0", false},
		{"a writer's cur", carolDev, RefCur, RefCur, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, received, err := tc.d.ReadRef(m.ID, tc.ref)
			if err != nil || got != tc.want || received != tc.received {
				t.Fatalf("ReadRef(%q) = %q %v %v, want %q %v", tc.ref, got, received, err, tc.want, tc.received)
			}
		})
	}
	in, err := bob.Info(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.Shows == nil || *in.Shows != 1 || in.Files != 2 || in.Bytes != 3 || in.Keys != 1 {
		t.Fatalf("reader's info: shows %v, %d files, %d bytes, %d keys; want version 1, 2, 3, 1", in.Shows, in.Files, in.Bytes, in.Keys)
	}
	// The writer's cur followed the owner's versions.
	if got := curFiles(t, carolDev, m.ID); !slices.Equal(got, []string{"a.txt", "dir/b.txt"}) {
		t.Fatalf("writer's cur: %v", got)
	}
	if in, err := carolDev.Info(m.ID); err != nil || in.Shows != nil || in.Files != 2 {
		t.Fatalf("writer's info: shows %v files %d, %v", in.Shows, in.Files, err)
	}
	// A reader who writes into cur has a cur of their own.
	bob.put(t, m.ID, "mine.txt", []byte("m"))
	if got, received, err := bob.ReadRef(m.ID, RefCur); err != nil || got != RefCur || received {
		t.Fatalf("ReadRef after writing into cur: %q %v %v", got, received, err)
	}
	if in, err := bob.Info(m.ID); err != nil || in.Shows != nil || in.Files != 1 {
		t.Fatalf("reader's info with a cur: shows %v files %d, %v", in.Shows, in.Files, err)
	}
}
