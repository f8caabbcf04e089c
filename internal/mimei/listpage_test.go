package mimei

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestListPage pages through a directory of cur and of a backed-up version
// (the kv's ordered keys and the frozen tree's pages): names after a name
// present or absent, limits at and across the end, an empty directory,
// and paging to the end gives what List gives.
func TestListPage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	var all []string
	for i := range 12 {
		name := fmt.Sprintf("f%02d", i)
		f.put(t, id, "d/"+name, name)
		all = append(all, name)
	}
	if _, err := f.Mkdir(id, "d/sub", false); err != nil {
		t.Fatal(err)
	}
	all = append(all, "sub/")
	if _, err := f.Mkdir(id, "empty", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Backup(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, after string
		limit      int
		want       []string
		more       bool
	}{
		{"empty", "", 5, nil, false},
		{"d", "", 13, all, false},          // exactly the directory
		{"d", "", 12, all[:12], true},      // one short
		{"d", "", 5, all[:5], true},        // first page
		{"d", "f04", 5, all[5:10], true},   // a page boundary, after a name present
		{"d", "f09", 3, all[10:13], false}, // the last page, exactly full
		{"d", "f04x", 2, all[5:7], true},   // after a name not present
		{"d", "a", 1, all[:1], true},       // before every name
		{"d", "sub", 4, nil, false},        // after the last name
		{"d", "zzz", 4, nil, false},        // after every name
	}
	for _, ref := range []string{RefCur, "0"} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s/after=%q/limit=%d", ref, tc.dir, tc.after, tc.limit), func(t *testing.T) {
				es, more, err := f.ListPage(ctx, id, ref, tc.dir, tc.after, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(es); !slices.Equal(got, tc.want) || more != tc.more {
					t.Fatalf("got %v (more %v), want %v (more %v)", got, more, tc.want, tc.more)
				}
				for _, e := range es {
					if e.Path != tc.dir+"/"+e.Name() {
						t.Fatalf("entry path %q in %s", e.Path, tc.dir)
					}
				}
			})
		}
		// Page by page to the end.
		var got []string
		after := ""
		for {
			es, more, err := f.ListPage(ctx, id, ref, "d", after, 4)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, names(es)...)
			if !more {
				break
			}
			after = es[len(es)-1].Name()
		}
		if !slices.Equal(got, all) {
			t.Fatalf("%s: paged %v, want %v", ref, got, all)
		}
		if _, _, err := f.ListPage(ctx, id, ref, "d/f00", "", 1); !errors.Is(err, ErrNotDir) {
			t.Errorf("%s: ListPage of a file: %v", ref, err)
		}
		if _, _, err := f.ListPage(ctx, id, ref, "nope", "", 1); !errors.Is(err, ErrNoFile) {
			t.Errorf("%s: ListPage of nothing: %v", ref, err)
		}
		if _, _, err := f.ListPage(ctx, id, ref, "d", "", 0); err == nil {
			t.Errorf("%s: ListPage with limit 0 succeeded", ref)
		}
	}
}
