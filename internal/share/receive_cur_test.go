package share

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/peer-node/peer/internal/mimei"
)

// curNames lists the names at the top of cur of id on n.
func curNames(t *testing.T, n *testNode, id mimei.ID) []string {
	t.Helper()
	es, err := n.store.List(context.Background(), id, mimei.RefCur, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

// ownDevices makes a box and a laptop of one persona; the box made version
// 0 of a private MiMei (a.txt) and the laptop fetched it, as own-device
// sync does (a trusted catalog, the owner persona's key record).
func ownDevices(t *testing.T) (w *world, box, laptop *testNode, id mimei.ID) {
	t.Helper()
	w = newWorld()
	box, laptop = w.node(t, 1, nodeOptions{}), w.node(t, 1, nodeOptions{device: 1})
	id = box.create(t, false)
	box.put(t, id, "a.txt", []byte("from the box"))
	box.backup(t, id)
	box.publish(t, w, id, "0")
	got, _ := fetch(t, box, laptop, laptop.persona, id, 0, false)
	if !got.MovedCur || got.Diverged != nil {
		t.Fatalf("version 0 on the new laptop: moved %v, diverged %v", got.MovedCur, got.Diverged)
	}
	if names := curNames(t, laptop, id); !slices.Equal(names, []string{"a.txt"}) {
		t.Fatalf("laptop cur: %v", names)
	}
	return w, box, laptop, id
}

// The case through the receiver: version 1 made on the laptop
// arrives on the box, whose cur has not changed: cur moves to it, and the
// box's next backup keeps laptop.txt.
func TestOwnDeviceVersionMovesCur(t *testing.T) {
	ctx := context.Background()
	w, box, laptop, id := ownDevices(t)
	laptop.put(t, id, "laptop.txt", []byte("from the laptop"))
	laptop.backup(t, id)
	laptop.publish(t, w, id, "1")

	got, _ := fetch(t, laptop, box, box.persona, id, 1, false)
	if !got.MovedCur || got.Diverged != nil || got.Conflict != nil {
		t.Fatalf("version 1 on the box: moved %v, diverged %v, conflict %v", got.MovedCur, got.Diverged, got.Conflict)
	}
	if names := curNames(t, box, id); !slices.Equal(names, []string{"a.txt", "laptop.txt"}) {
		t.Fatalf("box cur: %v", names)
	}
	box.put(t, id, "box.txt", []byte("box"))
	v2 := box.backup(t, id)
	d, err := box.store.Diff(ctx, id, "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 1 || d.Files[0].Path != "box.txt" {
		t.Fatalf("diff 1 2: %+v (want only + box.txt)", d.Files)
	}
	if v2.Number != 2 {
		t.Fatalf("box backup: version %d", v2.Number)
	}
	if slices.Contains(box.published(), "share.diverged") {
		t.Fatal("share.diverged published for a version cur followed")
	}
}

// Both changed: the box's cur has changes of its own when the laptop's
// version 1 arrives. The box keeps its cur and version 1, publishes
// share.diverged and lists the divergence among its branches.
func TestOwnDeviceBothChangedKeepsBoth(t *testing.T) {
	ctx := context.Background()
	w, box, laptop, id := ownDevices(t)
	laptop.put(t, id, "laptop.txt", []byte("from the laptop"))
	laptop.backup(t, id)
	laptop.publish(t, w, id, "1")
	box.put(t, id, "box.txt", []byte("box, not backed up"))

	got, _ := fetch(t, laptop, box, box.persona, id, 1, false)
	if got.MovedCur || !errors.Is(got.Diverged, mimei.ErrDiverged) || got.Conflict != nil {
		t.Fatalf("version 1 on the changed box: moved %v, diverged %v, conflict %v", got.MovedCur, got.Diverged, got.Conflict)
	}
	if !slices.Contains(box.published(), "share.diverged") {
		t.Fatalf("no share.diverged event: %v", box.published())
	}
	if names := curNames(t, box, id); !slices.Equal(names, []string{"a.txt", "box.txt"}) {
		t.Fatalf("box cur: %v (its own changes must stay)", names)
	}
	if string(box.read(t, id, "1", "laptop.txt")) != "from the laptop" {
		t.Fatal("version 1 not kept on the box")
	}
	br, err := box.store.Branches(ctx, id)
	if err != nil || len(br) != 1 || br[0].Kind != mimei.BranchDiverged || br[0].Number != 1 {
		t.Fatalf("box branches: %+v %v", br, err)
	}
	// The version is on the box's line: it serves it on.
	if h, err := box.svc.Head(id, 1); err != nil || h.Number != 1 {
		t.Fatalf("box's head of version 1: %+v %v", h, err)
	}
}
