// Package discovery finds where a persona's devices are and serves what this
// node knows, without a centre: identity records (internal/idrecord) are
// published in the DHT and registered with any index peers, served to any
// peer that asks a device for its own record, and shared with contacts who
// ask "where is X?". Resolve asks every source at once, takes the first
// valid record, lets the others refresh the cache, and falls back to a cached
// record that has not expired.
//
// Three stream protocols live here, each one framed request and one framed
// response (see wire.go and docs/discovery.md): /peer/id/1.0.0,
// /peer/whereis/1.0.0 and /peer/index/1.0.0.
//
// discovery is an edge package under p2p: it uses the libp2p host
// directly, and speaks netport.PeerID to its callers, so the composition
// root (internal/node), which wires it, never names a libp2p type. Only
// node, the API backend (for its errors) and tests import it.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/netport"
)

// DHT is the part of the DHT that discovery uses.
type DHT interface {
	PutValue(ctx context.Context, key string, val []byte) error
	GetValue(ctx context.Context, key string) ([]byte, error)
}

// Config configures a Service. Host is required; the rest default.
type Config struct {
	Host host.Host
	// Connect dials a device of a record that Connect found (default:
	// Host.Connect). The node passes one that also confirms the other side
	// kept the connection (p2p.Host.Connect), so a device that refuses us
	// counts as unreachable.
	Connect func(ctx context.Context, ai peer.AddrInfo) error
	// DHT, if set, is a source and a publication target.
	DHT DHT
	// Indexes are index peers (see ParseIndexes): records are registered
	// with each and lookups ask each.
	Indexes []peer.AddrInfo
	// ServeIndex makes this node an index peer.
	ServeIndex bool
	// IsContact says whether a peer is a device of a contact: only they get
	// answers to "where is X?". Nil: nobody.
	IsContact func(netport.PeerID) bool
	// Contacts lists the devices of contacts to ask "where is X?" (IDs
	// that are not libp2p peer IDs are skipped). Nil: nobody is asked.
	Contacts func() []netport.PeerID
	// Validator checks records (its clock and revocation list).
	Validator idrecord.Validator
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Timeout bounds each source's answer (default 10 s).
	Timeout time.Duration
	// MaxIndexEntries bounds an index's registrations (default 10 000).
	MaxIndexEntries int
	// MaxIndexPerPeer bounds the personas one device may have registered
	// with an index at once (default DefaultMaxIndexPerPeer).
	MaxIndexPerPeer int
	// MaxIndexPerAddr bounds an index's registrations from one address,
	// an IPv4 address or an IPv6 /64 (default DefaultMaxIndexPerAddr).
	MaxIndexPerAddr int
	// MaxCacheEntries bounds the record cache (default
	// DefaultMaxCacheEntries); a quarter of it at most holds records that
	// peers other than contacts served unasked.
	MaxCacheEntries int
	// IndexTTL is how long an index keeps a registration unless the record
	// expires sooner (default 1 h); registrants refresh well before.
	IndexTTL time.Duration
	Logger   *slog.Logger
}

// Errors callers branch on.
var (
	// ErrNotFound: no source knows the persona.
	ErrNotFound = errors.New("discovery: persona not found")
	// ErrUnreachable: the persona's record was found but none of its
	// devices could be connected to.
	ErrUnreachable = errors.New("discovery: no device of the persona is reachable")
)

// cacheFresh is how long a cached record answers Resolve without asking
// the sources again.
const cacheFresh = time.Minute

// maxContactsAsked bounds the contacts asked per lookup.
const maxContactsAsked = 8

// Result is a resolved record and where it came from.
type Result struct {
	Record *idrecord.Record
	Raw    []byte
	Source string // "cache", "dht", "index <peer>", "contact <peer>", "peer <peer>"
	At     time.Time
}

// Service is the discovery service of one node.
type Service struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	own    []byte
	cache  *recordCache
	index  map[string]indexEntry
	budget indexBudget

	bg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type indexEntry struct {
	rec        *idrecord.Record
	raw        []byte
	expires    time.Time
	registered time.Time
	peer       peer.ID // the device that registered it
	addr       string  // its source address (addrKey)
}

// ParseIndexes reads index peers from multiaddrs with /p2p/<peer ID> (the
// network.indexes setting) for Config.Indexes.
func ParseIndexes(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}

