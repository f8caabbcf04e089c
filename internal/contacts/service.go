package contacts

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/netport"
)

// DefaultHandshakeTimeout bounds one whole accept handshake, on either side.
const DefaultHandshakeTimeout = 20 * time.Second

// MaxConcurrentHandshakes bounds the invite handshakes a Service serves at
// once; a stream beyond it is reset.
const MaxConcurrentHandshakes = 16

// learnTimeout bounds one call of ServiceConfig.Learned from presence.
const learnTimeout = 10 * time.Second

// placeholderName is the name a persona has when its owner never named it
// (the keystore's first persona). It is never suggested to others, nor taken
// as a suggestion: most people would share it.
const placeholderName = "default"

// ErrInviteRefused: the inviter's device answered the handshake with a
// refusal. The error's text gives the inviter's reason; when the reason is
// a known one it also wraps ErrInviteUsed, ErrInviteExpired or
// ErrInviteUnknown.
var ErrInviteRefused = errors.New("contacts: the inviter refused")

// refusal is the inviter's Done{OK: false}, as the acceptor reports it.
type refusal struct {
	reason string
	cause  error // ErrInviteUsed, …, or nil
}

func (r *refusal) Error() string        { return "the inviter refused: " + r.reason }
func (r *refusal) Is(target error) bool { return target == ErrInviteRefused }
func (r *refusal) Unwrap() error        { return r.cause }

// The inviter's reasons for a refused invite: fixed texts, so that the
// acceptor can map them back onto the sentinels.
var inviteReasons = []struct {
	err  error
	text string
}{
	{ErrInviteUsed, "the invite was already used"},
	{ErrInviteExpired, "the invite has expired"},
	{ErrInviteUnknown, "unknown invite"},
}

func inviteProblem(err error) string {
	for _, r := range inviteReasons {
		if errors.Is(err, r.err) {
			return r.text
		}
	}
	return "unknown invite"
}

func refused(reason string) error {
	r := &refusal{reason: reason}
	for _, k := range inviteReasons {
		if reason == k.text {
			r.cause = k.err
		}
	}
	return r
}

// Self is this node's persona as the handshake presents it: the default
// persona, this device's key and the certificate the persona gave it.
type Self struct {
	ID        string // the persona's did:key
	Name      string // the persona's name; suggested to others unless "default"
	DeviceKey ed25519.PrivateKey
	Cert      *identity.DeviceCertV1 // certifies DeviceKey for ID
}

