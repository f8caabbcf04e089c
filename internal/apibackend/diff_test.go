package apibackend

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/mimei"
)

// TestDiff: the adapter passes the limit on and answers the counts and
// truncation flags of the store's diff; the API's limits are the store's.
func TestDiff(t *testing.T) {
	if apiv1.DiffDefaultLimit != mimei.DefaultDiffLimit || apiv1.DiffMaxLimit != mimei.MaxDiffLimit {
		t.Fatalf("API diff limits %d/%d, store's %d/%d", apiv1.DiffDefaultLimit, apiv1.DiffMaxLimit, mimei.DefaultDiffLimit, mimei.MaxDiffLimit)
	}
	ctx := context.Background()
	f := newFixture(t)
	a := &Store{MiMei: f.mimei, Keys: f.keys}
	m, err := a.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "files"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Backup(ctx, m.ID, "empty")
	if err != nil {
		t.Fatal(err)
	}
	id, err := mimei.ParseID(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	db, err := f.mimei.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := a.PutFile(ctx, m.ID, fmt.Sprintf("/f%d", i), strings.NewReader("x"), httpapi.PutFile{}); err != nil {
			t.Fatal(err)
		}
		if err := db.Set(fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	from := fmt.Sprint(v.Number)
	for _, c := range []struct {
		limit, listed int
	}{{2, 2}, {3, 3}, {apiv1.DiffDefaultLimit, 3}} {
		d, err := a.Diff(ctx, m.ID, from, apiv1.RefCur, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		truncated := c.listed < 3
		if len(d.Files) != c.listed || len(d.Keys) != c.listed || d.FileCount != 3 || d.KeyCount != 3 ||
			d.FilesTruncated != truncated || d.KeysTruncated != truncated || d.Keys[0].Key != "k0" || d.Files[0].Path != "f0" {
			t.Fatalf("limit %d: %+v", c.limit, d)
		}
	}
}