// New starts the service and registers its stream handlers on the host.
func New(cfg Config) (*Service, error) {
	if cfg.Host == nil {
		return nil, errors.New("discovery: no host")
	}
	if cfg.Connect == nil {
		cfg.Connect = cfg.Host.Connect
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Validator.Now == nil {
		cfg.Validator.Now = cfg.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxIndexEntries <= 0 {
		cfg.MaxIndexEntries = 10000
	}
	if cfg.IndexTTL <= 0 {
		cfg.IndexTTL = time.Hour
	}
	if cfg.MaxIndexPerPeer <= 0 {
		cfg.MaxIndexPerPeer = DefaultMaxIndexPerPeer
	}
	if cfg.MaxIndexPerAddr <= 0 {
		cfg.MaxIndexPerAddr = DefaultMaxIndexPerAddr
	}
	if cfg.MaxCacheEntries <= 0 {
		cfg.MaxCacheEntries = DefaultMaxCacheEntries
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: log, cache: newRecordCache(cfg.MaxCacheEntries), index: map[string]indexEntry{},
		budget: indexBudget{byPeer: map[peer.ID]int{}, byAddr: map[string]int{}}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cfg.Host.SetStreamHandler(ProtoID, s.handle(s.serveID))
	cfg.Host.SetStreamHandler(ProtoWhereIs, s.handle(s.serveWhereIs))
	if cfg.ServeIndex {
		cfg.Host.SetStreamHandler(ProtoIndex, s.handleConn(s.serveIndex))
	}
	return s, nil
}

// Close removes the handlers and waits for background lookups.
func (s *Service) Close() error {
	for _, p := range []protocol.ID{ProtoID, ProtoWhereIs, ProtoIndex} {
		s.cfg.Host.RemoveStreamHandler(p)
	}
	s.cancel()
	s.bg.Wait()
	return nil
}

// SetOwnRecord sets the record this node serves for its own persona.
func (s *Service) SetOwnRecord(raw []byte) error {
	rec, err := s.validate("", raw)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.own = raw
	s.mu.Unlock()
	s.remember(Result{Record: rec, Raw: raw, Source: "self", At: s.cfg.Now()}, false)
	return nil
}

// PublishReport says which targets took a record.
type PublishReport struct {
	DHT     error            // nil: stored (or no DHT: see HaveDHT)
	HaveDHT bool             // a DHT is configured
	Indexes map[string]error // index peer ID -> nil when registered
}

// Publish serves raw as this node's own record, puts it in the DHT and
// registers it with every index peer. It fails only if no target took it.
func (s *Service) Publish(ctx context.Context, raw []byte) (PublishReport, error) {
	rep := PublishReport{Indexes: map[string]error{}, HaveDHT: s.cfg.DHT != nil}
	if err := s.SetOwnRecord(raw); err != nil {
		return rep, err
	}
	rec, _ := idrecord.Parse(raw)
	key, err := idrecord.Key(rec.Persona)
	if err != nil {
		return rep, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	if s.cfg.DHT != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*s.cfg.Timeout)
			defer cancel()
			err := s.cfg.DHT.PutValue(cctx, key, raw)
			mu.Lock()
			rep.DHT = err
			mu.Unlock()
		}()
	}
	for _, ix := range s.cfg.Indexes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ask(ctx, ix, ProtoIndex, &Request{Version: WireVersion, Op: OpRegister, Record: raw})
			mu.Lock()
			rep.Indexes[ix.ID.String()] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	ok := len(s.cfg.Indexes) == 0 && s.cfg.DHT == nil // nowhere to publish: served on request only
	var errs []error
	if s.cfg.DHT != nil {
		if rep.DHT == nil {
			ok = true
		} else {
			errs = append(errs, fmt.Errorf("dht: %w", rep.DHT))
		}
	}
	for id, err := range rep.Indexes {
		if err == nil {
			ok = true
		} else {
			errs = append(errs, fmt.Errorf("index %s: %w", id, err))
		}
	}
	if !ok {
		return rep, fmt.Errorf("discovery: publish: %w", errors.Join(errs...))
	}
	return rep, nil
}

// Cached returns the cached record of persona, if any and unexpired.
func (s *Service) Cached(persona string) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache.get(persona)
	if !ok || !s.cfg.Now().Before(e.r.Record.Expires) {
		return Result{}, false
	}
	return e.r, true
}

// CacheSize is the number of records cached.
func (s *Service) CacheSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache.len()
}

