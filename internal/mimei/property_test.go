package mimei

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// model is what a file space should hold: path → content ("/" suffix
// marks a directory, whose value is unused).
type model map[string]string

func (m model) parentOK(p string) bool {
	dir, _ := splitPath(p)
	if dir == "" {
		return true
	}
	_, ok := m[dir+"/"]
	return ok
}

func (m model) exists(p string) bool {
	_, f := m[p]
	_, d := m[p+"/"]
	return f || d
}

// snapshot reads a file space (cur or a version) back into a model.
func snapshot(t *rapid.T, f *fixture, id ID, ref string) model {
	ctx := context.Background()
	out := model{}
	var walk func(dir string)
	walk = func(dir string) {
		es, err := f.List(ctx, id, ref, dir)
		if err != nil {
			t.Fatalf("list %q@%s: %v", dir, ref, err)
		}
		for _, e := range es {
			if e.Dir {
				out[e.Path+"/"] = ""
				walk(e.Path)
				continue
			}
			_, r, err := f.Open(ctx, id, ref, e.Path)
			if err != nil {
				t.Fatalf("open %s@%s: %v", e.Path, ref, err)
			}
			b := make([]byte, r.Size())
			if _, err := r.ReadAt(b, 0); err != nil && r.Size() > 0 {
				t.Fatalf("read %s@%s: %v", e.Path, ref, err)
			}
			out[e.Path] = string(b)
		}
	}
	walk("")
	return out
}

// TestPropertyFileSpace runs random file-space operations against a model,
// backs up at random points, and checks that cur and every version read
// back exactly as the model had them, that a restore brings a version back,
// and that diffs report exactly the paths that differ.
func TestPropertyFileSpace(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		f := newFixture(t, nil)
		m, err := f.Create(Spec{Author: f.author, AppType: "files", Mark: AutoMark}, Rights{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		id := m.ID
		cur := model{}
		var versions []model
		seg := rapid.SampledFrom([]string{"a", "b", "c d", "é", "x.txt"})
		genPath := rapid.Custom(func(t *rapid.T) string {
			n := rapid.IntRange(1, 3).Draw(t, "depth")
			parts := make([]string, n)
			for i := range parts {
				parts[i] = seg.Draw(t, "seg")
			}
			return strings.Join(parts, "/")
		})
		content := rapid.SampledFrom([]string{"", "1", "hello", strings.Repeat("z", 70_000)})
		for range rapid.IntRange(1, 25).Draw(t, "steps") {
			p := genPath.Draw(t, "path")
			switch op := rapid.IntRange(0, 5).Draw(t, "op"); op {
			case 0, 1: // put
				c := content.Draw(t, "content")
				_, err := f.Put(ctx, id, p, strings.NewReader(c), PutOptions{})
				_, isDir := cur[p+"/"]
				switch {
				case !cur.parentOK(p) || isDir:
					if err == nil {
						t.Fatalf("put %s succeeded; model says it must fail", p)
					}
				case err != nil:
					t.Fatalf("put %s: %v", p, err)
				default:
					cur[p] = c
				}
			case 2: // mkdir -p
				_, err := f.Mkdir(id, p, true)
				blocked := false
				for q := p; q != ""; q, _ = splitPath(q) {
					if _, ok := cur[q]; ok {
						blocked = true
					}
				}
				if blocked != (err != nil) {
					t.Fatalf("mkdir -p %s: %v (model blocked=%v)", p, err, blocked)
				}
				if err == nil {
					for q := p; q != ""; q, _ = splitPath(q) {
						cur[q+"/"] = ""
					}
				}
			case 3: // rm -r
				err := f.Remove(id, p, true)
				if cur.exists(p) != (err == nil) {
					t.Fatalf("rm -r %s: %v", p, err)
				}
				for k := range cur {
					if strings.TrimSuffix(k, "/") == p || strings.HasPrefix(k, p+"/") {
						delete(cur, k)
					}
				}
			case 4: // mv
				to := genPath.Draw(t, "to")
				_, err := f.Move(id, p, to)
				ok := cur.exists(p) && !cur.exists(to) && cur.parentOK(to) && to != p && !strings.HasPrefix(to, p+"/")
				if ok != (err == nil) {
					t.Fatalf("mv %s %s: %v (model ok=%v)", p, to, err, ok)
				}
				if err == nil {
					moved := model{}
					for k, v := range cur {
						if strings.TrimSuffix(k, "/") == p || strings.HasPrefix(k, p+"/") {
							moved[to+strings.TrimPrefix(k, p)] = v
							delete(cur, k)
						}
					}
					maps.Copy(cur, moved)
				}
			case 5: // backup
				if _, err := f.Backup(ctx, id, ""); err != nil {
					t.Fatal(err)
				}
				versions = append(versions, maps.Clone(cur))
			}
			if got := snapshot(t, f, id, "cur"); !maps.Equal(got, cur) {
				t.Fatalf("cur differs from the model:\n got %v\nwant %v", keys(got), keys(cur))
			}
		}
		for i, want := range versions {
			ref := itoa(i)
			if got := snapshot(t, f, id, ref); !maps.Equal(got, want) {
				t.Fatalf("version %d differs:\n got %v\nwant %v", i, keys(got), keys(want))
			}
		}
		if len(versions) > 0 {
			i := rapid.IntRange(0, len(versions)-1).Draw(t, "restore")
			d, err := f.Diff(ctx, id, itoa(i), "cur")
			if err != nil {
				t.Fatal(err)
			}
			changed := map[string]bool{}
			for _, c := range d.Files {
				changed[c.Path] = true
			}
			for k := range union(versions[i], cur) {
				p := strings.TrimSuffix(k, "/")
				a, inA := versions[i][k]
				b, inB := cur[k]
				differs := inA != inB || (!strings.HasSuffix(k, "/") && a != b)
				// A same content re-put only changes the ModTime, which
				// the diff reports; so only "must report" is checked.
				if differs && !changed[p] {
					t.Fatalf("diff %d→cur misses %s", i, p)
				}
			}
			if _, err := f.Restore(ctx, id, itoa(i)); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, f, id, "cur"); !maps.Equal(got, versions[i]) {
				t.Fatalf("restore %d: got %v want %v", i, keys(got), keys(versions[i]))
			}
		}
		if _, err := f.GC(ctx); err != nil {
			t.Fatal(err)
		}
		for i, want := range versions {
			if got := snapshot(t, f, id, itoa(i)); !maps.Equal(got, want) {
				t.Fatalf("after GC version %d differs", i)
			}
		}
		if vr, err := f.Verify(ctx); err != nil || !vr.OK() {
			t.Fatalf("verify: %+v %v", vr, errors.Join(err))
		}
	})
}

func keys(m model) []string { return slices.Sorted(maps.Keys(m)) }

func union(a, b model) model {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
