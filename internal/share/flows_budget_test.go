package share

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/kv"
)

// What a stranger can make the owner of a public MiMei store: the block
// exchange refuses Wants that repeat a CID, and the access log writes one
// entry per version and reader per window, at most MaxAccessEntries.

// kvKeys counts the keys of a store: the node's disk use, as far as the
// sharing state goes.
func kvKeys(t *testing.T, s kv.Store) int {
	t.Helper()
	it := s.Iter(kv.IterOptions{})
	n := 0
	for it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *testNode) countEvents(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, k := range n.events {
		if k == kind {
			c++
		}
	}
	return c
}

// TestFlowsStrangerFloodsWants: a stranger sends 400 Wants each naming a
// public MiMei's manifest 256 times, then 400 well-formed Wants for it.
// The first are refused (the stream reset, each counted as a bad request)
// and write nothing; the others are served and write one access-log entry
// and one share.access event in all.
func TestFlowsStrangerFloodsWants(t *testing.T) {
	w := newNetWorld(t)
	a := w.node(t, 1, netNodeOptions{})
	c := w.node(t, 3, netNodeOptions{stranger: true})
	ctx := ctxT(t)
	id := a.newNotes(t, true, map[string][]byte{"pub.txt": []byte("public\n")})
	head := a.publish(t, w.world, id, "0")
	manifest := head.Manifest.Bytes()
	keysBefore := kvKeys(t, a.kv)
	eventsBefore := a.countEvents("share.access")

	const wants = 400
	dup, err := codec.Marshal(&exchange.Want{MiMei: id.String(), CIDs: slices.Repeat([][]byte{manifest}, exchange.MaxWantCIDs)})
	if err != nil {
		t.Fatal(err)
	}
	badBefore := a.flows.ExchangeStats().BadRequests
	for i := range wants {
		st, err := c.port.NewStream(ctx, a.port.Self(), exchange.ProtoBlocks)
		if err != nil {
			t.Fatalf("want %d: %v", i, err)
		}
		st.SetDeadline(time.Now().Add(10 * time.Second))
		if err := codec.WriteFrame(st, dup); err != nil {
			st.Reset()
			t.Fatalf("want %d: %v", i, err)
		}
		_, err = io.ReadAll(st)
		st.Reset()
		if err == nil {
			t.Fatalf("want %d of a repeated CID was answered", i)
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("want %d: the server did not reset the stream: %v", i, err)
		}
	}
	if got := a.flows.ExchangeStats().BadRequests - badBefore; got != wants {
		t.Fatalf("bad requests +%d, want %d", got, wants)
	}
	if log, err := a.svc.AccessLog(id, 0); err != nil || len(log) != 0 {
		t.Fatalf("refused Wants left an access log: %d entries (%v)", len(log), err)
	}

	// Well-formed Wants, all on one stream: served, logged once.
	st, err := c.port.NewStream(ctx, a.port.Self(), exchange.ProtoBlocks)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(20 * time.Second))
	bw := bufio.NewWriter(st)
	go func() {
		for range wants {
			if exchange.WriteWant(bw, &exchange.Want{MiMei: id.String(), CIDs: [][]byte{manifest}}) != nil {
				return
			}
		}
		if bw.Flush() == nil {
			st.CloseWrite()
		}
	}()
	br := bufio.NewReader(st)
	for i := range wants {
		blk, err := exchange.ReadBlock(br)
		if err != nil || blk.Status != exchange.StatusOK {
			t.Fatalf("block %d: %+v %v", i, blk, err)
		}
	}
	log, err := a.svc.AccessLog(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Persona != "" || log[0].Peer != string(c.port.Self()) {
		t.Fatalf("access log after %d fetches of the manifest: %+v, want one entry for the stranger", wants, log)
	}
	if got := a.countEvents("share.access") - eventsBefore; got != 1 {
		t.Fatalf("%d share.access events, want 1", got)
	}
	if grown := kvKeys(t, a.kv) - keysBefore; grown > 1 {
		t.Fatalf("the flood added %d keys to the owner's store, want at most 1", grown)
	}
}

// TestAccessLogBudget: one entry per version and reader per AccessWindow;
// a new one after the window; at most MaxAccessEntries per MiMei, the
// oldest removed first, however many throwaway peer IDs ask.
func TestAccessLogBudget(t *testing.T) {
	w := newWorld()
	a := w.node(t, 1, nodeOptions{})
	id := a.create(t, true)
	a.put(t, id, "f.txt", []byte("x"))
	a.backup(t, id)
	head := a.publish(t, w, id, "0")
	mid := id.String()
	fetch := func(persona, peer string) {
		t.Helper()
		if err := a.svc.Authorize(persona, peer, mid, head.Manifest); err != nil {
			t.Fatal(err)
		}
	}
	entries := func() []Access {
		t.Helper()
		log, err := a.svc.AccessLog(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		return log
	}

	for range 50 {
		fetch("", "stranger")
	}
	if n := len(entries()); n != 1 {
		t.Fatalf("%d entries for 50 fetches in one window, want 1", n)
	}
	// Two devices of one persona are one reader.
	fetch("did:key:bob", "bob-phone")
	fetch("did:key:bob", "bob-laptop")
	if n := len(entries()); n != 2 {
		t.Fatalf("%d entries after one persona's two devices, want 2", n)
	}
	w.clock.ms.Add(int64(AccessWindow / time.Millisecond))
	fetch("", "stranger")
	if n := len(entries()); n != 3 {
		t.Fatalf("%d entries after the window passed, want 3", n)
	}

	// A flood of throwaway peer IDs: bounded, newest kept.
	const flood = MaxAccessEntries + 200
	for i := range flood {
		fetch("", fmt.Sprintf("throwaway-%d", i))
	}
	log := entries()
	if len(log) != MaxAccessEntries {
		t.Fatalf("%d entries after %d throwaway peers, want %d", len(log), flood, MaxAccessEntries)
	}
	if first, last := log[0].Peer, log[len(log)-1].Peer; first != fmt.Sprintf("throwaway-%d", flood-MaxAccessEntries) || last != fmt.Sprintf("throwaway-%d", flood-1) {
		t.Fatalf("kept %s .. %s, want the newest %d", first, last, MaxAccessEntries)
	}
	a.svc.alMu.Lock()
	seen := len(a.svc.alSeen)
	a.svc.alMu.Unlock()
	if seen > maxAccessSeen {
		t.Fatalf("%d readers remembered, bound %d", seen, maxAccessSeen)
	}
}
