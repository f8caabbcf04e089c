package devices

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/pairing"
)

// JoinOptions say how to join a persona as a new device.
type JoinOptions struct {
	// KeysDir is where the new key store is made; it must hold none.
	KeysDir string
	// KV receives the persona's other devices (under "dv/"); the caller
	// opens and closes it.
	KV kv.Store
	// Passphrase seals the new key store; nil = unsealed.
	Passphrase []byte
	// Name is what this device calls itself (shown on the others).
	Name string
	// Timeout bounds the whole run; 0 = PairTimeout.
	Timeout time.Duration
	// Finish, if set, runs last, once the devices are stored (the node
	// writes its API token); if it fails the join fails and the key store
	// is removed like on any other failure.
	Finish func() error
	Now    func() time.Time // nil: time.Now
}

// JoinResult is the identity a device joined.
type JoinResult struct {
	Persona string         // did:key of the persona joined
	Device  netport.PeerID // this device's new network name
	Devices []Device       // the persona's other devices, as stored
}

// CheckCode parses a pairing code as Join does, so a caller can refuse a
// damaged or expired code (pairing.ErrMalformed, pairing.ErrExpired)
// before it prepares anything.
func CheckCode(code string, now time.Time) error {
	_, _, err := parseCode(code, now)
	return err
}

func parseCode(code string, now time.Time) (*pairing.Code, netport.PeerID, error) {
	c, err := pairing.ParseCode(code, now)
	if err != nil {
		return nil, "", err
	}
	target, err := peerIDText(c.PeerID)
	if err != nil {
		return nil, "", err
	}
	return c, target, nil
}

// Join makes this device a new device of the persona whose device showed
// code, talking through net (a short-lived network the caller builds for
// this; only outbound streams are used). It connects to that device,
// proves it holds the code, receives the persona's root seed and devices,
// checks that they belong to the persona the seed derives and that the
// device answering is one of them, creates the key store in
// opts.KeysDir with its own device key and certificate, tells the other
// device and stores the persona's other devices in opts.KV.
//
// If anything fails once the key store exists, the key store is removed:
// no half-joined identity is left. Errors: pairing.ErrMalformed and
// pairing.ErrExpired for a bad code, pairing.ErrRefused when the other
// device says no, keystore.ErrExists when KeysDir already holds keys.
func Join(ctx context.Context, net netport.Network, code string, opts JoinOptions) (JoinResult, error) {
	if net == nil || opts.KV == nil || opts.KeysDir == "" {
		return JoinResult{}, errors.New("devices: Join needs a network, KeysDir and KV")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c, target, err := parseCode(code, now())
	if err != nil {
		return JoinResult{}, err
	}
	if ok, err := keystore.Exists(opts.KeysDir); err != nil {
		return JoinResult{}, err
	} else if ok {
		return JoinResult{}, fmt.Errorf("%s: %w", opts.KeysDir, keystore.ErrExists)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = PairTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	if err := net.Connect(ctx, target, c.Addrs); err != nil {
		return JoinResult{}, fmt.Errorf("could not reach the device that showed the code (is it running and on the same network?): %w", err)
	}
	st, err := net.NewStream(ctx, target, pairing.ProtocolID)
	if err != nil {
		return JoinResult{}, fmt.Errorf("the other device does not speak the pairing protocol: %w", err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	send := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		return pairing.Write(st, b)
	}
	if err := send(pairing.EncodeHello(&pairing.Hello{Secret: c.Secret, Name: opts.Name})); err != nil {
		return JoinResult{}, err
	}
	b, err := pairing.Read(st)
	if err != nil {
		return JoinResult{}, fmt.Errorf("pairing: %w", err)
	}
	w, err := pairing.ParseWelcome(b)
	if err != nil {
		return JoinResult{}, err
	}
	defer clear(w.Seed)
	if !w.OK {
		return JoinResult{}, fmt.Errorf("%w: %s", pairing.ErrRefused, w.Message)
	}
	// The seed must be the persona of the device we dialled: the first
	// device is that device, certified by the persona the seed derives.
	persona := identity.DID(identity.PersonaKey(w.Seed, 0).Public().(ed25519.PublicKey))
	t := now()
	var others []Device
	for i, d := range w.Devices {
		id, err := CheckCert(d.Cert, persona, t)
		if err != nil {
			return JoinResult{}, fmt.Errorf("pairing: device %d of the welcome: %w", i, err)
		}
		if i == 0 && id != target {
			return JoinResult{}, errors.New("pairing: the welcome does not come from a device of the persona it hands over")
		}
		others = append(others, Device{PeerID: id, Cert: d.Cert, Addrs: d.Addrs, Name: d.Name, Added: t.Add(time.Duration(i) * time.Millisecond)})
	}

	ks, _, err := keystore.Create(opts.KeysDir, keystore.CreateOptions{Seed: w.Seed, Passphrase: opts.Passphrase, FirstPersonaName: w.PersonaName, Now: opts.Now})
	if err != nil {
		return JoinResult{}, fmt.Errorf("create identity: %w", err)
	}
	ok := false
	defer func() {
		if !ok { // the other device did not record us: leave no half-joined identity
			_ = os.RemoveAll(opts.KeysDir)
		}
	}()
	cert, err := ks.DeviceCert(persona)
	if err != nil {
		return JoinResult{}, err
	}
	certB, err := cert.Marshal()
	if err != nil {
		return JoinResult{}, err
	}
	dev, err := certDevice(cert)
	if err != nil {
		return JoinResult{}, err
	}
	if err := send(pairing.EncodeJoined(&pairing.Joined{Device: pairing.Device{Cert: certB, Name: opts.Name}})); err != nil {
		return JoinResult{}, err
	}
	if b, err = pairing.Read(st); err != nil {
		return JoinResult{}, fmt.Errorf("pairing: %w", err)
	}
	done, err := pairing.ParseDone(b)
	if err != nil {
		return JoinResult{}, err
	}
	if !done.OK {
		return JoinResult{}, fmt.Errorf("%w: %s", pairing.ErrRefused, done.Message)
	}
	if err := storeAll(opts.KV, others); err != nil {
		return JoinResult{}, err
	}
	if opts.Finish != nil {
		if err := opts.Finish(); err != nil {
			return JoinResult{}, err
		}
	}
	ok = true
	return JoinResult{Persona: persona, Device: dev, Devices: others}, nil
}

// storeAll writes ds in one batch and makes it durable.
func storeAll(st kv.Store, ds []Device) error {
	b := st.NewBatch()
	defer b.Discard()
	for _, d := range ds {
		if err := put(b, d); err != nil {
			return fmt.Errorf("store own devices: %w", err)
		}
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("store own devices: %w", err)
	}
	if err := st.Sync(); err != nil {
		return fmt.Errorf("store own devices: %w", err)
	}
	return nil
}
