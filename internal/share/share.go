// Package share moves MiMei between personas: it publishes versions for
// others to fetch (sealed with the MiMei's content key unless the MiMei is
// public), decides who may fetch what, keeps the key records that give
// readers the key, receives versions others published (verifying and
// importing them as replicas), and keeps the sharing state: what was
// offered to us, what we subscribe to, who subscribes to ours, the cache of
// public MiMei and the access log.
//
// Service holds that state and those rules; Flows (flows.go) is the
// capability on the network: it serves and asks the messages of
// docs/sharing-protocol.md and moves blocks with the exchange of
// docs/exchange.md, reaching other devices only through the network port
// (internal/netport). See docs/sharing.md.
package share

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// Errors callers branch on.
var (
	// ErrNotShared: the MiMei is not shared with the asking persona.
	ErrNotShared = errors.New("not shared with this persona")
	// ErrNotOwner: only the MiMei's owner (one of its devices) may do this.
	ErrNotOwner = errors.New("not the owner of this MiMei")
	// ErrNoKey: no key record gives this persona the content key.
	ErrNoKey = errors.New("no content key for this persona")
	// ErrNotPublished: the version was not published for sharing.
	ErrNotPublished = errors.New("version not published")
)

// Config wires a Service. Everything but Logger, Now and Event is required.
type Config struct {
	KV    kv.Store
	Store *mimei.Store
	// Persona is the local persona (did:key) that owns, shares and reads.
	Persona string
	// PersonaKey returns the private key of a local persona: it signs key
	// records and yields the persona's encryption key.
	PersonaKey func(persona string) (ed25519.PrivateKey, error)
	// Suite seals the blocks of key epochs this node makes (0: the
	// device's sealing.DefaultSuite). Epochs made elsewhere keep the
	// suite their key record names.
	Suite sealing.Suite
	// CacheQuota bounds the bytes of public MiMei kept only as a cache
	// (fetched, not subscribed); the least recently used go first. 0 = no
	// cache: a fetched public MiMei is kept like a subscribed one.
	CacheQuota int64
	Now        func() time.Time
	Logger     *slog.Logger
	// Event, if set, is told what happens (kind, data); kinds are listed in
	// docs/api.md under "share.".
	Event func(kind string, data any)
}

// Service is the sharing state of one node. It is safe for concurrent use.
type Service struct {
	cfg    Config
	kv     kv.Store
	store  *mimei.Store
	blocks blockstore.Store
	log    *slog.Logger

	mu   sync.Mutex
	keys map[keyID]*sealing.BlockKey // unwrapped content keys
	enc  hpke.PrivateKey             // the persona's encryption key
	pubs map[mimei.ID]*sync.Mutex    // one publisher per MiMei
	seq  uint64                      // access log sequence within a millisecond

	alMu    sync.Mutex                   // serialises access-log writes and trims
	subMu   sync.Mutex                   // serialises changes to the subscribers (sh/sub/)
	offerMu sync.Mutex                   // serialises offers received (sh/in/) and their bounds
	alSeen  map[accessReader]*accessSeen // readers written within AccessWindow

	receivers map[*Receiver]struct{} // fetches under way, whose blocks GC keeps
}

type keyID struct {
	id    mimei.ID
	epoch uint32
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.KV == nil || cfg.Store == nil || cfg.Persona == "" || cfg.PersonaKey == nil {
		return nil, errors.New("share: config needs KV, Store, Persona and PersonaKey")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Suite == 0 {
		cfg.Suite = sealing.DefaultSuite()
	} else if !cfg.Suite.Known() {
		return nil, fmt.Errorf("share: unknown sealing suite 0x%02x", byte(cfg.Suite))
	}
	priv, err := cfg.PersonaKey(cfg.Persona)
	if err != nil {
		return nil, fmt.Errorf("share: persona key: %w", err)
	}
	enc, err := identity.EncryptionKey(priv)
	if err != nil {
		return nil, fmt.Errorf("share: encryption key: %w", err)
	}
	return &Service{
		cfg: cfg, kv: cfg.KV, store: cfg.Store, blocks: cfg.Store.Blocks(), log: cfg.Logger,
		keys: map[keyID]*sealing.BlockKey{}, receivers: map[*Receiver]struct{}{}, enc: enc, pubs: map[mimei.ID]*sync.Mutex{},
		alSeen: map[accessReader]*accessSeen{},
	}, nil
}

// Persona is the local persona.
func (s *Service) Persona() string { return s.cfg.Persona }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) event(kind string, data any) {
	if s.cfg.Event != nil {
		s.cfg.Event(kind, data)
	}
}

func (s *Service) pubLock(id mimei.ID) func() {
	s.mu.Lock()
	m, ok := s.pubs[id]
	if !ok {
		m = &sync.Mutex{}
		s.pubs[id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Role is what a persona may do with a MiMei.
type Role int

// Roles, weakest first.
const (
	RoleNone   Role = iota
	RolePublic      // anyone: the MiMei is public
	RoleReader
	RoleWriter
	RoleOwner
)

func (r Role) String() string {
	return [...]string{"none", "public", "reader", "writer", "owner"}[r]
}

// RoleOf says what persona may do with a MiMei whose rights are r. An
// empty persona is a stranger.
func RoleOf(r mimei.Rights, persona string) Role {
	switch {
	case persona != "" && persona == r.Owner:
		return RoleOwner
	case persona != "" && slices.Contains(r.Writers, persona):
		return RoleWriter
	case persona != "" && slices.Contains(r.Readers, persona):
		return RoleReader
	case r.Public:
		return RolePublic
	}
	return RoleNone
}

// access checks that persona may fetch id and returns its metadata.
func (s *Service) access(id mimei.ID, persona string) (mimei.Meta, Role, error) {
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return m, RoleNone, err
	}
	role := RoleOf(m.Rights, persona)
	if role == RoleNone {
		return m, role, fmt.Errorf("%w: %s", ErrNotShared, id)
	}
	if m.Rights.Owner != s.cfg.Persona && !m.Rights.Public {
		// A replica of someone else's non-public MiMei is served to
		// nobody but our own persona and its owner (who fetches what a
		// writer pushed): its catalog belongs to its owner.
		if persona != s.cfg.Persona && persona != m.Rights.Owner {
			return m, RoleNone, fmt.Errorf("%w: %s (ask its owner)", ErrNotShared, id)
		}
	}
	return m, role, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
