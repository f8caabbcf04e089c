package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
)

// HolePunchStats counts DCUtR hole punches since the host started, on
// either side (the peer that asked and the peer that was asked).
type HolePunchStats struct {
	Succeeded int       // hole punches that ended in a direct connection
	Failed    int       // hole punches that gave up (the connection stays relayed)
	LastPeer  string    // peer of the latest finished hole punch
	LastError string    // its error, "" when it succeeded
	Last      time.Time // when it finished; zero if none has
}

// HolePunchResult reports one finished hole punch: err is nil when a
// direct connection to p was made.
type HolePunchResult struct {
	Peer    peer.ID
	Success bool
	Error   string
	Elapsed time.Duration
}

// hpTracer follows libp2p's hole-punch events for Status and for
// Options.OnHolePunch.
type hpTracer struct {
	notify func(HolePunchResult)

	mu sync.Mutex
	st HolePunchStats
}

var _ holepunch.EventTracer = (*hpTracer)(nil)

func (t *hpTracer) Trace(evt *holepunch.Event) {
	e, ok := evt.Evt.(*holepunch.EndHolePunchEvt)
	if !ok {
		return
	}
	t.mu.Lock()
	if e.Success {
		t.st.Succeeded++
	} else {
		t.st.Failed++
	}
	t.st.LastPeer, t.st.LastError, t.st.Last = evt.Remote.String(), e.Error, time.Unix(0, evt.Timestamp)
	t.mu.Unlock()
	if t.notify != nil {
		t.notify(HolePunchResult{Peer: evt.Remote, Success: e.Success, Error: e.Error, Elapsed: e.EllapsedTime})
	}
}

func (t *hpTracer) stats() HolePunchStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}