// ServiceConfig is what a Service needs. Net, Store and Self are required;
// the rest have safe defaults.
type ServiceConfig struct {
	Net   netport.Network
	Store *Store
	// Watcher reports connectedness changes, for presence; nil: Net, if it
	// implements netport.Watcher (else no presence events).
	Watcher netport.Watcher
	// Self returns our default persona now.
	Self func() (Self, error)
	// Advertised returns up to max of our addresses (text multiaddrs),
	// best first, to put in invites; nil: none (the acceptor's network
	// must find us by peer ID).
	Advertised func(max int) []string
	// OwnDevices returns the peer IDs of our persona's other devices; they
	// map to our persona in the directory and get no presence events.
	OwnDevices func() []string
	// OnBlocked is called with devices that became blocked (at Start: all
	// blocked ones) and with a blocked device that connects, so that the
	// caller cuts their connections. It must not change the Store.
	OnBlocked func(devices []netport.PeerID)
	// Learned is called after an accept and when a contact's device
	// connects, to refresh what is known of it (its identity record).
	Learned func(ctx context.Context, p netport.PeerID)
	// Event publishes an event (contact.added, contact.online,
	// contact.offline); it must not block for long.
	Event func(kind string, data any)
	// Logger; nil: discard.
	Logger *slog.Logger
	// Now is the clock for certificates, invites and last-seen times; nil:
	// time.Now. Stream deadlines use the real clock.
	Now func() time.Time
	// HandshakeTimeout bounds one handshake; 0: DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Service runs the invite handshake over the network port (both sides:
// CreateInvite and serving ProtocolID for the inviter, Accept for the
// acceptor) and keeps the directory of known devices: which persona each
// contact's or own device belongs to, and which devices are blocked, rebuilt
// from the Store on every change. It reports contacts' presence from the
// network's connectedness events.
type Service struct {
	cfg     ServiceConfig
	watcher netport.Watcher
	log     *slog.Logger
	dir     atomic.Pointer[directory]
	sem     chan struct{}

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards started, closed and wg.Add
	started bool
	closed  bool
	wg      sync.WaitGroup

	refreshMu sync.Mutex // orders directory rebuilds

	upMu sync.Mutex
	up   map[netport.PeerID]bool // contacts' devices reported online
}

// directory maps devices to personas; it is replaced whole.
type directory struct {
	self    string                    // our persona
	persona map[netport.PeerID]string // unblocked contacts' devices and our own
	blocked map[netport.PeerID]bool
}

// NewService checks cfg and returns a Service; Start runs it.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Net == nil || cfg.Store == nil || cfg.Self == nil {
		return nil, errors.New("contacts: NewService needs Net, Store and Self")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.Event == nil {
		cfg.Event = func(string, any) {}
	}
	s := &Service{cfg: cfg, watcher: cfg.Watcher, log: cfg.Logger, sem: make(chan struct{}, MaxConcurrentHandshakes),
		up: map[netport.PeerID]bool{}}
	if s.watcher == nil {
		s.watcher, _ = cfg.Net.(netport.Watcher)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.dir.Store(&directory{persona: map[netport.PeerID]string{}, blocked: map[netport.PeerID]bool{}})
	return s, nil
}

// Start builds the directory, follows the Store's changes, watches
// connectedness and serves ProtocolID.
func (s *Service) Start() error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return errors.New("contacts: service already started or closed")
	}
	s.started = true
	s.mu.Unlock()
	s.Refresh()
	s.cfg.Store.OnChange(s.Refresh)
	if s.watcher != nil {
		s.watcher.Watch(s.onNetEvent)
	}
	s.cfg.Net.Handle(ProtocolID, s.serveInvite)
	return nil
}

// Close stops serving ProtocolID, aborts handshakes under way and waits for
// the Service's goroutines. Store changes and network events after it are
// ignored.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		s.cfg.Net.Handle(ProtocolID, nil)
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// enter counts a goroutine in (false once closed); leave with s.wg.Done.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Service) goBackground(fn func()) {
	if !s.enter() {
		return
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *Service) self() (Self, error) {
	me, err := s.cfg.Self()
	if err != nil {
		return Self{}, err
	}
	if me.Cert == nil || len(me.DeviceKey) != ed25519.PrivateKeySize || me.Cert.Persona != me.ID {
		return Self{}, errors.New("contacts: Self has no device key or certificate for its persona")
	}
	return me, nil
}

// suggestion is name as a name to suggest or to take as suggested: "" if it
// breaks the name rules or is the placeholder "default".
func suggestion(name string) string {
	if CheckName(name) != nil || strings.EqualFold(name, placeholderName) {
		return ""
	}
	return name
}

// ---- directory ----

// Refresh rebuilds the directory from the Store and OwnDevices; the Service
// calls it on every Store change, the caller when its own devices change.
// If the Store cannot be read the previous directory stays.
func (s *Service) Refresh() {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	old := s.dir.Load()
	_, peers, err := s.cfg.Store.Blocked()
	if err != nil {
		s.log.Error("read blocked peers", "err", err)
		return
	}
	list, err := s.cfg.Store.List()
	if err != nil {
		s.log.Error("read contacts", "err", err)
		return
	}
	d := &directory{self: old.self, persona: map[netport.PeerID]string{}, blocked: map[netport.PeerID]bool{}}
	for _, p := range peers {
		d.blocked[netport.PeerID(p)] = true
	}
	for _, c := range list {
		for _, dev := range c.Devices {
			if c.Blocked {
				d.blocked[netport.PeerID(dev)] = true
			} else {
				d.persona[netport.PeerID(dev)] = c.Persona
			}
		}
	}
	if me, err := s.self(); err != nil {
		s.log.Error("own persona", "err", err)
	} else {
		d.self = me.ID
	}
	if s.cfg.OwnDevices != nil && d.self != "" {
		for _, dev := range s.cfg.OwnDevices() {
			d.persona[netport.PeerID(dev)] = d.self
		}
	}
	s.dir.Store(d)
	var newly []netport.PeerID
	for p := range d.blocked {
		if !old.blocked[p] {
			newly = append(newly, p)
		}
	}
	if len(newly) > 0 && s.cfg.OnBlocked != nil {
		slices.Sort(newly)
		s.cfg.OnBlocked(newly)
	}
}

