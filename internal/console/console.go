// Package console keeps the sessions of the node's web console: one-time
// pairing codes a person types (or scans) on another device, the browser
// sessions they are exchanged for, and the brute-force guard on that
// exchange. It is pure logic over a kv store with an injectable clock; the
// HTTP side (cookies, CSRF, loopback checks) lives in package httpapi and the
// node wires the two together.
//
// Sessions persist in kv under "cs/" and hold only the SHA-256 of their
// secret, so a copy of the store does not let anyone in. Pairing codes live
// in memory only: they are short-lived, and a restart simply voids them.
//
// Domain package: it imports kv and codec only; the node imports it.
package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/kv"
)

// Scope says what a session may do.
type Scope string

// Scopes.
const (
	ScopeAdmin Scope = "admin" // everything the API token may do
	ScopeRead  Scope = "read"  // GET and HEAD only
)

// Limits and defaults.
const (
	DefaultTTL      = 10 * time.Minute // a pairing code's life when none is asked for
	MaxTTL          = time.Hour        // the longest life a pairing code may have
	TouchEvery      = time.Minute      // LastSeen is written at most this often per session
	MaxFailures     = 10               // failed redemptions allowed per FailureWindow from one source
	MaxAllFailures  = 100              // failures per FailureWindow from everywhere before failing sources are refused (see RedeemFrom)
	MaxSources      = 1000             // sources with failures in FailureWindow before every source is refused
	FailureWindow   = time.Minute
	MaxNameBytes    = 128
	CodeLen         = 12 // characters of a pairing code, without dashes
	SecretBytes     = 32 // random bytes of a session secret
	maxPendingCodes = 256
)

// Alphabet holds the characters of pairing codes: digits and capital letters
// without the look-alikes 0, O, 1, I and L (31 symbols, so a 12-character
// code carries 12·log2(31) ≈ 59.4 bits).
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Errors callers branch on.
var (
	// ErrBadCode: the pairing code is malformed, unknown, expired or was
	// used. One error for all of them, so a failure reveals nothing.
	ErrBadCode = errors.New("console: the pairing code is wrong, expired or already used")
	// ErrTooManyAttempts: too many failed redemptions in the last
	// FailureWindow; every redemption is refused until they age out.
	ErrTooManyAttempts = errors.New("console: too many failed pairing attempts")
	// ErrUnknownSession: no live session has that secret or ID.
	ErrUnknownSession = errors.New("console: unknown or revoked session")
	// ErrBadRequest: a scope, TTL or name that cannot be used.
	ErrBadRequest = errors.New("console: bad request")
	// ErrMalformed: a stored session record cannot be read.
	ErrMalformed = errors.New("console: malformed session record")
)

// Session is one browser session. Its secret is never kept: only its hash.
type Session struct {
	ID       string // short public ID, derived from the secret's hash
	Name     string // a label such as "Phone"
	Scope    Scope
	Created  time.Time // to the millisecond
	LastSeen time.Time // to the millisecond; written at most once per TouchEvery
}

// Pairing is a one-time code waiting to be redeemed.
type Pairing struct {
	Code    string // grouped for display: XXXX-XXXX-XXXX
	Name    string
	Scope   Scope
	Expires time.Time
}

// Options configure a Console. The zero value is ready.
type Options struct {
	Now  func() time.Time // nil = time.Now
	Rand io.Reader        // nil = crypto/rand
}

// Store is what a Console needs of kv.
type Store interface {
	kv.Reader
	kv.Writer
}

// Console holds the pending pairing codes and the session store. It is
// safe for concurrent use.
type Console struct {
	db   Store
	now  func() time.Time
	rand io.Reader

	mu       sync.Mutex
	pending  map[string]Pairing     // by normalised code
	failures []time.Time            // failed redemptions from everywhere, oldest first
	bySource map[string][]time.Time // failed redemptions by source, oldest first
}

