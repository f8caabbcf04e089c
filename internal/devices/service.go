package devices

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/pairing"
)

// Keys is what the service needs of this node's key store
// (*keystore.Store).
type Keys interface {
	DefaultPersona() keystore.PersonaInfo
	// RootSeed returns a copy of the root seed; the service clears it
	// after sending it to a device that showed a valid code.
	RootSeed() []byte
	DeviceCert(personaID string) (*identity.DeviceCertV1, error)
}

var _ Keys = (*keystore.Store)(nil)

// Config is what a Service is built from. Net, KV and Keys are required;
// the rest may be left zero.
type Config struct {
	Net netport.Network
	// KV is the node's store; the devices are kept under "dv/".
	KV   kv.Store
	Keys Keys
	// Advertised returns up to max of this device's addresses, best
	// first (put in pairing codes and welcomes). nil: none.
	Advertised func(max int) []string
	// FetchRecord fetches the identity record of device p (the node's
	// discovery); LearnAddrs uses it. nil: addresses are never learnt.
	FetchRecord func(ctx context.Context, p netport.PeerID) (*idrecord.Record, error)
	// Changed is called after a device was paired (the node refreshes its
	// contact set and republishes its identity record). Address updates
	// do not call it.
	Changed func()
	// Event publishes an event (device.pairing, device.paired,
	// device.pair_failed) on the node's bus. nil: dropped.
	Event  func(kind string, data any)
	Logger *slog.Logger     // nil: discarded
	Now    func() time.Time // nil: time.Now
	// Timeout bounds one run of the protocol on the paired side; 0 means
	// PairTimeout.
	Timeout time.Duration
}

// Service keeps the own devices, serves the pairing protocol and connects
// to own devices. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	own atomic.Pointer[[]Device] // cached; replaced under storeMu
	// storeMu serialises writes of device records with reloading the
	// cache, so the cache is never older than the last write.
	storeMu sync.Mutex

	pairMu   sync.Mutex
	codes    map[[32]byte]time.Time // SHA-256 of a shown secret -> expiry
	failures []time.Time            // wrong secrets, within the last minute

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	runMu  sync.Mutex // guards started, closed and wg.Add
	start  bool
	closed bool
	wg     sync.WaitGroup
}

