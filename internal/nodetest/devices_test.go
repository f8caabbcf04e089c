package nodetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/node"
	"github.com/peer-node/peer/internal/pairing"
)

// TestOwnDevices: B joins A's persona by a one-time code and receives
// every private MiMei of the persona, byte-identical; the code works once;
// C, another persona (a contact of A), cannot fetch them. A new backup on
// A reaches B by push. Then A and B back up the same MiMei concurrently:
// both versions are kept on both devices and the conflict is reported.
func TestOwnDevices(t *testing.T) {
	a, c := Start(t, noDHT), Start(t, noDHT)
	befriend(t, a, c)
	ctx := Ctx(t, 3*time.Minute)

	files := []map[string][]byte{
		{"notes/todo.txt": []byte("buy milk\n"), "big.bin": randomBytes(900 << 10)},
		{"photos/cat.jpg": randomBytes(300 << 10)},
	}
	var mids []string
	for i, fs := range files {
		mid := newMiMei(t, a, "private", fs)
		if _, err := a.Client.Backup(ctx, mid, fmt.Sprint("v0 of ", i)); err != nil {
			t.Fatal(err)
		}
		mids = append(mids, mid)
	}

	pc, err := a.Client.PairDevice(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := StartJoined(t, pc.Code, "laptop", noDHT)
	if b.Persona() != a.Persona() || b.Device() == a.Device() {
		t.Fatalf("joined device: persona %s device %s; A: %s %s", b.Persona(), b.Device(), a.Persona(), a.Device())
	}
	if _, err := node.Join(ctx, t.TempDir(), pc.Code, node.JoinOptions{}); !errors.Is(err, pairing.ErrRefused) {
		t.Fatalf("second use of the code: %v", err)
	}

	for i, mid := range mids {
		for p, want := range files[i] {
			Await(t, 30*time.Second, "B holds "+p, func() error {
				got, err := fileAt(b, mid, "0", p)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("%s differs", p)
				}
				return nil
			})
		}
	}
	devs, err := a.Client.Devices(ctx)
	if err != nil || len(devs) != 2 || devs[1].PeerID != b.Device() || devs[1].Name != "laptop" {
		t.Fatalf("A's devices: %+v, %v", devs, err)
	}
	if devs, err := b.Client.Devices(ctx); err != nil || len(devs) != 2 || devs[1].PeerID != a.Device() {
		t.Fatalf("B's devices: %+v, %v", devs, err)
	}

	// Another persona cannot fetch them, even a contact naming the owner.
	if _, err := c.Client.Fetch(ctx, mids[0], apiv1.FetchRequest{Owner: a.Persona()}); err == nil {
		t.Fatal("a device of another persona fetched a private MiMei")
	} else if code := apiCode(err); code != apiv1.CodeNotShared {
		t.Fatalf("another persona's fetch: %v (code %q)", err, code)
	}

	// A new version on A reaches B by push.
	putFiles(t, a, mids[0], map[string][]byte{"notes/todo.txt": []byte("buy milk and bread\n")})
	if _, err := a.Client.Backup(ctx, mids[0], "v1"); err != nil {
		t.Fatal(err)
	}
	Await(t, 10*time.Second, "B holds version 1", func() error {
		got, err := fileAt(b, mids[0], "1", "notes/todo.txt")
		if err != nil {
			return err
		}
		if string(got) != "buy milk and bread\n" {
			return fmt.Errorf("B's version 1 differs")
		}
		return nil
	})

	// Both back up version 2 of the same MiMei at once.
	putFiles(t, a, mids[0], map[string][]byte{"notes/todo.txt": []byte("from A\n")})
	putFiles(t, b, mids[0], map[string][]byte{"notes/todo.txt": []byte("from B\n")})
	done := make(chan error, 2)
	for _, n := range []*Node{a, b} {
		go func() {
			_, err := n.Client.Backup(ctx, mids[0], "v2 on "+n.Device())
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, side := range []struct {
		n          *Node
		own, other string
	}{{a, "from A\n", "from B\n"}, {b, "from B\n", "from A\n"}} {
		Await(t, 30*time.Second, "both versions 2 kept on "+side.n.Device(), func() error {
			got, err := fileAt(side.n, mids[0], "2", "notes/todo.txt")
			if err != nil {
				return err
			}
			if string(got) != side.own {
				return fmt.Errorf("version 2 is %q, want the device's own %q", got, side.own)
			}
			br, err := side.n.Client.Branches(ctx, mids[0])
			if err != nil {
				return err
			}
			for _, x := range br {
				if x.Version == 2 {
					return nil
				}
			}
			return fmt.Errorf("no branch for version 2: %+v", br)
		})
	}
}
