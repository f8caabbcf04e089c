package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// newShareCLI is newCLI with the fake sharing side plugged in (sh may be
// nil: a node running without the network). Fetches publish their
// progress on the event stream.
func newShareCLI(t *testing.T, sh *httpapitest.Share) (*cli, *apiclient.Client) {
	t.Helper()
	bus := events.New(0)
	t.Cleanup(bus.Close)
	opts := httpapi.Options{Bus: bus}
	if sh != nil {
		sh.Bus = bus
		opts.Share = sh
	}
	ts := httpapitest.Serve(t, opts)
	dir := t.TempDir()
	lock, err := datadir.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release() })
	if err := datadir.WriteRuntime(dir, datadir.Runtime{PID: os.Getpid(), API: ts.URL, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(datadir.TokenPath(dir), []byte(httpapitest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir}, apiclient.New(ts.URL, httpapitest.Token)
}

func TestShareCommands(t *testing.T) {
	c, _ := newShareCLI(t, httpapitest.NewShare())
	own := httpapitest.OwnMiMei

	out := squash(c.ok("share", own, "carol"))
	wantIn(t, "share", out, "carol ("+httpapitest.PersonaCarol+") may now fetch "+own,
		"readers:", "carol ("+httpapitest.PersonaCarol+")", "writers: -", "key epoch: 1")
	out = squash(c.ok("share", own, "dave", "--write"))
	wantIn(t, "share --write", out, "may now fetch and write", "writers: dave")
	c.fails("not both", "share", own, "carol", "--public")
	c.fails("never public", "share", own, "--public", "--write")
	c.fails("give the contact", "share", own)
	c.fails("no contact", "share", own, "nobody")
	c.fails("only the owner", "share", httpapitest.InMiMei, "carol")

	wantIn(t, "shares", squash(c.ok("shares", own)), "readers: carol", "writers: dave", "subscribers: 2", "published: 3 versions")
	var sh apiv1.Sharing
	c.jsonOf(&sh, "shares", own)
	if len(sh.Readers) != 1 || len(sh.Writers) != 1 {
		t.Fatalf("shares --json: %+v", sh)
	}

	out = squash(c.ok("unshare", own, "carol"))
	wantIn(t, "unshare", out, "removed carol", "rotated its key (epoch 2): new versions are sealed against them; what they already fetched stays theirs", "readers: -")
	c.fails("not shared", "unshare", own, "carol")

	out = squash(c.ok("share", own, "--public"))
	wantIn(t, "share --public", out, "is public", "public: yes")
	wantIn(t, "unshare public", c.ok("unshare", own, "dave"), "it is public, so anyone may still fetch it")
}

// squash collapses the runs of spaces and newlines of out to one space, so
// that tests need not follow the alignment of tables.
func squash(out string) string { return strings.Join(strings.Fields(out), " ") }

func TestSubscribeAndFetchCommands(t *testing.T) {
	c, _ := newShareCLI(t, httpapitest.NewShare())
	in := httpapitest.InMiMei

	out := c.ok("shared")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "MIMEI") {
		t.Fatalf("shared: %q", out)
	}
	wantIn(t, "shared", lines[1], in, "carol", "notes", "no", "0")
	wantIn(t, "subscriptions", c.ok("subscriptions"), "no subscriptions")

	out = c.ok("subscribe", in)
	wantIn(t, "subscribe", out, "subscribed to "+in,
		"version 0: 4 blocks (4.0 MiB): 4 fetched, none already here", "version 1: 4 blocks")
	out = c.ok("subscriptions")
	wantIn(t, "subscriptions", out, "NEWEST", in, httpapitest.PersonaCarol, " 1 ")
	var subs []apiv1.Subscription
	c.jsonOf(&subs, "subscriptions")
	if len(subs) != 1 || subs[0].Have != 2 {
		t.Fatalf("subscriptions --json: %+v", subs)
	}
	wantIn(t, "shared after subscribing", c.ok("shared"), "yes")

	wantIn(t, "fetch with nothing new", c.ok("fetch", in), "no new versions")
	var res apiv1.FetchResult
	c.jsonOf(&res, "fetch", in, "--version", "0")
	if len(res.Versions) != 1 || res.Versions[0].Version != 0 {
		t.Fatalf("fetch --version 0 --json: %+v", res)
	}
	c.jsonOf(&res, "fetch", in)
	if res.Versions == nil {
		t.Fatal("fetch --json printed versions: null")
	}
	c.fails("not published", "fetch", in, "--version", "5")
	c.fails("name its owner", "fetch", httpapitest.PublicMiMei)
	wantIn(t, "fetch --owner", c.ok("fetch", httpapitest.PublicMiMei, "--owner", httpapitest.OwnerPublic), "version 0:")

	wantIn(t, "unsubscribe", c.ok("unsubscribe", in), "unsubscribed from "+in)
	c.fails("not subscribed", "unsubscribe", in)
}

func TestAccessCacheBranchesCommands(t *testing.T) {
	sh := httpapitest.NewShare()
	c, _ := newShareCLI(t, sh)
	own := httpapitest.OwnMiMei

	out := c.ok("access", own)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("access: %q", out)
	}
	wantIn(t, "access by a stranger", lines[1], " - ", httpapitest.PeerRelayed)
	wantIn(t, "access", lines[2], "carol", httpapitest.PeerAlice)
	if sh.LastLimit() != 100 {
		t.Errorf("access asked for %d entries, want 100", sh.LastLimit())
	}
	c.ok("access", own, "--limit", "1")
	if sh.LastLimit() != 1 {
		t.Errorf("access --limit 1 asked for %d entries", sh.LastLimit())
	}
	c.fails("--limit", "access", own, "--limit", "0")
	c.fails("--limit", "access", own, "--limit", "10001")

	wantIn(t, "cache", c.ok("cache"), "the cache is empty")
	if out := c.ok("--json", "cache"); strings.TrimSpace(out) != "[]" {
		t.Errorf("cache --json: %q, want []", out)
	}
	c.ok("fetch", httpapitest.PublicMiMei, "--owner", httpapitest.OwnerPublic)
	wantIn(t, "cache", c.ok("cache"), httpapitest.PublicMiMei, "4.0 MiB")

	wantIn(t, "branches", c.ok("branches", httpapitest.InMiMei), "VERSION", "7", httpapitest.PersonaDave, "edited offline")
	wantIn(t, "no branches", c.ok("branches", own), "no branches")
}

