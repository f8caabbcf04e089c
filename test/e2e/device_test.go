package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// TestDeviceAddJoin: real processes. `peer device add` on a running node
// prints a code; `peer device join CODE` on a fresh data directory makes
// it a device of the same persona; `peer up` there brings over the
// persona's MiMei; `peer device ls` lists both. A second join with the
// same code fails with a clear message.
func TestDeviceAddJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	noDHT := "PEER_NETWORK_DHT=off"
	dataA := t.TempDir()
	a := upShare(t, dataA, noDHT)
	m, err := a.c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("written on the box at home\n")
	if _, err := a.c.PutFile(ctx, m.ID, "todo.txt", bytes.NewReader(want), int64(len(want)), apiclient.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Backup(ctx, m.ID, ""); err != nil {
		t.Fatal(err)
	}

	r := run(t, "", []string{noDHT}, "--data", dataA, "--json", "device", "add")
	if r.code != 0 {
		t.Fatalf("device add: %d %s", r.code, r.stderr)
	}
	var pc apiv1.PairCode
	if err := json.Unmarshal([]byte(r.stdout), &pc); err != nil {
		t.Fatalf("device add output %q: %v", r.stdout, err)
	}
	dataB := t.TempDir()
	r = run(t, "", []string{noDHT}, "--data", dataB, "device", "join", pc.Code, "--name", "laptop")
	if r.code != 0 {
		t.Fatalf("device join: %d %s", r.code, r.stderr)
	}
	if r2 := run(t, "", []string{noDHT}, "--data", t.TempDir(), "device", "join", pc.Code); r2.code == 0 || !bytes.Contains([]byte(r2.stderr), []byte("used or expired")) {
		t.Fatalf("second join with the same code: %d %q", r2.code, r2.stderr)
	}
	b := upShare(t, dataB, noDHT)
	if b.d.persona != a.d.persona || b.d.device == a.d.device {
		t.Fatalf("B is %s/%s, A %s/%s", b.d.persona, b.d.device, a.d.persona, a.d.device)
	}
	awaitNS(t, 30*time.Second, "B holds the MiMei", func() error {
		var buf bytes.Buffer
		if _, err := b.c.GetFile(ctx, m.ID, "0", "todo.txt", &buf); err != nil {
			return err
		}
		if !bytes.Equal(buf.Bytes(), want) {
			return fmt.Errorf("todo.txt differs")
		}
		return nil
	})
	r = run(t, "", []string{noDHT}, "--data", dataB, "device", "ls")
	if r.code != 0 || !bytes.Contains([]byte(r.stdout), []byte(a.d.device)) || !bytes.Contains([]byte(r.stdout), []byte("(this device)")) {
		t.Fatalf("device ls on B: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Log(r.stdout)
}
