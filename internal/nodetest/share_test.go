package nodetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// newMiMei creates a MiMei on n and writes files into it.
func newMiMei(t *testing.T, n *Node, appType string, files map[string][]byte) string {
	t.Helper()
	ctx := Ctx(t, 30*time.Second)
	m, err := n.Client.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: appType})
	if err != nil {
		t.Fatal(err)
	}
	putFiles(t, n, m.ID, files)
	return m.ID
}

func putFiles(t *testing.T, n *Node, mid string, files map[string][]byte) {
	t.Helper()
	ctx := Ctx(t, 60*time.Second)
	for p, data := range files {
		if _, err := n.Client.PutFile(ctx, mid, p, bytes.NewReader(data), int64(len(data)), apiclient.PutOptions{Parents: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// fileAt reads a file of version ref of mid on n.
func fileAt(n *Node, mid, ref, p string) ([]byte, error) {
	var buf bytes.Buffer
	ctx, cancel := ctxFor(10 * time.Second)
	defer cancel()
	_, err := n.Client.GetFile(ctx, mid, ref, p, &buf)
	return buf.Bytes(), err
}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func apiCode(err error) string {
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// TestShareSubscribe: A shares a MiMei with contact B; B sees it under
// "shared with me", subscribes and holds version 0; A backs up a new
// version and B holds it byte-identical within 2 s through the pushed
// notification (the safety net is minutes away). C, a contact of A the
// MiMei is not shared with, is refused. After A revokes B and backs up
// again, B cannot fetch the new version. A's access log lists B's fetches.
func TestShareSubscribe(t *testing.T) {
	a, b, c := Start(t, noDHT), Start(t, noDHT), Start(t, noDHT)
	befriend(t, a, b)
	befriend(t, a, c)
	ctx := Ctx(t, 2*time.Minute)

	v0 := map[string][]byte{"notes/a.txt": []byte("first version\n"), "photo.bin": randomBytes(700 << 10)}
	mid := newMiMei(t, a, "notes", v0)
	if _, err := a.Client.Backup(ctx, mid, "v0"); err != nil {
		t.Fatal(err)
	}
	sh, err := a.Client.Share(ctx, mid, apiv1.ShareRequest{With: b.Persona()})
	if err != nil {
		t.Fatal(err)
	}
	if len(sh.Readers) != 1 || sh.Readers[0].Persona != b.Persona() || sh.Epoch != 1 || sh.Published != 1 {
		t.Fatalf("sharing = %+v", sh)
	}
	Await(t, 10*time.Second, "B sees the offer", func() error {
		in, err := b.Client.SharedWithMe(ctx)
		if err != nil {
			return err
		}
		for _, x := range in {
			if x.MiMei == mid && x.From == a.Persona() {
				return nil
			}
		}
		return fmt.Errorf("shared with me: %+v", in)
	})
	res, err := b.Client.Subscribe(ctx, mid, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Versions) != 1 || res.Versions[0].Version != 0 || res.Versions[0].Fetched == 0 {
		t.Fatalf("subscribe fetched %+v", res)
	}
	for p, want := range v0 {
		got, err := fileAt(b, mid, "0", p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("B's %s at version 0: %d bytes, err %v", p, len(got), err)
		}
	}

	// A new version arrives by itself, promptly.
	v1 := map[string][]byte{"notes/a.txt": []byte("second version\n")}
	putFiles(t, a, mid, v1)
	start := time.Now()
	if _, err := a.Client.Backup(ctx, mid, "v1"); err != nil {
		t.Fatal(err)
	}
	Await(t, 2*time.Second, "B holds version 1", func() error {
		got, err := fileAt(b, mid, "1", "notes/a.txt")
		if err != nil {
			return err
		}
		if !bytes.Equal(got, v1["notes/a.txt"]) {
			return fmt.Errorf("B's file differs")
		}
		return nil
	})
	t.Logf("version 1 arrived at B %v after A's backup started", time.Since(start).Round(time.Millisecond))
	// Unchanged blocks did not travel again: photo.bin is identical.
	if got, err := fileAt(b, mid, "1", "photo.bin"); err != nil || !bytes.Equal(got, v0["photo.bin"]) {
		t.Fatalf("B's photo.bin at version 1: %v", err)
	}

	// C (a contact, not a reader) is refused.
	if _, err := c.Client.Fetch(ctx, mid, apiv1.FetchRequest{Owner: a.Persona()}); apiCode(err) != apiv1.CodeNotShared {
		t.Fatalf("C's fetch: %v, want %s", err, apiv1.CodeNotShared)
	}

	// Access log on A: B fetched versions 0 and 1.
	log, err := a.Client.AccessLog(ctx, mid, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, e := range log {
		if e.Persona == b.Persona() {
			seen[e.Version] = true
		}
	}
	if !seen[0] || !seen[1] {
		t.Fatalf("access log %+v lacks B's fetches of versions 0 and 1", log)
	}

	// Revoke B: the key rotates; B cannot fetch the next version.
	sh, err = a.Client.Unshare(ctx, mid, b.Persona())
	if err != nil {
		t.Fatal(err)
	}
	if sh.Epoch != 2 || len(sh.Readers) != 0 {
		t.Fatalf("after revoking: %+v", sh)
	}
	// B is told: its list says revoked, its subscription is gone.
	Await(t, 10*time.Second, "B told of the revocation", func() error {
		l, err := b.Client.SharedWithMe(ctx)
		if err != nil {
			return err
		}
		if len(l) != 1 || l[0].Revoked == nil || l[0].Subscribed {
			return fmt.Errorf("B's shared list %+v", l)
		}
		return nil
	})
	putFiles(t, a, mid, map[string][]byte{"notes/a.txt": []byte("third version, not for B\n")})
	if _, err := a.Client.Backup(ctx, mid, "v2"); err != nil {
		t.Fatal(err)
	}
	v2 := uint64(2)
	if _, err := b.Client.Fetch(ctx, mid, apiv1.FetchRequest{Version: &v2}); apiCode(err) != apiv1.CodeNotShared {
		t.Fatalf("B's fetch after revocation: %v, want %s", err, apiv1.CodeNotShared)
	}
	// What B had stays B's.
	if got, err := fileAt(b, mid, "1", "notes/a.txt"); err != nil || !bytes.Equal(got, v1["notes/a.txt"]) {
		t.Fatalf("B lost version 1: %v", err)
	}
}

// TestShareResume: B is stopped in the middle of fetching a version; after
// it starts again, fetching again takes only the blocks it did not have
// (counted), and the result is byte-identical.
func TestShareResume(t *testing.T) {
	a := Start(t, noDHT, "share.rate_mb=4")
	b := Start(t, noDHT)
	befriend(t, a, b)
	ctx := Ctx(t, 3*time.Minute)
	big := randomBytes(24 << 20)
	mid := newMiMei(t, a, "video", map[string][]byte{"big.bin": big})
	if _, err := a.Client.Backup(ctx, mid, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Share(ctx, mid, apiv1.ShareRequest{With: b.Persona()}); err != nil {
		t.Fatal(err)
	}
	evs := b.Events().Subscribe(ctx, 0, func(typ string) bool { return typ == "share.progress" })
	fetchErr := make(chan error, 1)
	go func() {
		_, err := b.Client.Fetch(ctx, mid, apiv1.FetchRequest{Owner: a.Persona()})
		fetchErr <- err
	}()
	var done int
	for done == 0 {
		select {
		case ev := <-evs:
			var p struct {
				Done  int `json:"done"`
				Total int `json:"total"`
			}
			if err := json.Unmarshal(ev.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.Total > 0 && p.Done >= p.Total/3 {
				done = p.Done
			}
		case err := <-fetchErr:
			t.Fatalf("fetch ended before B was stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("no progress")
		}
	}
	b = Restart(t, b)
	if err := <-fetchErr; err == nil {
		t.Fatal("the interrupted fetch succeeded")
	}
	// Without a DHT the restarted node knows A's addresses only if told.
	if _, err := b.Client.Connect(ctx, a.NetAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	res, err := b.Client.Fetch(ctx, mid, apiv1.FetchRequest{Owner: a.Persona()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Versions) != 1 {
		t.Fatalf("fetched %+v", res)
	}
	v := res.Versions[0]
	t.Logf("first attempt had %d blocks done; second: fetched %d, skipped %d of %d", done, v.Fetched, v.Skipped, v.Blocks)
	if v.Skipped < done-2 || v.Fetched+v.Skipped < int(v.Blocks) || v.Fetched > int(v.Blocks)-done+2 {
		t.Fatalf("resume fetched %d and skipped %d of %d blocks; %d were done before", v.Fetched, v.Skipped, v.Blocks, done)
	}
	if got, err := fileAt(b, mid, "0", "big.bin"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("B's big.bin: %d bytes, %v", len(got), err)
	}
}

// TestSharePublicCache: B fetches a public MiMei from A; with A offline, C
// (a stranger to both) finds B through the DHT's provider records and
// fetches it from B's cache; B's cache stays within its quota, evicting
// the least recently used; A's access log lists B's fetch.
func TestSharePublicCache(t *testing.T) {
	dht := "network.dht=server"
	boot := Start(t, dht)
	ns := StartN(t, 3, dht, Bootstrap(boot), "share.cache_mb=1")
	a, b, c := ns[0], ns[1], ns[2]
	for _, n := range ns {
		Await(t, 60*time.Second, "publish "+n.Persona(), func() error { return n.Republish(context.Background()) })
	}
	ctx := Ctx(t, 3*time.Minute)
	content := map[string][]byte{}
	var mids []string
	for range 3 {
		data := randomBytes(400 << 10)
		mid := newMiMei(t, a, "public", map[string][]byte{"f.bin": data})
		content[mid] = data
		mids = append(mids, mid)
		if _, err := a.Client.Backup(ctx, mid, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client.Share(ctx, mid, apiv1.ShareRequest{Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	m1, m2, m3 := mids[0], mids[1], mids[2]
	for _, mid := range []string{m1, m2} {
		if _, err := b.Client.Fetch(ctx, mid, apiv1.FetchRequest{Owner: a.Persona()}); err != nil {
			t.Fatalf("B fetches %s from A: %v", mid, err)
		}
	}
	log, err := a.Client.AccessLog(ctx, m1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Peer != b.Device() || log[0].Version != 0 {
		t.Fatalf("A's access log of %s: %+v, want B's fetch of version 0", m1, log)
	}

	// C, a stranger to A found through the DHT, gets nothing that is not
	// public; and A shares only with contacts.
	priv := newMiMei(t, a, "private", map[string][]byte{"secret.txt": []byte("not public")})
	if _, err := a.Client.Backup(ctx, priv, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.Fetch(ctx, priv, apiv1.FetchRequest{Owner: a.Persona()}); apiCode(err) != apiv1.CodeNotShared {
		t.Fatalf("stranger C's fetch of a private MiMei: %v, want %s", err, apiv1.CodeNotShared)
	}
	if _, err := a.Client.Share(ctx, priv, apiv1.ShareRequest{With: c.Persona()}); apiCode(err) != apiv1.CodeBadRequest {
		t.Fatalf("sharing with a non-contact: %v, want %s", err, apiv1.CodeBadRequest)
	}

	a.Close()
	Await(t, 60*time.Second, "C fetches from B's cache", func() error {
		_, err := c.Client.Fetch(ctx, m1, apiv1.FetchRequest{Owner: a.Persona()})
		return err
	})
	if got, err := fileAt(c, m1, "0", "f.bin"); err != nil || !bytes.Equal(got, content[m1]) {
		t.Fatalf("C's copy: %d bytes, %v", len(got), err)
	}

	// A comes back; B takes a third MiMei: over quota, the least recently
	// used (m2: m1 was just served to C) goes.
	a = Restart(t, a, dht, Bootstrap(boot))
	Await(t, 60*time.Second, "A republishes", func() error { return a.Republish(context.Background()) })
	Await(t, 60*time.Second, "B fetches m3", func() error {
		_, err := b.Client.Fetch(ctx, m3, apiv1.FetchRequest{Owner: a.Persona()})
		return err
	})
	cache, err := b.Client.Cache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	held := map[string]bool{}
	for _, e := range cache {
		total += e.Bytes
		held[e.MiMei] = true
	}
	if total > 1<<20 || !held[m1] || !held[m3] || held[m2] {
		t.Fatalf("B's cache %+v (total %d, quota %d): want m1 and m3, not m2", cache, total, 1<<20)
	}
	if _, err := b.Client.GetMiMei(ctx, m2); apiCode(err) != apiv1.CodeNotFound {
		t.Fatalf("evicted m2 still on B: %v", err)
	}
}
