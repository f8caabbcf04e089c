package nodetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// TestShareWriterPush: A shares a MiMei with B as a writer and with C as
// a reader. B writes a file and backs up; the new version, signed by B,
// reaches A by push, A verifies and takes it and passes it on to C. C, a
// reader, cannot make versions of it.
func TestShareWriterPush(t *testing.T) {
	a, b, c := Start(t, noDHT), Start(t, noDHT), Start(t, noDHT)
	befriend(t, a, b)
	befriend(t, a, c)
	ctx := Ctx(t, 2*time.Minute)

	mid := newMiMei(t, a, "notes", map[string][]byte{"a.txt": []byte("from A\n")})
	if _, err := a.Client.Backup(ctx, mid, "v0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Share(ctx, mid, apiv1.ShareRequest{With: b.Persona(), Write: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Share(ctx, mid, apiv1.ShareRequest{With: c.Persona()}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{b, c} {
		if _, err := n.Client.Subscribe(ctx, mid, a.Persona()); err != nil {
			t.Fatal(err)
		}
	}

	putFiles(t, b, mid, map[string][]byte{"b.txt": []byte("from B\n")})
	v, err := b.Client.Backup(ctx, mid, "B's edit")
	if err != nil {
		t.Fatal(err)
	}
	if v.Number != 1 || v.Author != b.Persona() {
		t.Fatalf("B's version: %+v", v)
	}
	for _, n := range []*Node{a, c} {
		Await(t, 10*time.Second, "B's version on "+n.Device(), func() error {
			got, err := fileAt(n, mid, "1", "b.txt")
			if err != nil {
				return err
			}
			if string(got) != "from B\n" {
				return fmt.Errorf("b.txt is %q", got)
			}
			return nil
		})
	}
	vs, err := a.Client.Versions(ctx, mid)
	if err != nil || len(vs) != 2 || vs[1].Author != b.Persona() {
		t.Fatalf("A's versions: %+v, %v", vs, err)
	}

	putFiles(t, c, mid, map[string][]byte{"c.txt": []byte("from C\n")})
	if _, err := c.Client.Backup(ctx, mid, "C's edit"); err == nil {
		t.Fatal("a reader made a version of someone else's MiMei")
	}
}
