package memnet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/netport"
)

// maxChunk bounds one buffered write, so that a bandwidth cap spreads a
// large write over time instead of delivering it in one piece.
const maxChunk = 32 << 10

var (
	errWriteClosed = errors.New("memnet: write on a stream closed for writing")
	errReadClosed  = errors.New("memnet: read on a closed stream")
	errReset       = fmt.Errorf("memnet: %w", netport.ErrReset)
)

// pair is one stream: two ends and a pipe per direction. End 0 opened it,
// end 1 is the handler's; pipes[i] carries what end i writes.
type pair struct {
	net      *Net
	c        *conn
	ends     [2]*stream
	pipes    [2]*pipe
	finished [2]bool // under Net.mu
}

func newPair(n *Net, c *conn, l *link, side int, from, to netport.PeerID) *pair {
	p := &pair{net: n, c: c}
	p.pipes[0] = newPipe(l, side)
	p.pipes[1] = newPipe(l, 1-side)
	p.ends[0] = &stream{p: p, i: 0, remote: to}
	p.ends[1] = &stream{p: p, i: 1, remote: from}
	return p
}

// stream is one end of a pair.
type stream struct {
	p      *pair
	i      int
	remote netport.PeerID
	addr   netport.Addr
	once   sync.Once
}

func (s *stream) in() *pipe  { return s.p.pipes[1-s.i] }
func (s *stream) out() *pipe { return s.p.pipes[s.i] }

func (s *stream) Read(b []byte) (int, error)  { return s.in().read(b) }
func (s *stream) Write(b []byte) (int, error) { return s.out().write(b) }
func (s *stream) Remote() netport.PeerID      { return s.remote }
func (s *stream) RemoteAddr() netport.Addr    { return s.addr }

// CloseWrite sends EOF after what was written; reading goes on.
func (s *stream) CloseWrite() error {
	s.out().closeWrite()
	return nil
}

// Close sends EOF and stops reading: what the other end still writes is
// discarded.
func (s *stream) Close() error {
	s.out().closeWrite()
	s.in().closeRead()
	s.finish()
	return nil
}

// Reset aborts both directions for both ends.
func (s *stream) Reset() error {
	s.p.pipes[0].reset(errReset)
	s.p.pipes[1].reset(errReset)
	s.finish()
	s.p.ends[1-s.i].finish()
	return nil
}

func (s *stream) finish() {
	s.once.Do(func() { s.p.net.done(s.p, s.i) })
}

func (s *stream) SetDeadline(t time.Time) error {
	s.in().setDeadline(t, true)
	s.out().setDeadline(t, false)
	return nil
}

func (s *stream) SetReadDeadline(t time.Time) error {
	s.in().setDeadline(t, true)
	return nil
}

func (s *stream) SetWriteDeadline(t time.Time) error {
	s.out().setDeadline(t, false)
	return nil
}

// pipe is one direction of a stream: a bounded buffer of chunks, each
// readable from its arrival time on.
type pipe struct {
	l    *link
	side int // the writer's side of l

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced on every change
	buf     []chunk
	n       int // bytes in buf
	eof     bool
	eofAt   time.Time
	discard bool  // the reader closed: writes are dropped
	err     error // reset
	rdl     time.Time
	wdl     time.Time
}

type chunk struct {
	b  []byte
	at time.Time
}

func newPipe(l *link, side int) *pipe {
	return &pipe{l: l, side: side, wake: make(chan struct{})}
}

// signal wakes every waiter; p.mu is held.
func (p *pipe) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// wait releases p.mu until p changes or until (if not zero) passes.
func (p *pipe) wait(until time.Time) {
	ch := p.wake
	p.mu.Unlock()
	defer p.mu.Lock()
	if until.IsZero() {
		<-ch
		return
	}
	d := time.Until(until)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// earliest is the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.err != nil:
			return 0, p.err
		case p.discard:
			return 0, errReadClosed
		}
		now := time.Now()
		if !p.rdl.IsZero() && !now.Before(p.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
		if len(b) == 0 {
			return 0, nil
		}
		var until time.Time
		switch {
		case len(p.buf) > 0 && !p.buf[0].at.After(now):
			n := 0
			for len(p.buf) > 0 && n < len(b) && !p.buf[0].at.After(now) {
				c := &p.buf[0]
				k := copy(b[n:], c.b)
				n += k
				c.b = c.b[k:]
				if len(c.b) == 0 {
					p.buf[0] = chunk{}
					p.buf = p.buf[1:]
				}
			}
			p.n -= n
			p.signal()
			return n, nil
		case len(p.buf) > 0:
			until = p.buf[0].at
		case p.eof:
			if !p.eofAt.After(now) {
				return 0, io.EOF
			}
			until = p.eofAt
		}
		p.wait(earliest(until, p.rdl))
	}
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	for {
		switch {
		case p.err != nil:
			return total, p.err
		case p.eof:
			return total, errWriteClosed
		}
		now := time.Now()
		if !p.wdl.IsZero() && !now.Before(p.wdl) {
			return total, os.ErrDeadlineExceeded
		}
		if len(b) == 0 {
			return total, nil
		}
		if p.discard {
			p.l.count(p.side, len(b))
			return total + len(b), nil
		}
		if space := Window - p.n; space > 0 {
			k := min(space, len(b), maxChunk)
			at := p.l.schedule(p.side, k, now)
			if last := len(p.buf) - 1; last >= 0 && at.Before(p.buf[last].at) {
				at = p.buf[last].at // keep the order if the latency was lowered
			}
			p.buf = append(p.buf, chunk{b: append([]byte(nil), b[:k]...), at: at})
			p.n += k
			total += k
			b = b[k:]
			p.signal()
			continue
		}
		p.wait(p.wdl)
	}
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eof || p.err != nil {
		return
	}
	p.eof = true
	p.eofAt = time.Now().Add(p.l.delay())
	if last := len(p.buf) - 1; last >= 0 && p.buf[last].at.After(p.eofAt) {
		p.eofAt = p.buf[last].at
	}
	p.signal()
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discard || p.err != nil {
		return
	}
	p.discard = true
	p.buf, p.n = nil, 0
	p.signal()
}

func (p *pipe) reset(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	p.err = err
	p.buf, p.n = nil, 0
	p.signal()
}

func (p *pipe) setDeadline(t time.Time, read bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if read {
		p.rdl = t
	} else {
		p.wdl = t
	}
	p.signal()
}
