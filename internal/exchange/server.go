// Package exchange moves blocks between peers over streams of the network port: the
// block exchange protocol /peer/blocks/1.0.0 (see wire.go and
// docs/exchange.md).
//
// A Server answers Wants from the local block store, asking an Authorize
// hook about every block and limiting to a byte rate each remote party
// (its persona, when the caller says which devices belong together, else
// its peer ID), each remote address (so that throwaway peer IDs from one
// place share one budget) and all of them together.
// Fetch walks a DAG from its roots, skips what the local store already has
// (so an interrupted transfer resumes where it stopped), asks every provider
// at once from one shared queue with a window of outstanding blocks per
// provider, verifies every block against its CID before storing it, and
// moves work away from providers that fail, lie or lack a block.
//
// exchange reaches the network only through the port (internal/netport), so
// capabilities may use it; it never imports libp2p.
package exchange

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/netport"
)

// ServerConfig configures a Server. The zero value serves nothing (every
// block is denied) with no rate limit and the default stream limit.
type ServerConfig struct {
	// Authorize says whether remote may have block c of object mimei; a
	// non-nil error denies that block. Nil denies everything.
	Authorize func(remote netport.PeerID, mimei string, c cid.CID) error
	// RateBytesPerSec limits the block bytes sent to each remote party,
	// over all its streams together: to the devices RateKey gives one key,
	// together, and to each other device on its own. 0: unlimited.
	RateBytesPerSec int64
	// RateKey names the party a remote device belongs to (the sharing
	// capability gives the devices of a known persona the persona's ID),
	// so that a persona with many devices has one budget. Nil, or "" for
	// a device: the device is its own party (a stranger).
	RateKey func(remote netport.PeerID) string
	// Unlimited, if set, names remote devices that none of the rate
	// limits apply to (the sharing capability names our own devices:
	// the limits protect the uplink from others).
	Unlimited func(remote netport.PeerID) bool
	// AddrBytesPerSec limits the block bytes sent to all remote devices
	// at one address together (netport.Addr.Source: one IPv4 address, one
	// IPv6 /64, or what comes through one relay), so that many peer IDs
	// from one place share one budget. A stream whose address is unknown
	// is not counted here. 0: unlimited.
	AddrBytesPerSec int64
	// TotalBytesPerSec limits the block bytes sent to all remote peers
	// together, so that many peers (or one peer under many IDs and
	// addresses) cannot take more of the uplink than this. 0: unlimited.
	TotalBytesPerSec int64
	// MaxStreamsPerPeer bounds the concurrent streams of one remote peer;
	// more are reset. 0: 8.
	MaxStreamsPerPeer int
	// IdleTimeout is how long a stream may wait for its next Want before it
	// is reset. 0: 5 minutes.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Releaser may be implemented by the store a Server serves from: Release
// is called with the data of each block Get returned once the server is
// done with it (sent, or dropped because the stream failed), so the store
// can reuse the buffer. The server keeps no reference to data afterwards.
type Releaser interface {
	Release(data []byte)
}

// Stats counts what a Server did since it started.
type Stats struct {
	BlocksServed int64 // blocks sent with StatusOK
	BytesServed  int64 // their data bytes
	Denied       int64 // blocks answered StatusDenied
	Missing      int64 // blocks answered StatusMissing
	Streams      int64 // streams accepted
	Rejected     int64 // streams reset for exceeding MaxStreamsPerPeer
	BadRequests  int64 // streams reset for a malformed or oversized Want
}

// Server serves blocks on a host.
type Server struct {
	h     netport.Network
	store blockstore.Getter
	rel   Releaser // store's, if it has one
	cfg   ServerConfig
	log   *slog.Logger
	total *bucket // all peers together; nil: unlimited

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	peers   map[netport.PeerID]*peerState
	parties *limitTable // RateBytesPerSec by party; nil: unlimited
	addrs   *limitTable // AddrBytesPerSec by source; nil: unlimited
	streams map[netport.Stream]struct{}
	closed  bool

	blocks, bytes, denied, missing, accepted, rejected, badReqs atomic.Int64
}

// peerState is what all streams of one remote peer share.
type peerState struct {
	streams int
}

// streamLimits are the limits a stream holds: the buckets every block it
// sends waits on, in order, and the table entries to let go of.
type streamLimits struct {
	party, addr *limit    // nil: not limited so
	buckets     []*bucket // party's, address's, total
}

// NewServer registers the block exchange handler on h, serving from store.
func NewServer(h netport.Network, store blockstore.Getter, cfg ServerConfig) *Server {
	return newServer(h, store, cfg, time.Now)
}

// newServer is NewServer with the clock of its rate buckets (tests).
func newServer(h netport.Network, store blockstore.Getter, cfg ServerConfig, now func() time.Time) *Server {
	if cfg.MaxStreamsPerPeer <= 0 {
		cfg.MaxStreamsPerPeer = 8
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	cfg.RateBytesPerSec = max(cfg.RateBytesPerSec, 0)
	cfg.TotalBytesPerSec = max(cfg.TotalBytesPerSec, 0)
	cfg.AddrBytesPerSec = max(cfg.AddrBytesPerSec, 0)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rel, _ := store.(Releaser)
	s := &Server{h: h, store: store, rel: rel, cfg: cfg, log: log,
		peers: map[netport.PeerID]*peerState{}, streams: map[netport.Stream]struct{}{}}
	if cfg.TotalBytesPerSec > 0 {
		s.total = newBucket(cfg.TotalBytesPerSec)
		s.total.now, s.total.last = now, now()
	}
	if cfg.RateBytesPerSec > 0 {
		s.parties = newLimitTable(cfg.RateBytesPerSec, now)
	}
	if cfg.AddrBytesPerSec > 0 {
		s.addrs = newLimitTable(cfg.AddrBytesPerSec, now)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	h.Handle(ProtoBlocks, s.handle)
	return s
}

// Close removes the handler, resets the streams being served and waits for
// their handlers to return.
func (s *Server) Close() error {
	s.h.Handle(ProtoBlocks, nil)
	s.cancel()
	s.mu.Lock()
	s.closed = true
	for st := range s.streams {
		st.Reset()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		BlocksServed: s.blocks.Load(),
		BytesServed:  s.bytes.Load(),
		Denied:       s.denied.Load(),
		Missing:      s.missing.Load(),
		Streams:      s.accepted.Load(),
		Rejected:     s.rejected.Load(),
		BadRequests:  s.badReqs.Load(),
	}
}

// Keys of the party table: a party named by RateKey, or a device on its
// own; apart, so that no peer ID can pass for a persona.
const (
	partyKeyPrefix  = "party "
	deviceKeyPrefix = "device "
)

// partyKey is the key remote's bytes are counted under for
// RateBytesPerSec.
func (s *Server) partyKey(remote netport.PeerID) string {
	if s.cfg.RateKey != nil {
		if k := s.cfg.RateKey(remote); k != "" {
			return partyKeyPrefix + k
		}
	}
	return deviceKeyPrefix + string(remote)
}

// admit registers a stream and takes its limits, or says no when the
// server is closed or the peer has too many streams.
func (s *Server) admit(st netport.Stream) (*streamLimits, bool) {
	remote := st.Remote()
	var party, source string
	free := s.cfg.Unlimited != nil && s.cfg.Unlimited(remote) // outside the lock: these may look things up
	if s.parties != nil && !free {
		party = s.partyKey(remote)
	}
	if s.addrs != nil && !free {
		source = st.RemoteAddr().Source()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	ps := s.peers[remote]
	if ps == nil {
		ps = &peerState{}
		s.peers[remote] = ps
	}
	if ps.streams >= s.cfg.MaxStreamsPerPeer {
		return nil, false
	}
	ps.streams++
	// The party's limit first, then the address's, then the total: a
	// stream waiting on its own limit holds no tokens of the wider ones.
	sl := &streamLimits{}
	if party != "" {
		sl.party = s.parties.acquire(party)
		sl.buckets = append(sl.buckets, sl.party.bucket)
	}
	if source != "" {
		sl.addr = s.addrs.acquire(source)
		sl.buckets = append(sl.buckets, sl.addr.bucket)
	}
	if s.total != nil && !free {
		sl.buckets = append(sl.buckets, s.total)
	}
	s.streams[st] = struct{}{}
	s.wg.Add(1)
	return sl, true
}

func (s *Server) release(st netport.Stream, sl *streamLimits) {
	remote := st.Remote()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, st)
	if ps := s.peers[remote]; ps != nil {
		if ps.streams--; ps.streams <= 0 {
			delete(s.peers, remote)
		}
	}
	if sl.party != nil {
		s.parties.release(sl.party)
	}
	if sl.addr != nil {
		s.addrs.release(sl.addr)
	}
	s.wg.Done()
}

// serveAhead is how many loaded blocks of one stream may wait for the
// writer. With the block being written and the one being loaded, a stream
// holds at most serveAhead+2 blocks in memory.
const serveAhead = 1

// handle serves one stream with two goroutines: this one reads Wants and
// loads their blocks (Authorize, then Get, which hashes the block) while a
// writer sends the blocks already loaded, so loading block n+1 overlaps
// sending block n.
func (s *Server) handle(st netport.Stream) {
	sl, ok := s.admit(st)
	if !ok {
		s.rejected.Add(1)
		st.Reset()
		return
	}
	defer s.release(st, sl)
	s.accepted.Add(1)
	sw := &streamWriter{s: s, st: st, buckets: sl.buckets, remote: st.Remote(),
		w:      bufio.NewWriterSize(st, 64<<10),
		blocks: make(chan Block, serveAhead),
		failed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go sw.run()
	clean := s.read(sw)
	if !clean {
		st.Reset() // so that the writer does not wait on this client
	}
	close(sw.blocks)
	<-sw.done
	for blk := range sw.blocks { // left behind by a writer that failed
		s.releaseBlock(&blk)
	}
	if clean && sw.err == nil {
		st.Close()
	} else {
		st.Reset()
	}
}

// read reads Wants and hands their blocks to the writer until the client
// closes its side (true) or something fails (false).
func (s *Server) read(sw *streamWriter) bool {
	r := newReader(sw.st)
	for {
		sw.idle(0)
		want, err := ReadWant(r)
		if err != nil {
			if err == io.EOF {
				return true
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, netport.ErrReset) {
				select {
				case <-sw.failed: // the writer reset the stream
				default:
					s.badReqs.Add(1)
				}
			}
			s.log.Debug("exchange: bad want", "peer", sw.remote, "err", err)
			return false
		}
		for _, raw := range want.CIDs {
			blk, err := s.load(sw.remote, want.MiMei, raw)
			if err != nil {
				return false
			}
			sw.idle(1)
			select {
			case sw.blocks <- blk:
			case <-sw.failed:
				s.releaseBlock(&blk)
				return false
			}
		}
	}
}

// releaseBlock gives a block's data back to the store once it is sent or
// dropped.
func (s *Server) releaseBlock(blk *Block) {
	if s.rel != nil && blk.Data != nil {
		s.rel.Release(blk.Data)
	}
	blk.Data = nil
}

// load answers one CID of a Want. It fails only when the server closes.
func (s *Server) load(remote netport.PeerID, mimei string, raw []byte) (Block, error) {
	c, _ := cid.Cast(raw) // checked by ParseWant
	blk := Block{CID: raw, Status: StatusOK}
	if s.cfg.Authorize == nil || s.cfg.Authorize(remote, mimei, c) != nil {
		blk.Status = StatusDenied
	} else if data, err := s.store.Get(s.ctx, c); err != nil {
		if s.ctx.Err() != nil {
			return blk, s.ctx.Err()
		}
		if !blockstore.IsNotFound(err) {
			s.log.Warn("exchange: reading block", "cid", c, "err", err)
		}
		blk.Status = StatusMissing
	} else if len(data) > blockstore.MaxBlockSize {
		blk.Data = data
		s.releaseBlock(&blk)
		blk.Status = StatusMissing
	} else {
		blk.Data = data
	}
	return blk, nil
}

// streamWriter writes the blocks of one stream, in the order loaded.
type streamWriter struct {
	s       *Server
	st      netport.Stream
	buckets []*bucket // every block sent waits on each, in order
	remote  netport.PeerID
	w       *bufio.Writer
	blocks  chan Block
	failed  chan struct{} // closed when writing fails
	done    chan struct{} // closed when run returns
	err     error         // why writing failed; read after done

	mu      sync.Mutex
	pending int // blocks loaded and not yet written
}

// idle adds n to the blocks pending and sets the read deadline: the idle
// timeout runs only while the server owes the client nothing, so a client
// waiting for blocks it asked for (behind a rate limit, say) is not cut
// off. A client that stops reading is cut off by the write deadline.
func (sw *streamWriter) idle(n int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.pending += n
	if sw.pending == 0 {
		sw.st.SetReadDeadline(time.Now().Add(sw.s.cfg.IdleTimeout))
	} else {
		sw.st.SetReadDeadline(time.Time{})
	}
}

func (sw *streamWriter) run() {
	defer close(sw.done)
	for blk := range sw.blocks {
		err := sw.write(&blk)
		sw.s.releaseBlock(&blk)
		if err != nil {
			sw.s.log.Debug("exchange: answering", "peer", sw.remote, "err", err)
			sw.err = err
			sw.st.Reset() // unblocks the reader
			close(sw.failed)
			return
		}
		sw.idle(-1)
	}
	if err := sw.w.Flush(); err != nil {
		sw.err = err
	}
}

// write sends one Block, and flushes when no further block is ready, so
// consecutive blocks share writes but a client never waits for a buffer to
// fill.
func (sw *streamWriter) write(blk *Block) error {
	s := sw.s
	if blk.Status == StatusOK && len(sw.buckets) > 0 {
		// Send what is buffered before waiting, so the client is not
		// kept from blocks it was already given.
		if err := sw.w.Flush(); err != nil {
			return err
		}
		for _, b := range sw.buckets {
			if err := b.wait(s.ctx, len(blk.Data)); err != nil {
				return err
			}
		}
	}
	// A client that stops reading is cut off after IdleTimeout.
	sw.st.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if err := WriteBlock(sw.w, blk); err != nil {
		return err
	}
	switch blk.Status {
	case StatusOK:
		s.blocks.Add(1)
		s.bytes.Add(int64(len(blk.Data)))
	case StatusDenied:
		s.denied.Add(1)
	case StatusMissing:
		s.missing.Add(1)
	}
	if len(sw.blocks) == 0 {
		return sw.w.Flush()
	}
	return nil
}