// Learn validates raw and caches it (if newer than what is cached).
func (s *Service) Learn(raw []byte, source string) (*idrecord.Record, error) {
	rec, err := s.validate("", raw)
	if err != nil {
		return nil, err
	}
	s.remember(Result{Record: rec, Raw: raw, Source: source, At: s.cfg.Now()}, false)
	return rec, nil
}

// remember caches r; stranger says a peer other than a contact served it
// unasked (its cache class is the smaller one).
func (s *Service) remember(r Result, stranger bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache.m[r.Record.Persona]
	if ok {
		stranger = stranger && e.stranger // once asked for, a persona stays in the asked class
		if idrecord.Newer(e.r.Record, r.Record) {
			at := r.At
			r = e.r
			r.At = at // a source confirmed what we have: fresh again
		}
	}
	s.cache.put(r, stranger)
}

// validate parses and verifies raw; if persona is set, the record must be
// that persona's.
func (s *Service) validate(persona string, raw []byte) (*idrecord.Record, error) {
	rec, err := idrecord.Parse(raw)
	if err != nil {
		return nil, err
	}
	if persona != "" && rec.Persona != persona {
		return nil, fmt.Errorf("%w: record of %s, asked for %s", idrecord.ErrWrongKey, rec.Persona, persona)
	}
	key, err := idrecord.Key(rec.Persona)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Validator.Validate(key, raw); err != nil {
		return nil, err
	}
	return rec, nil
}

// Resolve finds persona's current record: from the cache when it was
// confirmed within the last minute, else from every source at once (the
// first valid answer is returned; later, newer ones update the cache), else
// from an unexpired cached record.
func (s *Service) Resolve(ctx context.Context, persona string) (Result, error) {
	return s.resolve(ctx, persona, false)
}

// resolve is Resolve; with newest it skips the cache and waits for every
// source (within the timeout) to return the newest record any of them has.
func (s *Service) resolve(ctx context.Context, persona string, newest bool) (Result, error) {
	key, err := idrecord.Key(persona)
	if err != nil {
		return Result{}, err
	}
	if r, ok := s.Cached(persona); ok && !newest && s.cfg.Now().Sub(r.At) < cacheFresh {
		r.Source = "cache"
		return r, nil
	}
	type answer struct {
		r   Result
		err error
	}
	sources := s.sources(key, persona)
	if len(sources) == 0 {
		if r, ok := s.Cached(persona); ok && !newest {
			r.Source = "cache"
			return r, nil
		}
		return Result{}, fmt.Errorf("%w: %s (no sources: no DHT, index or connected contact)", ErrNotFound, persona)
	}
	answers := make(chan answer, len(sources))
	// Sources run on the service's context, so that slower answers still
	// refresh the cache after Resolve has returned the first.
	qctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Add(1)
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			defer wg.Done()
			raw, err := src.fetch(qctx)
			var a answer
			if err == nil {
				var rec *idrecord.Record
				if rec, err = s.validate(persona, raw); err == nil {
					a.r = Result{Record: rec, Raw: raw, Source: src.name, At: s.cfg.Now()}
					s.remember(a.r, false)
				}
			}
			if err != nil {
				a.err = fmt.Errorf("%s: %w", src.name, err)
			}
			answers <- a
		}()
	}
	s.bg.Add(1)
	go func() { defer s.bg.Done(); wg.Wait(); cancel() }()
	var (
		errs []error
		best Result
	)
	for range sources {
		select {
		case a := <-answers:
			switch {
			case a.err != nil:
				errs = append(errs, a.err)
			case !newest:
				return a.r, nil
			case idrecord.Newer(a.r.Record, best.Record):
				best = a.r
			}
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
		if ctx.Err() != nil {
			break
		}
	}
	if best.Record != nil {
		return best, nil
	}
	if r, ok := s.Cached(persona); ok && !newest {
		r.Source = "cache"
		return r, nil
	}
	return Result{}, fmt.Errorf("%w: %s: %w", ErrNotFound, persona, errors.Join(errs...))
}

type source struct {
	name  string
	fetch func(ctx context.Context) ([]byte, error)
}

