// Package events is the node's in-process event bus: features publish typed
// events ("persona.created", later "transfer.progress", …) and the HTTP API
// streams them to consoles as server-sent events.
//
// It is a leaf package (standard library only); any layer may import it.
package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Event is one published event. Data is the JSON encoding of the value given
// to Publish.
type Event struct {
	ID   uint64
	Type string
	Time time.Time
	Data json.RawMessage
}

// Bus fans events out to subscribers. It keeps the last few events so a
// subscriber that reconnects can resume after the last ID it saw. A
// subscriber too slow to keep up is dropped (its channel closed) rather than
// slowing the publisher; it may resubscribe from its last ID.
type Bus struct {
	mu     sync.Mutex
	seq    uint64
	ring   []Event // the last len(ring) events, oldest first
	keep   int
	subs   map[*sub]struct{}
	closed bool
	now    func() time.Time
}

type sub struct {
	ch   chan Event
	typ  func(string) bool
	done bool
}

// DefaultKeep is how many past events a bus keeps for resuming subscribers.
const DefaultKeep = 256

// subBuffer is each subscriber's queue length before it is dropped.
const subBuffer = 64

// New returns a bus that keeps the last keep events (DefaultKeep if <= 0).
func New(keep int) *Bus {
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &Bus{keep: keep, subs: map[*sub]struct{}{}, now: time.Now}
}

// Publish sends an event of type typ with data encoded as JSON to every
// subscriber and returns it. A value that cannot be encoded is published
// with no data. Publishing on a closed bus is a no-op.
func (b *Bus) Publish(typ string, data any) Event {
	var raw json.RawMessage
	if data != nil {
		if enc, err := json.Marshal(data); err == nil {
			raw = enc
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Event{}
	}
	b.seq++
	ev := Event{ID: b.seq, Type: typ, Time: b.now().UTC(), Data: raw}
	if len(b.ring) == b.keep {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:len(b.ring)-1]
	}
	b.ring = append(b.ring, ev)
	for s := range b.subs {
		if s.typ != nil && !s.typ(typ) {
			continue
		}
		select {
		case s.ch <- ev:
		default: // too slow: drop it; it can resume from its last ID
			b.drop(s)
		}
	}
	return ev
}

func (b *Bus) drop(s *sub) {
	if !s.done {
		s.done = true
		close(s.ch)
		delete(b.subs, s)
	}
}

// Subscribe returns a channel of events published after the event with ID
// since (0: only new events; a since older than the kept history replays all
// that is kept). match, if not nil, filters by event type. The channel is
// closed when ctx ends, the bus closes, or the subscriber falls too far
// behind.
func (b *Bus) Subscribe(ctx context.Context, since uint64, match func(typ string) bool) <-chan Event {
	b.mu.Lock()
	s := &sub{ch: make(chan Event, subBuffer+b.keep), typ: match}
	if b.closed {
		close(s.ch)
		b.mu.Unlock()
		return s.ch
	}
	if since > 0 {
		for _, ev := range b.ring {
			if ev.ID > since && (match == nil || match(ev.Type)) {
				s.ch <- ev
			}
		}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.drop(s)
		b.mu.Unlock()
	}()
	return s.ch
}

// LastID is the ID of the newest event, 0 if none.
func (b *Bus) LastID() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// Close ends every subscription. Later publishes are ignored.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.drop(s)
	}
}