// PersonaOf names the persona of a contact's device (our own for our other
// devices), or "" if the device is not known (or blocked).
func (s *Service) PersonaOf(p netport.PeerID) string { return s.dir.Load().persona[p] }

// IsContact reports whether p is a device of an unblocked contact or one of
// our own other devices.
func (s *Service) IsContact(p netport.PeerID) bool {
	_, ok := s.dir.Load().persona[p]
	return ok
}

// IsBlocked reports whether p is blocked: blocked directly, or a known
// device of a blocked persona.
func (s *Service) IsBlocked(p netport.PeerID) bool { return s.dir.Load().blocked[p] }

// ContactDevices lists the devices IsContact accepts, sorted.
func (s *Service) ContactDevices() []netport.PeerID {
	d := s.dir.Load()
	out := make([]netport.PeerID, 0, len(d.persona))
	for p := range d.persona {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Online reports whether one of c's devices is connected now.
func (s *Service) Online(c Contact) bool {
	for _, dev := range c.Devices {
		if s.cfg.Net.Connected(netport.PeerID(dev)) {
			return true
		}
	}
	return false
}

// ---- presence ----

func (s *Service) onNetEvent(ev netport.Event) {
	if !ev.Connected {
		s.upMu.Lock()
		delete(s.up, ev.Peer)
		s.upMu.Unlock()
	}
	d := s.dir.Load()
	if d.blocked[ev.Peer] {
		if ev.Connected && s.cfg.OnBlocked != nil {
			s.goBackground(func() { s.cfg.OnBlocked([]netport.PeerID{ev.Peer}) })
		}
		return
	}
	persona, ok := d.persona[ev.Peer]
	if !ok || persona == d.self {
		return // a stranger, or one of our own devices
	}
	if !ev.Connected {
		s.cfg.Event("contact.offline", map[string]any{"persona": persona, "peer": ev.Peer.String()})
		return
	}
	s.online(persona, ev.Peer, true)
}

// online reports persona's device p as connected, unless it already was:
// the event now, then in the background its last-seen time and, if learn,
// Learned. (A handshake's new contact is reported by the handshake, and
// again by the connection event if that comes late: the second is dropped.)
func (s *Service) online(persona string, p netport.PeerID, learn bool) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.upMu.Lock()
	was := s.up[p]
	s.up[p] = true
	s.upMu.Unlock()
	if was {
		return
	}
	s.cfg.Event("contact.online", map[string]any{"persona": persona, "peer": p.String()})
	s.goBackground(func() {
		if err := s.cfg.Store.Seen(persona, s.cfg.Now()); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("record contact seen", "persona", persona, "err", err)
		}
		if learn && s.cfg.Learned != nil {
			ctx, cancel := context.WithTimeout(s.ctx, learnTimeout)
			defer cancel()
			s.cfg.Learned(ctx, p)
		}
	})
}

// ---- invites: the inviter's side ----

// InviteOptions are the choices of one invite.
type InviteOptions struct {
	// TTL is how long the invite stays valid, in (0, MaxInviteTTL].
	TTL time.Duration
	// Name is what we suggest the acceptor calls us; "": our persona's
	// name, unless it is "default".
	Name string
	// ContactName is the pet name the person who accepts gets here; "":
	// the name they suggest if it is free (and not "default"), else
	// contact-<6 characters of their persona>. It must follow the name
	// rules and be free: not a contact's name nor another pending invite's
	// (ErrNameTaken).
	ContactName string
}