func (s *Service) sources(key, persona string) []source {
	var out []source
	if s.cfg.DHT != nil {
		out = append(out, source{"dht", func(ctx context.Context) ([]byte, error) { return s.cfg.DHT.GetValue(ctx, key) }})
	}
	for _, ix := range s.cfg.Indexes {
		out = append(out, source{"index " + ix.ID.String(), func(ctx context.Context) ([]byte, error) {
			return s.lookup(ctx, ix, ProtoIndex, persona)
		}})
	}
	if s.cfg.Contacts != nil {
		n := 0
		for _, c := range s.cfg.Contacts() {
			if n == maxContactsAsked {
				break
			}
			p, err := peer.Decode(c.String())
			if err != nil || s.cfg.Host.Network().Connectedness(p) != network.Connected {
				continue
			}
			n++
			out = append(out, source{"contact " + p.String(), func(ctx context.Context) ([]byte, error) {
				return s.lookup(ctx, peer.AddrInfo{ID: p}, ProtoWhereIs, persona)
			}})
		}
	}
	return out
}

func (s *Service) lookup(ctx context.Context, ai peer.AddrInfo, proto protocol.ID, persona string) ([]byte, error) {
	resp, err := s.ask(ctx, ai, proto, &Request{Version: WireVersion, Op: OpLookup, Persona: persona})
	if err != nil {
		return nil, err
	}
	return resp.Record, nil
}

// FetchID asks device id for its own identity record, validates and caches
// it.
func (s *Service) FetchID(ctx context.Context, id netport.PeerID) (*idrecord.Record, error) {
	p, err := peer.Decode(id.String())
	if err != nil {
		return nil, fmt.Errorf("discovery: peer ID %q: %w", id, err)
	}
	resp, err := s.ask(ctx, peer.AddrInfo{ID: p}, ProtoID, &Request{Version: WireVersion, Op: OpLookup})
	if err != nil {
		return nil, err
	}
	return s.learnID(p, resp.Record)
}

// learnID validates and caches the record p served as its own.
// A record that does not list p is not cached. Records of peers that are
// not contacts' devices go to the cache's stranger class.
func (s *Service) learnID(p peer.ID, raw []byte) (*idrecord.Record, error) {
	rec, err := s.validate("", raw)
	if err != nil {
		return nil, err
	}
	if !recordHasDevice(rec, p) {
		return nil, fmt.Errorf("discovery: %s served a record that does not list it", p)
	}
	stranger := s.cfg.IsContact == nil || !s.cfg.IsContact(portID(p))
	s.remember(Result{Record: rec, Raw: raw, Source: "peer " + p.String(), At: s.cfg.Now()}, stranger)
	return rec, nil
}

// PeerFound fetches the identity record of a peer found on the LAN (the
// host's OnPeerFound callback, which runs on a goroutine of its own), so
// that a device we meet there is known by its persona. It returns when the
// record is cached or the wait failed (within foundIDWait, or at Close).
func (s *Service) PeerFound(ai peer.AddrInfo) {
	// A peer is found (by mDNS) as soon as its host starts, maybe before
	// it serves its record: ask until it does.
	ctx, cancel := context.WithTimeout(s.ctx, foundIDWait)
	defer cancel()
	if _, err := s.AwaitID(ctx, ai.ID); err != nil {
		s.log.Debug("found peer has no identity record for us", "peer", ai.ID, "err", err)
	}
}

// portID names a libp2p peer on the network port.
func portID(p peer.ID) netport.PeerID { return netport.PeerID(p.String()) }

// Retries of AwaitID: the first after awaitIDFirstRetry, then twice as
// long each time, up to awaitIDMaxRetry.
const (
	awaitIDFirstRetry = 200 * time.Millisecond
	awaitIDMaxRetry   = 5 * time.Second
	// foundIDWait bounds the wait for a peer just found to serve its
	// identity record.
	foundIDWait = time.Minute
)

// AwaitID is FetchID for a peer just found (on the LAN, say): it asks
// again, less and less often, until p serves a valid record of its own or
// ctx ends. A node announces itself on mDNS as soon as its host starts,
// a moment before it handles the identity protocol and has a record to
// serve; a single question in that moment would leave the peer unknown
// until its next announcement, which mDNS makes about once an hour. A
// refusal, or a record that is invalid or does not list p, ends it at once.
func (s *Service) AwaitID(ctx context.Context, p peer.ID) (*idrecord.Record, error) {
	wait := awaitIDFirstRetry
	for {
		resp, err := s.ask(ctx, peer.AddrInfo{ID: p}, ProtoID, &Request{Version: WireVersion, Op: OpLookup})
		if err == nil {
			return s.learnID(p, resp.Record)
		}
		if errors.Is(err, errRefused) {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("discovery: %s served no record of its own (%w); last answer: %w", p, ctx.Err(), err)
		case <-s.ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("discovery: closed: %w", err)
		}
		wait = min(2*wait, awaitIDMaxRetry)
	}
}

