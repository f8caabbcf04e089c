package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/devices"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/p2p"
)

// JoinOptions say how to join a persona as a new device.
type JoinOptions struct {
	Passphrase []byte        // seals the new key store; nil = unsealed
	Name       string        // what this device calls itself (shown on the others)
	Timeout    time.Duration // 0 = 30 s
	// Listen is where the short-lived pairing host listens; nil = loopback
	// on a free port (it only dials out).
	Listen []string
}

// Join makes dir's identity a new device of the persona whose device
// showed code (internal/devices runs the pairing protocol over a
// short-lived libp2p host). dir must hold no identity yet. Run `peer up`
// afterwards: the node then brings over the persona's MiMei.
func Join(ctx context.Context, dir, code string, opts JoinOptions) (InitResult, error) {
	if err := devices.CheckCode(code, time.Now()); err != nil {
		return InitResult{}, err
	}
	if err := datadir.Prepare(dir); err != nil {
		return InitResult{}, err
	}
	lock, err := datadir.Lock(dir)
	if err != nil {
		return InitResult{}, err
	}
	defer lock.Release()
	if _, err := LoadConfig(dir, nil, nil); err != nil {
		return InitResult{}, err
	}
	kdir := filepath.Join(dir, KeysDir)
	if ok, err := keystore.Exists(kdir); err != nil {
		return InitResult{}, err
	} else if ok {
		return InitResult{}, fmt.Errorf("%s already holds an identity: %w (join with a fresh data directory)", dir, ErrAlreadyInitialised)
	}
	_, tmpKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		return InitResult{}, err
	}
	listen := opts.Listen
	if listen == nil {
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	h, err := p2p.New(ctx, tmpKey, p2p.Options{ListenAddrs: listen, DHT: "off", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return InitResult{}, fmt.Errorf("pairing host: %w", err)
	}
	defer h.Close()
	st, err := pebblekv.Open(filepath.Join(dir, StoreDir), pebblekv.Options{})
	if err != nil {
		return InitResult{}, fmt.Errorf("open store: %w", err)
	}
	res, err := devices.Join(ctx, h.Port(), code, devices.JoinOptions{
		KeysDir: kdir, KV: st, Passphrase: opts.Passphrase, Name: opts.Name, Timeout: opts.Timeout,
		Finish: func() error { _, err := ensureToken(dir); return err },
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return InitResult{}, err
	}
	return InitResult{Persona: res.Persona, Device: res.Device.String()}, nil
}