// New returns a Console keeping its sessions in db.
func New(db Store, opts Options) (*Console, error) {
	if db == nil {
		return nil, errors.New("console: New needs a kv store")
	}
	c := &Console{db: db, now: opts.Now, rand: opts.Rand, pending: map[string]Pairing{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c, nil
}

// ParseScope checks a scope; "" is ScopeAdmin.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "", ScopeAdmin:
		return ScopeAdmin, nil
	case ScopeRead:
		return ScopeRead, nil
	}
	return "", fmt.Errorf("%w: scope %q: use %q or %q", ErrBadRequest, s, ScopeAdmin, ScopeRead)
}

func checkName(name string) error {
	if len(name) > MaxNameBytes {
		return fmt.Errorf("%w: the name of %d bytes exceeds the limit of %d bytes", ErrBadRequest, len(name), MaxNameBytes)
	}
	return nil
}

// Pair makes a one-time code for a session named name with scope, valid
// for ttl (0: DefaultTTL; at most MaxTTL).
func (c *Console) Pair(name string, scope Scope, ttl time.Duration) (Pairing, error) {
	scope, err := ParseScope(string(scope))
	if err != nil {
		return Pairing{}, err
	}
	if err := checkName(name); err != nil {
		return Pairing{}, err
	}
	switch {
	case ttl == 0:
		ttl = DefaultTTL
	case ttl < 0 || ttl > MaxTTL:
		return Pairing{}, fmt.Errorf("%w: a pairing code lives at most %v, not %v", ErrBadRequest, MaxTTL, ttl)
	}
	raw, err := c.newCode()
	if err != nil {
		return Pairing{}, err
	}
	now := c.now()
	p := Pairing{Code: FormatCode(raw), Name: name, Scope: scope, Expires: now.Add(ttl).UTC()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	if len(c.pending) >= maxPendingCodes {
		return Pairing{}, fmt.Errorf("%w: %d pairing codes are already waiting; let some expire", ErrBadRequest, len(c.pending))
	}
	c.pending[raw] = p
	return p, nil
}

// newCode draws CodeLen symbols of Alphabet uniformly (rejection sampling).
func (c *Console) newCode() (string, error) {
	const limit = 256 - 256%len(Alphabet) // bytes below it map uniformly
	out := make([]byte, 0, CodeLen)
	buf := make([]byte, 2*CodeLen)
	for len(out) < CodeLen {
		if _, err := io.ReadFull(c.rand, buf); err != nil {
			return "", fmt.Errorf("console: random code: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < CodeLen {
				out = append(out, Alphabet[int(b)%len(Alphabet)])
			}
		}
	}
	return string(out), nil
}

// prune drops expired codes and failures older than the window. c.mu held.
func (c *Console) prune(now time.Time) {
	for k, p := range c.pending {
		if !now.Before(p.Expires) {
			delete(c.pending, k)
		}
	}
	i := 0
	for i < len(c.failures) && now.Sub(c.failures[i]) >= FailureWindow {
		i++
	}
	c.failures = c.failures[i:]
	for src, fs := range c.bySource {
		i := 0
		for i < len(fs) && now.Sub(fs[i]) >= FailureWindow {
			i++
		}
		if i == len(fs) {
			delete(c.bySource, src)
		} else {
			c.bySource[src] = fs[i:]
		}
	}
}

// ParseCode normalises a code as a person may type it: case does not
// matter, and dashes and spaces anywhere are ignored. It returns the
// CodeLen symbols, or ErrBadCode.
func ParseCode(s string) (string, error) {
	if len(s) > 4*CodeLen {
		return "", ErrBadCode
	}
	out := make([]byte, 0, CodeLen)
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '-' || b == ' ':
			continue
		case 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		}
		if strings.IndexByte(Alphabet, b) < 0 || len(out) == CodeLen {
			return "", ErrBadCode
		}
		out = append(out, b)
	}
	if len(out) != CodeLen {
		return "", ErrBadCode
	}
	return string(out), nil
}