// errRefused marks a peer's refusal (StatusRefused or StatusBadRequest):
// asking again would get the same answer.
var errRefused = errors.New("refused")

// ask opens a stream to ai (connecting first if needed), sends q and reads
// the response; a status other than OK becomes an error.
func (s *Service) ask(ctx context.Context, ai peer.AddrInfo, proto protocol.ID, q *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	h := s.cfg.Host
	if len(ai.Addrs) > 0 {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "discovery"), ai.ID, proto)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := writeMsg(st, q); err != nil {
		st.Reset()
		return nil, err
	}
	if err := st.CloseWrite(); err != nil {
		st.Reset()
		return nil, err
	}
	resp, err := ReadResponse(st)
	if err != nil {
		st.Reset()
		return nil, err
	}
	switch resp.Status {
	case StatusOK:
		return resp, nil
	case StatusNotFound:
		return nil, fmt.Errorf("%w (%s)", ErrNotFound, resp.Error)
	default:
		return nil, fmt.Errorf("discovery: %s %w: %s", ai.ID, errRefused, resp.Error)
	}
}

// handle wraps a request handler with framing, bounds and deadlines.
func (s *Service) handle(fn func(remote peer.ID, q *Request) *Response) network.StreamHandler {
	return s.handleConn(func(remote peer.ID, _ string, q *Request) *Response { return fn(remote, q) })
}

// handleConn is handle for a handler that also takes the source address
// of the connection (addrKey).
func (s *Service) handleConn(fn func(remote peer.ID, addr string, q *Request) *Response) network.StreamHandler {
	return func(st network.Stream) {
		defer st.Close()
		st.SetDeadline(time.Now().Add(s.cfg.Timeout))
		q, err := ReadRequest(st)
		var resp *Response
		if err != nil {
			resp = &Response{Status: StatusBadRequest, Error: truncate(err.Error())}
		} else {
			resp = fn(st.Conn().RemotePeer(), addrKey(st.Conn().RemoteMultiaddr()), q)
		}
		resp.Version = WireVersion
		if err := writeMsg(st, resp); err != nil {
			st.Reset()
		}
	}
}

func truncate(s string) string {
	if len(s) > maxError {
		return s[:maxError]
	}
	return s
}

func (s *Service) serveID(remote peer.ID, q *Request) *Response {
	s.mu.Lock()
	own := s.own
	s.mu.Unlock()
	if own == nil {
		return &Response{Status: StatusNotFound, Error: "no record yet"}
	}
	return &Response{Record: own}
}

func (s *Service) serveWhereIs(remote peer.ID, q *Request) *Response {
	if s.cfg.IsContact == nil || !s.cfg.IsContact(portID(remote)) {
		return &Response{Status: StatusRefused, Error: "not a contact"}
	}
	if q.Op != OpLookup {
		return &Response{Status: StatusBadRequest, Error: "lookup only"}
	}
	if r, ok := s.Cached(q.Persona); ok {
		return &Response{Record: r.Raw}
	}
	return &Response{Status: StatusNotFound, Error: "unknown here"}
}