func TestShareCommandsNetworkOff(t *testing.T) {
	c, _ := newShareCLI(t, nil)
	for _, args := range [][]string{{"shared"}, {"share", httpapitest.OwnMiMei, "carol"}, {"subscribe", httpapitest.InMiMei}} {
		c.fails("without the peer-to-peer network", args...)
	}
}

// syncBuffer is a bytes.Buffer safe to write and read at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// awaitOutput waits until w holds all of want, or fails.
func awaitOutput(t *testing.T, w *syncBuffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing := ""
		for _, s := range want {
			if !strings.Contains(w.String(), s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress lacks %q:\n%q", missing, w.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFetchProgress(t *testing.T) {
	_, api := newShareCLI(t, httpapitest.NewShare())
	var w syncBuffer
	stop := watchFetchTo(api, httpapitest.InMiMei, &w)
	t.Cleanup(stop) // on failure: the server waits for the stream to end
	if _, err := api.Fetch(context.Background(), httpapitest.InMiMei, apiv1.FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	// Each version is drawn as it comes and cleared when it is in.
	last := "version 1  4/4 blocks  4.0 MiB / 4.0 MiB  100%"
	awaitOutput(t, &w, "\rversion 0  1/4 blocks  1.0 MiB / 4.0 MiB   25%",
		"\r"+last+"\r"+strings.Repeat(" ", len(last))+"\r")
	stop()
	// Another MiMei's progress is not drawn. Events arrive in order: once
	// version 1 of ours is drawn, the other's were seen and skipped.
	var w2 syncBuffer
	stop = watchFetchTo(api, httpapitest.InMiMei, &w2)
	t.Cleanup(stop)
	if _, err := api.Fetch(context.Background(), httpapitest.PublicMiMei, apiv1.FetchRequest{Owner: httpapitest.OwnerPublic}); err != nil {
		t.Fatal(err)
	}
	one := uint64(1)
	if _, err := api.Fetch(context.Background(), httpapitest.InMiMei, apiv1.FetchRequest{Version: &one}); err != nil {
		t.Fatal(err)
	}
	awaitOutput(t, &w2, "\r"+last+"\r")
	stop()
	if strings.Contains(w2.String(), "version 0") {
		t.Errorf("progress of another MiMei drawn: %q", w2.String())
	}
}

func TestLiveLine(t *testing.T) {
	var b bytes.Buffer
	l := &liveLine{w: &b}
	l.draw("version 1  10/20 blocks")
	l.draw("version 1  9/20")
	l.println("version 1 failed: gone")
	l.clear() // nothing drawn: nothing to clear
	want := "\rversion 1  10/20 blocks" + "\rversion 1  9/20        " + "\rversion 1 failed: gone\n"
	if b.String() != want {
		t.Fatalf("drew %q, want %q", b.String(), want)
	}
}

// TestSharedShowsRevoked: after the owner unshares, peer shared says the
// MiMei is revoked instead of still "subscribed".
func TestSharedShowsRevoked(t *testing.T) {
	sh := httpapitest.NewShare()
	c, _ := newShareCLI(t, sh)
	c.ok("subscribe", httpapitest.InMiMei)
	wantIn(t, "shared", c.ok("shared"), "yes")
	sh.Revoke(time.Now())
	out := c.ok("shared")
	wantIn(t, "shared after a revocation", out, "revoked", "1 revoked: the owner stopped sharing")
	if strings.Contains(out, " yes ") {
		t.Fatalf("still subscribed after a revocation:\n%s", out)
	}
	var l []apiv1.Incoming
	c.jsonOf(&l, "shared")
	if len(l) != 1 || l[0].Revoked == nil || l[0].Subscribed {
		t.Fatalf("shared --json: %+v", l)
	}
}