// CreateInvite issues a one-time invite to this device and records it.
func (s *Service) CreateInvite(o InviteOptions) (*Invite, error) {
	me, err := s.self()
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = suggestion(me.Name)
	}
	if o.ContactName != "" {
		if err := s.checkContactName(o.ContactName); err != nil {
			return nil, err
		}
	}
	dev := InviteDevice{PeerID: s.cfg.Net.Self().String()}
	if s.cfg.Advertised != nil {
		dev.Addrs = s.cfg.Advertised(MaxInviteAddrs)
	}
	var inv *Invite
	for n := min(len(dev.Addrs), MaxInviteAddrs); ; n-- { // drop addresses until the invite fits
		dev.Addrs = dev.Addrs[:n]
		inv, err = NewInvite(me.DeviceKey, me.Cert, o.Name, []InviteDevice{dev}, o.TTL, s.cfg.Now())
		if err == nil || n == 0 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.SaveInviteNamed(inv, o.ContactName); err != nil {
		return nil, err
	}
	return inv, nil
}

// checkContactName refuses a pet name for a future contact that breaks the
// rules or is already taken, by a contact or by a pending invite.
func (s *Service) checkContactName(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if c, err := s.cfg.Store.Get(name); err == nil {
		return fmt.Errorf("%w: %q is the contact %s", ErrNameTaken, name, c.Persona)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	pending, err := s.cfg.Store.PendingInvites()
	if err != nil {
		return err
	}
	for _, p := range pending {
		if strings.EqualFold(p.ContactName, name) {
			return fmt.Errorf("%w: pending invite %s already names its contact %q", ErrNameTaken, p.ID, p.ContactName)
		}
	}
	return nil
}

// serveInvite is the inviter's side of the handshake on one inbound stream.
func (s *Service) serveInvite(st netport.Stream) {
	if !s.enter() {
		_ = st.Reset()
		return
	}
	defer s.wg.Done()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		_ = st.Reset()
		return
	}
	stop := context.AfterFunc(s.ctx, func() { _ = st.Reset() })
	defer stop()
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	remote := st.Remote()
	if s.IsBlocked(remote) {
		_ = st.Reset()
		return
	}
	refuse := func(why string) {
		d := &Done{Version: HandshakeVersion, Error: why}
		_ = writeMarshal(st, d.Marshal)
	}
	b, err := ReadMsg(st, MaxMsgSize)
	if err != nil {
		_ = st.Reset()
		return
	}
	hello, err := ParseHello(b)
	if err != nil {
		refuse("malformed hello")
		return
	}
	hcert, err := hello.Verify(s.cfg.Now())
	if err != nil || !deviceIs(hcert, remote) {
		refuse("hello not signed by the connecting device")
		return
	}
	me, err := s.self()
	if err != nil {
		refuse("internal error")
		s.log.Error("serve invite: own persona", "err", err)
		return
	}
	if hello.Persona == me.ID {
		refuse("that is our own persona")
		return
	}
	if s.cfg.Store.IsBlockedPersona(hello.Persona) {
		refuse("refused")
		return
	}
	pend, err := s.cfg.Store.CheckInvite(hello.Secret)
	if err != nil {
		refuse(inviteProblem(err))
		return
	}
	welcome, err := NewWelcome(me.DeviceKey, me.Cert, pend.Name, hello)
	if err != nil {
		refuse("internal error")
		s.log.Error("serve invite: welcome", "err", err)
		return
	}
	if err := writeMarshal(st, welcome.Marshal); err != nil {
		_ = st.Reset()
		return
	}
	if b, err = ReadMsg(st, MaxMsgSize); err != nil {
		_ = st.Reset()
		return
	}
	confirm, err := ParseConfirm(b)
	wh, _ := welcome.Hash()
	if err != nil || confirm.WelcomeHash != wh || VerifyConfirm(confirm, hcert.DeviceKey()) != nil {
		refuse("bad confirmation")
		return
	}
	if err := s.cfg.Store.UseInvite(hello.Secret); err != nil {
		refuse(inviteProblem(err))
		return
	}
	c, err := s.addContact(hello.Persona, remote, pend.ContactName, suggestion(hello.Name))
	if err != nil {
		refuse("could not add the contact")
		s.log.Error("add contact from invite", "err", err)
		return
	}
	d := &Done{Version: HandshakeVersion, OK: true}
	if err := writeMarshal(st, d.Marshal); err != nil {
		_ = st.Reset()
		return
	}
	s.log.Info("invite accepted", "persona", c.Persona, "name", c.Name)
	s.cfg.Event("contact.added", map[string]any{"persona": c.Persona, "name": c.Name, "by": "invite"})
	if s.cfg.Net.Connected(remote) {
		s.online(c.Persona, remote, false)
	}
}

