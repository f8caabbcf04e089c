package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// upShare starts `peer up` on data with extra environment and connects to
// it the way the CLI does.
func upShare(t *testing.T, data string, extraEnv ...string) *storeNode {
	t.Helper()
	d := startUp(t, data, extraEnv)
	c, err := apiclient.FromDataDir(data)
	if err != nil {
		t.Fatalf("client for %s: %v", data, err)
	}
	return &storeNode{d: d, c: c, data: data}
}

// TestShareKillResume: B is killed with SIGKILL in the middle of fetching
// a version shared by A; started again, it fetches only the blocks it did
// not have (counted) and ends with the same bytes.
func TestShareKillResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	noDHT := "PEER_NETWORK_DHT=off"
	a := upShare(t, t.TempDir(), noDHT, "PEER_SHARE_RATE_MB=4")
	dataB := t.TempDir()
	b := upShare(t, dataB, noDHT)

	inv, err := a.c.CreateInvite(ctx, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.AcceptInvite(ctx, inv.Link, "alice"); err != nil {
		t.Fatal(err)
	}
	m, err := a.c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "video"})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 24<<20)
	rand.Read(big)
	if _, err := a.c.PutFile(ctx, m.ID, "big.bin", bytes.NewReader(big), int64(len(big)), apiclient.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Backup(ctx, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Share(ctx, m.ID, apiv1.ShareRequest{With: b.d.persona}); err != nil {
		t.Fatal(err)
	}

	evs, err := b.c.Events(ctx, 0, "share.progress")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = b.c.Fetch(ctx, m.ID, apiv1.FetchRequest{}) }()
	done := 0
	for done == 0 {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("event stream ended")
			}
			var p struct {
				Done  int `json:"done"`
				Total int `json:"total"`
			}
			if err := json.Unmarshal(ev.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.Total > 0 && p.Done >= p.Total/2 {
				done = p.Done
			}
		case <-ctx.Done():
			t.Fatal("no progress")
		}
	}
	b.sigkill(t)

	b = upShare(t, dataB, noDHT)
	st, err := a.c.Net(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Without a DHT the restarted node knows A's addresses only if told.
	if _, err := b.c.Connect(ctx, st.ListenAddrs[0]+"/p2p/"+st.PeerID); err != nil {
		t.Fatal(err)
	}
	res, err := b.c.Fetch(ctx, m.ID, apiv1.FetchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Versions) != 1 {
		t.Fatalf("fetched %+v", res)
	}
	v := res.Versions[0]
	t.Logf("killed after %d blocks; after restart: fetched %d, skipped %d of %d", done, v.Fetched, v.Skipped, v.Blocks)
	if v.Skipped < done/2 || v.Fetched+v.Skipped < int(v.Blocks) {
		t.Fatalf("resume fetched %d and skipped %d of %d blocks; %d were done before the kill", v.Fetched, v.Skipped, v.Blocks, done)
	}
	var got bytes.Buffer
	if _, err := b.c.GetFile(ctx, m.ID, "0", "big.bin", &got); err != nil || !bytes.Equal(got.Bytes(), big) {
		t.Fatalf("B's big.bin: %d bytes, %v", got.Len(), err)
	}
}