// New makes the service and loads the stored devices. It registers
// nothing on the network until Start.
func New(cfg Config) (*Service, error) {
	if cfg.Net == nil || cfg.KV == nil || cfg.Keys == nil {
		return nil, errors.New("devices: Config needs Net, KV and Keys")
	}
	if cfg.Advertised == nil {
		cfg.Advertised = func(int) []string { return nil }
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	if cfg.Event == nil {
		cfg.Event = func(string, any) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = PairTimeout
	}
	s := &Service{cfg: cfg, log: cfg.Logger, codes: map[[32]byte]time.Time{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.reload(); err != nil {
		s.log.Error("read own devices", "err", err)
		s.own.Store(&[]Device{})
	}
	return s, nil
}

// Start serves the pairing protocol.
func (s *Service) Start() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.closed {
		return netport.ErrClosed
	}
	if !s.start {
		s.start = true
		s.cfg.Net.Handle(pairing.ProtocolID, s.serve)
	}
	return nil
}

// Close stops serving, aborts pairings under way and waits for the
// service's goroutines.
func (s *Service) Close() error {
	s.runMu.Lock()
	if s.closed {
		s.runMu.Unlock()
		return nil
	}
	s.closed = true
	started := s.start
	s.runMu.Unlock()
	if started {
		s.cfg.Net.Handle(pairing.ProtocolID, nil)
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// enter counts one task Close waits for (its end: s.wg.Done); false if
// closed.
func (s *Service) enter() bool {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goRun runs fn on a goroutine Close waits for; false if closed.
func (s *Service) goRun(fn func()) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// List returns the paired devices, oldest first. The caller may keep the
// slice; it must not change the devices' byte slices.
func (s *Service) List() []Device {
	if p := s.own.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// IsOwn reports whether p is a paired device of our persona.
func (s *Service) IsOwn(p netport.PeerID) bool {
	if l := s.own.Load(); l != nil {
		return slices.ContainsFunc(*l, func(d Device) bool { return d.PeerID == p })
	}
	return false
}

func (s *Service) reload() error {
	ds, err := load(s.cfg.KV, s.log)
	if err != nil {
		return err
	}
	s.own.Store(&ds)
	return nil
}

// store writes d and reloads the cache. full, if set, refuses a device
// not yet stored once the list is full.
func (s *Service) store(d Device, full bool) error {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if full && !s.IsOwn(d.PeerID) && len(s.List()) >= MaxOwnDevices {
		return fmt.Errorf("%w: this persona already has %d devices", ErrTooManyDevices, MaxOwnDevices+1)
	}
	if err := put(s.cfg.KV, d); err != nil {
		return err
	}
	return s.reload()
}

// CreatePairing makes a one-time pairing code for this device, valid for
// ttl (0: DefaultPairTTL). Errors: ErrTooManyDevices, ErrBadTTL.
func (s *Service) CreatePairing(ttl time.Duration) (*pairing.Code, error) {
	if ttl == 0 {
		ttl = DefaultPairTTL
	}
	if len(s.List()) >= MaxOwnDevices {
		return nil, fmt.Errorf("%w: this persona already has %d devices, the most an identity record lists", ErrTooManyDevices, MaxOwnDevices+1)
	}
	if ttl < 0 || ttl > pairing.MaxTTL {
		return nil, fmt.Errorf("%w: a code lives between 1 s and %v, not %v", ErrBadTTL, pairing.MaxTTL, ttl)
	}
	self, err := peerIDBytes(s.cfg.Net.Self())
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	c, err := pairing.NewCode(self, trimAddrs(s.cfg.Advertised(pairing.MaxAddrs)), ttl, now)
	if err != nil {
		return nil, err
	}
	s.pairMu.Lock()
	for k, exp := range s.codes {
		if !now.Before(exp) {
			delete(s.codes, k)
		}
	}
	s.codes[sha256.Sum256(c.Secret[:])] = c.Expires
	s.pairMu.Unlock()
	s.cfg.Event("device.pairing", map[string]any{"expires": c.Expires.UTC().Format(time.RFC3339)})
	return c, nil
}

// takeCode consumes a pairing secret: true once per valid, unexpired code.
// Wrong secrets are counted; past MaxPairFailures a minute every attempt
// is refused, so a code cannot be guessed.
func (s *Service) takeCode(secret [pairing.SecretLen]byte) bool {
	s.pairMu.Lock()
	defer s.pairMu.Unlock()
	now := s.cfg.Now()
	s.failures = slices.DeleteFunc(s.failures, func(t time.Time) bool { return now.Sub(t) > time.Minute })
	if len(s.failures) >= MaxPairFailures {
		return false
	}
	k := sha256.Sum256(secret[:])
	exp, ok := s.codes[k]
	delete(s.codes, k)
	if !ok || !now.Before(exp) {
		s.failures = append(s.failures, now)
		return false
	}
	return true
}

// serve is the paired device's side of the pairing protocol.
func (s *Service) serve(st netport.Stream) {
	if !s.enter() {
		_ = st.Reset()
		return
	}
	defer s.wg.Done()
	s.servePair(st)
}

func (s *Service) servePair(st netport.Stream) {
	defer st.Close()
	stop := context.AfterFunc(s.ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(s.cfg.Timeout)) // a real-time deadline, whatever the clock
	send := func(b []byte, err error) bool {
		if err == nil {
			err = pairing.Write(st, b)
		}
		if err != nil {
			_ = st.Reset()
			return false
		}
		return true
	}
	refuse := func(why string) {
		send(pairing.EncodeWelcome(&pairing.Welcome{Message: why}))
	}
	b, err := pairing.Read(st)
	if err != nil {
		_ = st.Reset()
		return
	}
	hello, err := pairing.ParseHello(b)
	if err != nil {
		refuse("malformed hello")
		return
	}
	if !s.takeCode(hello.Secret) {
		s.cfg.Event("device.pair_failed", map[string]any{"peer": st.Remote().String()})
		refuse("unknown, used or expired pairing code: make a new one with `peer device add`")
		return
	}
	others := s.List()
	if len(others) >= MaxOwnDevices {
		// Several codes were out at once and the others were used first.
		refuse(fmt.Sprintf("this persona already has %d devices, the most an identity record lists", MaxOwnDevices+1))
		return
	}
	persona := s.cfg.Keys.DefaultPersona()
	welcome := &pairing.Welcome{OK: true, Seed: s.cfg.Keys.RootSeed(), PersonaName: persona.Name}
	defer clear(welcome.Seed)
	cert, err := s.cfg.Keys.DeviceCert(persona.ID)
	if err == nil {
		var self []byte
		if self, err = cert.Marshal(); err == nil {
			welcome.Devices = append(welcome.Devices, pairing.Device{Cert: self, Addrs: trimAddrs(s.cfg.Advertised(pairing.MaxAddrs))})
		}
	}
	if err != nil {
		refuse("internal error")
		s.log.Error("pairing: own certificate", "err", err)
		return
	}
	for _, d := range others {
		welcome.Devices = append(welcome.Devices, pairing.Device{Cert: d.Cert, Addrs: trimAddrs(d.Addrs), Name: d.Name})
	}
	if !send(pairing.EncodeWelcome(welcome)) {
		return
	}
	if b, err = pairing.Read(st); err != nil {
		_ = st.Reset()
		return
	}
	done := &pairing.Done{OK: true}
	joined, err := pairing.ParseJoined(b)
	var id netport.PeerID
	if err == nil {
		id, err = CheckCert(joined.Device.Cert, persona.ID, s.cfg.Now())
	}
	name := ""
	if err == nil {
		name = deviceName(joined.Device.Name, hello.Name)
		err = s.store(Device{PeerID: id, Cert: joined.Device.Cert, Addrs: trimAddrs(joined.Device.Addrs), Name: name, Added: s.cfg.Now()}, true)
	}
	if err != nil {
		done = &pairing.Done{Message: "the new device's certificate was not accepted"}
		if errors.Is(err, ErrTooManyDevices) {
			done.Message = err.Error()
		}
		s.log.Warn("pairing: joined message", "err", err)
	}
	if err == nil {
		// Before Done: once told, the new device may start and connect,
		// and the node should know it by then.
		s.cfg.Changed()
		s.log.Info("device paired", "device", id, "name", hello.Name)
		s.cfg.Event("device.paired", map[string]any{"device": id.String(), "name": name})
	}
	send(pairing.EncodeDone(done))
}

// LearnAddrs updates the stored addresses of own device p from its
// identity record (the node calls it after connecting to p).
func (s *Service) LearnAddrs(ctx context.Context, p netport.PeerID) {
	if s.cfg.FetchRecord == nil || !s.IsOwn(p) {
		return
	}
	rec, err := s.cfg.FetchRecord(ctx, p)
	if err != nil || rec == nil || rec.Persona != s.cfg.Keys.DefaultPersona().ID {
		return
	}
	for _, d := range rec.Devices {
		c, err := identity.ParseDeviceCertV1(d.Cert)
		if err != nil {
			continue
		}
		if id, err := certDevice(c); err != nil || id != p || len(d.Addrs) == 0 {
			continue
		}
		s.updateAddrs(p, trimAddrs(d.Addrs))
	}
}

func (s *Service) updateAddrs(p netport.PeerID, addrs []string) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	for _, d := range s.List() {
		if d.PeerID != p || slices.Equal(d.Addrs, addrs) {
			continue
		}
		d.Addrs = addrs
		if err := put(s.cfg.KV, d); err != nil {
			s.log.Warn("own device: store addresses", "device", p, "err", err)
			return
		}
		if err := s.reload(); err != nil {
			s.log.Error("read own devices", "err", err)
		}
	}
}

// Connect connects to own device d: by its stored addresses, else by
// whatever the network knows of it, relayed paths allowed. Once connected
// it learns d's current addresses in the background.
func (s *Service) Connect(ctx context.Context, d Device) error {
	if s.cfg.Net.Connected(d.PeerID) {
		return nil
	}
	if err := s.cfg.Net.Connect(netport.AllowLimited(ctx, "own device"), d.PeerID, d.Addrs); err != nil {
		return fmt.Errorf("own device %s: %w", d.PeerID, err)
	}
	s.goRun(func() {
		lctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		s.LearnAddrs(lctx, d.PeerID)
	})
	return nil
}