// FormatCode groups a normalised code in fours with dashes.
func FormatCode(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(raw[i:min(i+4, len(raw))])
	}
	return b.String()
}

// Redeem is RedeemFrom with no known source: all such callers share one.
func (c *Console) Redeem(code, name string) (Session, string, error) {
	return c.RedeemFrom("", code, name)
}

// RedeemFrom exchanges a pairing code for a new session, named name (""
// keeps the name given when pairing). It returns the session and its
// secret, which only the caller ever sees. A code works once.
//
// source names where the attempt comes from (the HTTP API gives the
// client's IP address, IPv6 by /64). Failures count towards the
// brute-force guard, per source and in total, and while it holds every
// attempt of the sources it applies to, right or wrong, is
// ErrTooManyAttempts until failures age out of FailureWindow:
//
//   - a source with MaxFailures failures in the window is refused;
//   - once MaxAllFailures failures came from everywhere, every source that
//     failed at all in the window is refused, but one that has not may
//     still try (so a flood from elsewhere cannot lock the owner out);
//   - once MaxSources sources have failed in the window, every source is
//     refused (the total bound on guesses wins over availability).
func (c *Console) RedeemFrom(source, code, name string) (Session, string, error) {
	if err := checkName(name); err != nil {
		return Session{}, "", err
	}
	now := c.now()
	c.mu.Lock()
	c.prune(now)
	mine := len(c.bySource[source])
	if mine >= MaxFailures || (mine > 0 && len(c.failures) >= MaxAllFailures) || len(c.bySource) >= MaxSources {
		c.mu.Unlock()
		return Session{}, "", ErrTooManyAttempts
	}
	raw, err := ParseCode(code)
	p, ok := c.pending[raw]
	if err != nil || !ok {
		c.failures = append(c.failures, now)
		if c.bySource == nil {
			c.bySource = map[string][]time.Time{}
		}
		c.bySource[source] = append(c.bySource[source], now)
		c.mu.Unlock()
		return Session{}, "", ErrBadCode
	}
	delete(c.pending, raw) // one use, even if creating the session fails
	c.mu.Unlock()
	if name == "" {
		name = p.Name
	}
	return c.Create(name, p.Scope)
}

// Create makes a session directly (the node does so for a browser on its
// own machine that proved it holds the API token).
func (c *Console) Create(name string, scope Scope) (Session, string, error) {
	scope, err := ParseScope(string(scope))
	if err != nil {
		return Session{}, "", err
	}
	if err := checkName(name); err != nil {
		return Session{}, "", err
	}
	secret := make([]byte, SecretBytes)
	if _, err := io.ReadFull(c.rand, secret); err != nil {
		return Session{}, "", fmt.Errorf("console: random secret: %w", err)
	}
	h := sha256.Sum256(secret)
	now := c.now().Truncate(time.Millisecond).UTC()
	s := Session{ID: idOf(h), Name: name, Scope: scope, Created: now, LastSeen: now}
	if err := c.put(s, h); err != nil {
		return Session{}, "", err
	}
	return s, base64.RawURLEncoding.EncodeToString(secret), nil
}

// Lookup returns the live session whose secret this is, or
// ErrUnknownSession. It does not change LastSeen: see Touch.
func (c *Console) Lookup(secret string) (Session, error) {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != SecretBytes {
		return Session{}, ErrUnknownSession
	}
	h := sha256.Sum256(raw)
	s, stored, err := c.get(idOf(h))
	if err != nil {
		return Session{}, err
	}
	if subtle.ConstantTimeCompare(stored[:], h[:]) != 1 {
		return Session{}, ErrUnknownSession
	}
	return s, nil
}