// ---- invites: the acceptor's side ----

// Accept runs the acceptor's side of the handshake with the devices the
// invite link names, in order, and on success adds the inviter as a contact
// named name (or, if name is "", the name the inviter suggests, or
// contact-<6 characters of their persona>, made unique). A name already
// taken by another contact fails with ErrNameTaken before any network
// traffic. Errors: ErrBadInvite or ErrInviteExpired for the link,
// ErrInviteRefused when the inviter refused, and netport.ErrUnreachable
// (wrapping each device's failure) when no device could be reached or
// completed the handshake.
func (s *Service) Accept(ctx context.Context, link, name string) (Contact, error) {
	now := s.cfg.Now()
	inv, err := ParseInvite(link, now)
	if err != nil {
		return Contact{}, err
	}
	me, err := s.self()
	if err != nil {
		return Contact{}, err
	}
	if inv.Persona == me.ID {
		return Contact{}, fmt.Errorf("%w: this is your own invite", ErrBadInvite)
	}
	if s.cfg.Store.IsBlockedPersona(inv.Persona) {
		return Contact{}, fmt.Errorf("%w: the inviter %s is blocked (unblock them first)", ErrBadInvite, inv.Persona)
	}
	if name != "" {
		if err := CheckName(name); err != nil {
			return Contact{}, err
		}
		if c, err := s.cfg.Store.Get(name); err == nil && c.Persona != inv.Persona {
			return Contact{}, fmt.Errorf("%w: %q is the contact %s", ErrNameTaken, name, c.Persona)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel) // Close aborts it
	defer stop()
	var errs []error
	var refusedErr error
	for _, d := range inv.Devices {
		p := netport.PeerID(d.PeerID)
		if p == s.cfg.Net.Self() {
			errs = append(errs, fmt.Errorf("device %s: the invite names this device itself", p))
			continue
		}
		if err := s.cfg.Net.Connect(ctx, p, d.Addrs); err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", p, err))
			continue
		}
		welcome, err := s.handshake(ctx, p, inv, me)
		if errors.Is(err, ErrInviteRefused) {
			refusedErr = err
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", p, err))
			continue
		}
		c, err := s.addContact(inv.Persona, p, name, suggestion(inv.Name), suggestion(welcome.Name))
		if err != nil {
			return Contact{}, err
		}
		s.cfg.Event("contact.added", map[string]any{"persona": c.Persona, "name": c.Name, "by": "accept"})
		if s.cfg.Learned != nil {
			s.cfg.Learned(ctx, p)
		}
		if s.cfg.Net.Connected(p) {
			s.online(c.Persona, p, false)
		}
		return c, nil
	}
	switch {
	case refusedErr != nil:
		return Contact{}, refusedErr
	case len(errs) == 0:
		return Contact{}, fmt.Errorf("%w: the invite lists no device", ErrBadInvite)
	}
	return Contact{}, fmt.Errorf("%w: %w", netport.ErrUnreachable, errors.Join(errs...))
}