func (s *Service) serveIndex(remote peer.ID, addr string, q *Request) *Response {
	now := s.cfg.Now()
	switch q.Op {
	case OpLookup:
		s.mu.Lock()
		e, ok := s.index[q.Persona]
		s.mu.Unlock()
		if !ok || !now.Before(e.expires) {
			return &Response{Status: StatusNotFound, Error: "not registered"}
		}
		return &Response{Record: e.raw}
	case OpRegister:
		rec, err := s.validate("", q.Record)
		if err != nil {
			return &Response{Status: StatusRefused, Error: truncate(err.Error())}
		}
		if !recordHasDevice(rec, remote) {
			return &Response{Status: StatusRefused, Error: "a record is registered only by one of its devices"}
		}
		exp := now.Add(s.cfg.IndexTTL)
		if rec.Expires.Before(exp) {
			exp = rec.Expires
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if old, ok := s.index[rec.Persona]; ok && now.Before(old.expires) && idrecord.Newer(old.rec, rec) {
			return &Response{Status: StatusRefused, Error: "a newer record is registered"}
		}
		if msg := s.overBudgetLocked(rec.Persona, remote, addr, now); msg != "" {
			return &Response{Status: StatusRefused, Error: msg}
		}
		if _, ok := s.index[rec.Persona]; !ok && len(s.index) >= s.cfg.MaxIndexEntries {
			s.evictLocked(now)
		}
		s.indexPutLocked(rec.Persona, indexEntry{rec: rec, raw: q.Record, expires: exp, registered: now, peer: remote, addr: addr})
		return &Response{}
	}
	return &Response{Status: StatusBadRequest, Error: "unknown operation"}
}

// overBudgetLocked says why a new registration of persona by remote from
// addr is refused ("" when it is not): the device or the address already
// holds its budget of other personas' registrations. Renewing one's own
// registration is always allowed.
func (s *Service) overBudgetLocked(persona string, remote peer.ID, addr string, now time.Time) string {
	over := func() string {
		n, a := s.budget.byPeer[remote], s.budget.byAddr[addr]
		if old, ok := s.index[persona]; ok {
			if old.peer == remote {
				n--
			}
			if addr != "" && old.addr == addr {
				a--
			}
		}
		switch {
		case n >= s.cfg.MaxIndexPerPeer:
			return fmt.Sprintf("this device has %d personas registered, the most an index takes", n)
		case addr != "" && a >= s.cfg.MaxIndexPerAddr:
			return fmt.Sprintf("%d registrations come from this address, the most an index takes", a)
		}
		return ""
	}
	if msg := over(); msg == "" {
		return ""
	}
	s.expireLocked(now) // expired ones may be what fills the budget
	return over()
}

// IndexSize is the number of registrations an index holds.
func (s *Service) IndexSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// Devices returns the peer IDs and addresses of a record's devices.
func Devices(rec *idrecord.Record) []peer.AddrInfo {
	var out []peer.AddrInfo
	for i, k := range rec.DeviceKeys() {
		pk, err := crypto.UnmarshalEd25519PublicKey(k)
		if err != nil {
			continue
		}
		id, err := peer.IDFromPublicKey(pk)
		if err != nil {
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, a := range rec.Devices[i].Addrs {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				continue
			}
			if t, id2 := peer.SplitAddr(m); t != nil && (id2 == "" || id2 == id) {
				ai.Addrs = append(ai.Addrs, t)
			}
		}
		out = append(out, ai)
	}
	return out
}

func recordHasDevice(rec *idrecord.Record, p peer.ID) bool {
	for _, ai := range Devices(rec) {
		if ai.ID == p {
			return true
		}
	}
	return false
}

// Connect resolves persona and connects to the first of its devices that
// answers; it returns that device's ID. When no device of the
// resolved record answers, the record may be stale (the persona moved or
// got a new relay since it was cached): Connect asks every source for the
// newest record and, if there is a newer one, tries again with it.
func (s *Service) Connect(ctx context.Context, persona string) (netport.PeerID, Result, error) {
	r, err := s.Resolve(ctx, persona)
	if err != nil {
		return "", r, err
	}
	id, err := s.connectRecord(ctx, r)
	if err == nil || ctx.Err() != nil {
		return portID(id), r, err
	}
	r2, err2 := s.resolve(ctx, persona, true)
	if err2 != nil || !idrecord.Newer(r2.Record, r.Record) {
		return "", r, err
	}
	id, err = s.connectRecord(ctx, r2)
	return portID(id), r2, err
}

// connectRecord connects to the first device of r that answers.
func (s *Service) connectRecord(ctx context.Context, r Result) (peer.ID, error) {
	devs := Devices(r.Record)
	if len(devs) == 0 {
		return "", fmt.Errorf("%w: the record lists no device", ErrUnreachable)
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	type res struct {
		id  peer.ID
		err error
	}
	ch := make(chan res, len(devs))
	for _, ai := range devs {
		go func() {
			if ai.ID == s.cfg.Host.ID() {
				ch <- res{err: errors.New("that is this device")}
				return
			}
			err := s.cfg.Connect(network.WithAllowLimitedConn(cctx, "discovery"), ai)
			ch <- res{ai.ID, err}
		}()
	}
	var errs []error
	for range devs {
		x := <-ch
		if x.err == nil {
			return x.id, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", x.id, x.err))
	}
	return "", fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(errs...))
}

// Forget drops the cached record of persona (the next Resolve asks the
// sources).
func (s *Service) Forget(persona string) {
	s.mu.Lock()
	s.cache.remove(persona)
	s.mu.Unlock()
}