// Touch records that the session was used now, writing only if LastSeen is
// TouchEvery old or more; it returns the session as it now stands.
func (c *Console) Touch(s Session) (Session, error) {
	now := c.now().Truncate(time.Millisecond).UTC()
	if now.Sub(s.LastSeen) < TouchEvery {
		return s, nil
	}
	c.mu.Lock() // orders the read-modify-write against Revoke
	defer c.mu.Unlock()
	cur, h, err := c.get(s.ID)
	if err != nil {
		return Session{}, err
	}
	cur.LastSeen = now
	return cur, c.put(cur, h)
}

// List returns the live sessions, oldest first.
func (c *Console) List() ([]Session, error) {
	it := c.db.Iter(kv.IterOptions{Prefix: []byte(prefixSession)})
	defer it.Close()
	var out []Session
	for it.Next() {
		s, _, err := decodeSession(it.Value())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Key(), err)
		}
		out = append(out, s)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Session) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke ends the session with this ID at once.
func (c *Console) Revoke(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, err := c.get(id); err != nil {
		return err
	}
	return c.db.Delete(sessionKey(id))
}

// Key layout (see docs/architecture.md):
//
//	cs/s/<id>   session record (sessionWire); id = base32 of the first 8 bytes of SHA-256(secret)
const prefixSession = "cs/s/"

// StoreFormat is the version of the session records kept in kv.
const StoreFormat = 1

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// idOf derives the public ID from the secret's hash: 64 bits, which say
// nothing about the secret and make collisions among a person's sessions
// vanishingly unlikely.
func idOf(h [32]byte) string { return idEncoding.EncodeToString(h[:8]) }

func sessionKey(id string) []byte { return []byte(prefixSession + id) }

type sessionWire struct {
	_        struct{} `cbor:",toarray"`
	Format   uint16
	Hash     []byte // SHA-256 of the secret
	Name     string
	Scope    string
	Created  int64 // Unix ms
	LastSeen int64 // Unix ms
}

func (c *Console) put(s Session, h [32]byte) error {
	b, err := codec.Marshal(sessionWire{Format: StoreFormat, Hash: h[:], Name: s.Name, Scope: string(s.Scope),
		Created: s.Created.UnixMilli(), LastSeen: s.LastSeen.UnixMilli()})
	if err != nil {
		return err
	}
	if err := c.db.Set(sessionKey(s.ID), b); err != nil {
		return fmt.Errorf("console: store session: %w", err)
	}
	return nil
}

func (c *Console) get(id string) (Session, [32]byte, error) {
	if id == "" || len(id) > 32 {
		return Session{}, [32]byte{}, ErrUnknownSession
	}
	b, err := c.db.Get(sessionKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Session{}, [32]byte{}, ErrUnknownSession
	} else if err != nil {
		return Session{}, [32]byte{}, fmt.Errorf("console: read session: %w", err)
	}
	s, h, err := decodeSession(b)
	if err != nil {
		return Session{}, [32]byte{}, err
	}
	if idOf(h) != id {
		return Session{}, [32]byte{}, fmt.Errorf("%w: session %s holds another session's hash", ErrMalformed, id)
	}
	return s, h, nil
}

func decodeSession(b []byte) (Session, [32]byte, error) {
	var w sessionWire
	var h [32]byte
	if err := codec.Unmarshal(b, &w); err != nil {
		return Session{}, h, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if w.Format != StoreFormat {
		return Session{}, h, fmt.Errorf("%w: record format %d, want %d", ErrMalformed, w.Format, StoreFormat)
	}
	if len(w.Hash) != len(h) {
		return Session{}, h, fmt.Errorf("%w: hash of %d bytes", ErrMalformed, len(w.Hash))
	}
	if w.Scope != string(ScopeAdmin) && w.Scope != string(ScopeRead) {
		return Session{}, h, fmt.Errorf("%w: scope %q", ErrMalformed, w.Scope)
	}
	copy(h[:], w.Hash)
	return Session{ID: idOf(h), Name: w.Name, Scope: Scope(w.Scope),
		Created: time.UnixMilli(w.Created).UTC(), LastSeen: time.UnixMilli(w.LastSeen).UTC()}, h, nil
}