// handshake is the acceptor's side on a new stream to p: Hello, Welcome,
// Confirm, Done.
func (s *Service) handshake(ctx context.Context, p netport.PeerID, inv *Invite, me Self) (*Welcome, error) {
	st, err := s.cfg.Net.NewStream(netport.AllowLimited(ctx, "invite"), p, ProtocolID)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if st.Remote() != p {
		_ = st.Reset()
		return nil, fmt.Errorf("%w: the stream reached %s, not %s", ErrBadInvite, st.Remote(), p)
	}
	hello, err := NewHello(me.DeviceKey, me.Cert, inv.Secret, suggestion(me.Name))
	if err != nil {
		return nil, err
	}
	if err := writeMarshal(st, hello.Marshal); err != nil {
		_ = st.Reset()
		return nil, err
	}
	b, err := ReadMsg(st, MaxMsgSize)
	if err != nil {
		return nil, err
	}
	welcome, err := ParseWelcome(b)
	if err != nil {
		if d, derr := ParseDone(b); derr == nil && !d.OK {
			return nil, refused(d.Error)
		}
		return nil, err
	}
	wcert, err := welcome.Verify(s.cfg.Now())
	if err != nil {
		return nil, err
	}
	hh, _ := hello.Hash()
	if welcome.Persona != inv.Persona || welcome.HelloHash != hh || !deviceIs(wcert, p) {
		return nil, fmt.Errorf("%w: the answer does not match the invite", ErrBadInvite)
	}
	confirm, err := NewConfirm(me.DeviceKey, welcome)
	if err != nil {
		return nil, err
	}
	if err := writeMarshal(st, confirm.Marshal); err != nil {
		return nil, err
	}
	if b, err = ReadMsg(st, MaxMsgSize); err != nil {
		return nil, err
	}
	done, err := ParseDone(b)
	if err != nil {
		return nil, err
	}
	if !done.OK {
		return nil, refused(done.Error)
	}
	return welcome, nil
}

func writeMarshal(w io.Writer, marshal func() ([]byte, error)) error {
	b, err := marshal()
	if err != nil {
		return err
	}
	return WriteMsg(w, b)
}

// deviceIs reports whether cert certifies the device p.
func deviceIs(cert *identity.DeviceCertV1, p netport.PeerID) bool {
	id, err := identity.DeviceID(cert.DeviceKey())
	return err == nil && netport.PeerID(id) == p
}

// ---- adding the contact ----

// maxNameTries bounds the numbered variants tried for a taken name.
const maxNameTries = 100

// addContact adds persona with device p, or adds p to its devices if it is
// already a contact (its name unchanged). The name is the first non-empty
// of names, else DefaultContactName; if taken, a numbered variant (alice-2).
func (s *Service) addContact(persona string, p netport.PeerID, names ...string) (Contact, error) {
	if c, err := s.cfg.Store.Get(persona); err == nil {
		if err := s.cfg.Store.SetDevices(persona, mergeDevices(c.Devices, []string{p.String()})); err != nil {
			return Contact{}, err
		}
		return s.cfg.Store.Get(persona)
	} else if !errors.Is(err, ErrNotFound) {
		return Contact{}, err
	}
	base := DefaultContactName(persona)
	for _, n := range names {
		if n != "" && CheckName(n) == nil {
			base = n
			break
		}
	}
	for i := 1; i <= maxNameTries; i++ {
		name := numbered(base, i)
		err := s.cfg.Store.Add(Contact{Persona: persona, Name: name, Added: s.cfg.Now(), Devices: []string{p.String()}})
		if errors.Is(err, ErrNameTaken) {
			continue
		}
		if err != nil {
			return Contact{}, err
		}
		if i > 1 {
			s.log.Warn("contact name taken; numbered", "persona", persona, "wanted", base, "name", name)
		}
		return s.cfg.Store.Get(persona)
	}
	return Contact{}, fmt.Errorf("%w: %q and %d numbered variants", ErrNameTaken, base, maxNameTries-1)
}

// DefaultContactName is the pet name a persona gets when nobody chose one:
// contact- and 6 characters of its did:key that differ between keys (past
// the z6Mk every Ed25519 did:key starts with).
func DefaultContactName(persona string) string {
	s := strings.TrimPrefix(persona, "did:key:z")
	s = strings.TrimPrefix(s, "6Mk")
	if len(s) > 6 {
		s = s[:6]
	}
	return "contact-" + s
}

// numbered is name for i == 1, else name-i, shortened so that it stays
// within MaxNameLen.
func numbered(name string, i int) string {
	if i == 1 {
		return name
	}
	suffix := fmt.Sprintf("-%d", i)
	for len(name)+len(suffix) > MaxNameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimRightFunc(name, unicode.IsSpace) + suffix
}

func mergeDevices(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range append(slices.Clone(b), a...) {
		if !seen[d] && len(out) < MaxDevices {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
