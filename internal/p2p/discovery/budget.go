package discovery

import (
	"container/list"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// What others can make a node keep: the record cache is bounded in
// entries, least recently used first, and records strangers served of
// their own accord (a peer that connected and gave its own record) are a
// smaller class of their own, so a flood of throwaway peers cannot flush
// the records this node looked up; an index's registrations are budgeted
// per registering device and per source address, and when it is full the
// address holding the most registrations loses its oldest.

// Defaults of the bounds (Config fields override them).
const (
	// DefaultMaxCacheEntries bounds the record cache.
	DefaultMaxCacheEntries = 4096
	// DefaultMaxIndexPerPeer bounds the personas one device registers.
	DefaultMaxIndexPerPeer = 8
	// DefaultMaxIndexPerAddr bounds the registrations from one address
	// (an IPv4 address or an IPv6 /64).
	DefaultMaxIndexPerAddr = 64
)

// cacheEntry is a cached record and its place in its class's LRU list.
type cacheEntry struct {
	r        Result
	stranger bool // served unasked by a peer that is not a contact
	el       *list.Element
}

// recordCache is the bounded record cache. Its users hold Service.mu.
type recordCache struct {
	max      int // all entries
	maxStray int // entries of the stranger class
	m        map[string]*cacheEntry
	lru      [2]*list.List // [0] asked for, [1] strangers; front = most recent
}

func newRecordCache(n int) *recordCache {
	return &recordCache{max: n, maxStray: max(1, n/4), m: map[string]*cacheEntry{}, lru: [2]*list.List{list.New(), list.New()}}
}

func class(stranger bool) int {
	if stranger {
		return 1
	}
	return 0
}

// get returns persona's entry and marks it used.
func (c *recordCache) get(persona string) (*cacheEntry, bool) {
	e, ok := c.m[persona]
	if ok {
		c.lru[class(e.stranger)].MoveToFront(e.el)
	}
	return e, ok
}

// put stores r (a record asked for unless stranger), evicting the least
// recently used over the bounds: strangers' records first.
func (c *recordCache) put(r Result, stranger bool) {
	p := r.Record.Persona
	if e, ok := c.m[p]; ok {
		e.r = r
		if e.stranger && !stranger { // looked up since: no longer a stranger's
			c.lru[1].Remove(e.el)
			e.stranger = false
			e.el = c.lru[0].PushFront(p)
		} else {
			c.lru[class(e.stranger)].MoveToFront(e.el)
		}
		return
	}
	e := &cacheEntry{r: r, stranger: stranger}
	e.el = c.lru[class(stranger)].PushFront(p)
	c.m[p] = e
	for c.lru[1].Len() > c.maxStray {
		c.evict(1)
	}
	for len(c.m) > c.max {
		if c.lru[1].Len() > 0 {
			c.evict(1)
		} else {
			c.evict(0)
		}
	}
}

func (c *recordCache) evict(cl int) {
	el := c.lru[cl].Back()
	c.lru[cl].Remove(el)
	delete(c.m, el.Value.(string))
}

func (c *recordCache) remove(persona string) {
	if e, ok := c.m[persona]; ok {
		c.lru[class(e.stranger)].Remove(e.el)
		delete(c.m, persona)
	}
}

func (c *recordCache) len() int { return len(c.m) }

// addrKey names the source of a connection for the index's budget: its
// IPv4 address or IPv6 /64 (for a relayed connection, the relay's). ""
// when the address has no IP (the budget then counts per device only).
func addrKey(m ma.Multiaddr) string {
	if m == nil {
		return ""
	}
	if v, err := m.ValueForProtocol(ma.P_IP4); err == nil {
		return v
	}
	if v, err := m.ValueForProtocol(ma.P_IP6); err == nil {
		if ip := net.ParseIP(v); ip != nil {
			return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
		}
	}
	return ""
}

// indexBudget counts an index's registrations per registering device and
// per source address. Its users hold Service.mu.
type indexBudget struct {
	byPeer map[peer.ID]int
	byAddr map[string]int
}

func (b *indexBudget) add(e indexEntry) {
	b.byPeer[e.peer]++
	if e.addr != "" {
		b.byAddr[e.addr]++
	}
}

func (b *indexBudget) remove(e indexEntry) {
	if b.byPeer[e.peer]--; b.byPeer[e.peer] <= 0 {
		delete(b.byPeer, e.peer)
	}
	if e.addr != "" {
		if b.byAddr[e.addr]--; b.byAddr[e.addr] <= 0 {
			delete(b.byAddr, e.addr)
		}
	}
}

// indexPutLocked stores a registration, replacing persona's.
func (s *Service) indexPutLocked(persona string, e indexEntry) {
	s.indexDeleteLocked(persona)
	s.index[persona] = e
	s.budget.add(e)
}

func (s *Service) indexDeleteLocked(persona string) {
	if old, ok := s.index[persona]; ok {
		s.budget.remove(old)
		delete(s.index, persona)
	}
}

// expireLocked drops expired registrations.
func (s *Service) expireLocked(now time.Time) {
	for k, e := range s.index {
		if !now.Before(e.expires) {
			s.indexDeleteLocked(k)
		}
	}
}

// evictLocked makes room for one registration in a full index: expired
// ones go first; else the oldest registration of the address (or, for
// registrations without one, the device) holding the most.
func (s *Service) evictLocked(now time.Time) {
	s.expireLocked(now)
	if len(s.index) < s.cfg.MaxIndexEntries {
		return
	}
	weight := func(e indexEntry) int {
		if e.addr != "" {
			return s.budget.byAddr[e.addr]
		}
		return s.budget.byPeer[e.peer]
	}
	var victim string
	var ve indexEntry
	for k, e := range s.index {
		if victim == "" || weight(e) > weight(ve) || (weight(e) == weight(ve) && e.registered.Before(ve.registered)) {
			victim, ve = k, e
		}
	}
	if victim != "" {
		s.indexDeleteLocked(victim)
	}
}
