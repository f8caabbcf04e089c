// Package node is the composition root: it reads the configuration, opens
// the data directory (lock, keys, embedded store), builds every service and
// plugs the edges (HTTP API, libp2p identity) into them. It is the only
// package that imports everything; only cmd/peer and test harnesses import it.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peer-node/peer/internal/apibackend"
	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/config"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/fsutil"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/share"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Sentinel errors callers branch on.
var (
	// ErrAlreadyInitialised: peer init on a directory that has an identity.
	ErrAlreadyInitialised = errors.New("already initialised")
	// ErrPassphraseNeeded: the keys are sealed and no passphrase was given.
	ErrPassphraseNeeded = errors.New("passphrase needed")
)

// Layout of the data directory.
const (
	ConfigFile = "config.toml"
	KeysDir    = "keys"
	StoreDir   = "store"
	BlocksDir  = "blocks"
)

// PassphraseFunc supplies the passphrase when sealed keys must be opened.
// It returns ErrPassphraseNeeded (or any error) when none can be had.
type PassphraseFunc func() ([]byte, error)

// Options configure a node. DataDir is required.
type Options struct {
	DataDir    string
	Overrides  []string       // "key=value" settings that win over file and env
	Environ    []string       // environment for PEER_* overrides (os.Environ())
	Passphrase PassphraseFunc // nil: sealed keys cannot be opened
	// NewPassphrase seals the identity a first `up` creates; nil = unsealed.
	NewPassphrase []byte
	Logger        *slog.Logger // nil: built from the config, writing to LogOutput
	LogOutput     io.Writer    // nil: os.Stderr
}

// Node is a running peer.
type Node struct {
	cfg      config.Config
	dir      string
	log      *slog.Logger
	lock     *datadir.DirLock
	keys     *keystore.Store
	store    *pebblekv.Store
	blocks   *packstore.Store
	mimei    *mimei.Store
	contacts *contacts.Store
	share    *share.Service
	flows    *share.Flows // nil when network.enabled = false
	net      *netSvc      // nil when network.enabled = false
	bus      *events.Bus
	space    *diskspace.Guard
	reg      *prometheus.Registry
	srv      *http.Server
	ln       net.Listener
	apiURL   string
	token    string
	deviceID string
	started  time.Time
	created  string // recovery phrase when this start created the identity
	cancel   context.CancelFunc
	serveErr chan error

	closeOnce sync.Once
	closeErr  error
}

// LoadConfig reads the data directory's config with env and overrides
// applied, writing the commented default file first if there is none.
func LoadConfig(dir string, environ, overrides []string) (config.Config, error) {
	path := filepath.Join(dir, ConfigFile)
	if err := config.WriteDefault(path); err != nil {
		return config.Config{}, fmt.Errorf("write default config: %w", err)
	}
	return config.Resolve(path, environ, overrides)
}

// InitOptions say how to create an identity.
type InitOptions struct {
	Restore     string // a recovery phrase to restore from; "" = make a new one
	Passphrase  []byte // seal the keys with it; nil = unsealed (0600 files)
	PersonaName string // name of the first persona; "" = "default"
}

// InitResult describes a newly created identity. Mnemonic is set only for a
// new (not restored) identity: show it to the user once.
type InitResult struct {
	Persona  string
	Device   string
	Mnemonic string
}

// Init creates the data directory's identity, refusing if one exists or a
// node is running there. A crash midway leaves no identity at all (the key
// store commits by one rename), so Init or Start may simply run again.
func Init(dir string, opts InitOptions) (InitResult, error) {
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
		return InitResult{}, fmt.Errorf("%s already holds an identity: %w (to start over, move it away first)", dir, ErrAlreadyInitialised)
	}
	ks, mnemonic, err := keystore.Create(kdir, keystore.CreateOptions{
		Mnemonic: opts.Restore, Passphrase: opts.Passphrase, FirstPersonaName: opts.PersonaName,
	})
	if err != nil {
		return InitResult{}, err
	}
	if _, err := ensureToken(dir); err != nil {
		return InitResult{}, err
	}
	dev, err := p2p.PeerID(ks.DevicePublicKey())
	if err != nil {
		return InitResult{}, err
	}
	res := InitResult{Persona: ks.DefaultPersona().ID, Device: dev.String()}
	if opts.Restore == "" {
		res.Mnemonic = mnemonic
	}
	return res, nil
}

// ensureToken returns the API token, creating it (0600) if missing.
func ensureToken(dir string) (string, error) {
	path := datadir.TokenPath(dir)
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) >= 32 {
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
				if err := os.Chmod(path, 0o600); err != nil {
					return "", err
				}
			}
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read API token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := fsutil.WriteFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write API token: %w", err)
	}
	return tok, nil
}

// Start opens the data directory and starts the node: it fails at once if
// another node holds the directory, creates the identity on first start,
// and serves the API. Stop it with Close.
func Start(opts Options) (n *Node, err error) {
	dir := opts.DataDir
	if dir == "" {
		return nil, errors.New("no data directory")
	}
	if err := datadir.Prepare(dir); err != nil {
		return nil, err
	}
	n = &Node{dir: dir, started: time.Now()}
	if n.lock, err = datadir.Lock(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()
	if n.cfg, err = LoadConfig(dir, opts.Environ, opts.Overrides); err != nil {
		return n, err
	}
	n.log = opts.Logger
	if n.log == nil {
		n.log = newLogger(n.cfg, opts.LogOutput)
	}
	n.bus = events.New(0)
	if err = n.openDisk(); err != nil {
		return n, err
	}
	if err = n.openKeys(opts); err != nil {
		return n, err
	}
	if n.token, err = ensureToken(dir); err != nil {
		return n, err
	}
	if n.store, err = pebblekv.Open(filepath.Join(dir, StoreDir), n.storeOptions()); err != nil {
		return n, fmt.Errorf("open store: %w", err)
	}
	if err = n.openMiMei(); err != nil {
		return n, err
	}
	if err = n.openContacts(); err != nil {
		return n, err
	}
	if err = n.openShare(); err != nil {
		return n, err
	}
	n.reg = prometheus.NewRegistry()
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "peer_personas", Help: "Personas held by this node.",
	}, func() float64 { return float64(len(n.keys.Personas())) }))
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "peer_uptime_seconds", Help: "Seconds since the node started.",
	}, func() float64 { return time.Since(n.started).Seconds() }))
	if err = n.startNetwork(); err != nil {
		return n, err
	}
	if err = n.serveAPI(); err != nil {
		return n, err
	}
	if err = datadir.WriteRuntime(dir, datadir.Runtime{Version: 1, PID: os.Getpid(), API: n.apiURL, Started: n.started}); err != nil {
		if !errors.Is(diskspace.NoSpace(err), diskspace.ErrDiskFull) {
			return n, fmt.Errorf("write runtime file: %w", err)
		}
		// A disk with not a byte free: serve anyway; only the CLI's way
		// to find the API is missing.
		n.log.Warn("disk full: cannot write node.json, so the CLI will not find this node; its API is at "+n.apiURL, "err", err)
		err = nil
	}
	n.bus.Publish("node.started", map[string]string{"persona": n.keys.DefaultPersona().ID, "device": n.deviceID})
	n.log.Info("node started", "persona", n.keys.DefaultPersona().ID, "device", n.deviceID, "api", n.apiURL, "data", dir)
	return n, nil
}

func (n *Node) openKeys(opts Options) error {
	kdir := filepath.Join(n.dir, KeysDir)
	exists, err := keystore.Exists(kdir)
	if err != nil {
		return err
	}
	if !exists {
		ks, mnemonic, err := keystore.Create(kdir, keystore.CreateOptions{Passphrase: opts.NewPassphrase})
		if err != nil {
			return fmt.Errorf("create identity: %w", err)
		}
		n.keys, n.created = ks, mnemonic
		n.log.Info("created a new identity", "persona", ks.DefaultPersona().ID, "sealed", ks.Sealed())
	} else {
		sealed, err := keystore.IsSealed(kdir)
		if err != nil {
			return err
		}
		var pass []byte
		if sealed {
			if opts.Passphrase == nil {
				return fmt.Errorf("the keys in %s are sealed: %w (give it with --passphrase-file or PEER_PASSPHRASE)", kdir, ErrPassphraseNeeded)
			}
			if pass, err = opts.Passphrase(); err != nil {
				return err
			}
		}
		if n.keys, err = keystore.Open(kdir, pass); err != nil {
			return err
		}
	}
	dev, err := p2p.PeerID(n.keys.DevicePublicKey())
	if err != nil {
		return err
	}
	n.deviceID = dev.String()
	return nil
}

func (n *Node) serveAPI() error {
	var afterBackup func(mimei.ID, uint64)
	if n.flows != nil {
		afterBackup = n.flows.AfterBackup
	}
	api, err := httpapi.New(httpapi.Options{
		Token: n.token, MaxBodyBytes: n.cfg.API.MaxBodyBytes,
		Backend: &apibackend.Identity{Keys: n.keys, Device: n.deviceID, APIURL: n.APIURL, Started: n.started, DataDir: n.dir, Disk: n.apiDisk, Log: n.log},
		Store:   &apibackend.Store{MiMei: n.mimei, Keys: n.keys, AfterBackup: afterBackup, StoreDir: filepath.Join(n.dir, StoreDir)},
		Net:     &netAPI{n: n},
		Share:   &apibackend.Share{Service: n.share, Flows: n.flows, Contacts: n.contacts, MiMei: n.mimei},
		Console: apibackend.OpenConsole(n.store, n.log),
		Bus:     n.bus, Registry: n.reg, Logger: n.log,
		Hosts: config.SplitList(n.cfg.API.Hosts),
	})
	if err != nil {
		return err
	}
	n.ln, err = net.Listen("tcp", n.cfg.API.Listen)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) && !n.cfg.IsSet("api.listen") {
		// The default port is taken (another node, another program). The user
		// never chose it, so take any free port: the CLI finds it through the
		// runtime file, and the address is printed.
		host, _, _ := net.SplitHostPort(n.cfg.API.Listen)
		n.log.Warn("default API port busy; using a free port instead (set api.listen to choose one)", "wanted", n.cfg.API.Listen)
		n.ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", n.cfg.API.Listen, err)
	}
	n.apiURL = "http://" + n.ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.watchDisk(ctx, 15*time.Second)
	n.srv = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	n.serveErr = make(chan error, 1)
	go func() {
		if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.serveErr <- err
		}
		close(n.serveErr)
	}()
	return nil
}

// Persona is the default persona's did:key.
func (n *Node) Persona() string { return n.keys.DefaultPersona().ID }

// Device is this device's libp2p peer ID.
func (n *Node) Device() string { return n.deviceID }

// APIURL is the address the API listens on.
func (n *Node) APIURL() string { return n.apiURL }

// Token is the API bearer token.
func (n *Node) Token() string { return n.token }

// CreatedMnemonic is the recovery phrase if this start created the identity
// (show it once), else "".
func (n *Node) CreatedMnemonic() string { return n.created }

// Events is the node's event bus.
func (n *Node) Events() *events.Bus { return n.bus }

// Err delivers a fatal serving error, or is closed when serving stops.
func (n *Node) Err() <-chan error { return n.serveErr }

// Close stops the node: it ends event streams, lets API requests finish for
// up to 3 s, then closes the store and releases the data directory.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.bus != nil {
			n.bus.Close()
		}
		if n.cancel != nil {
			n.cancel()
		}
		if n.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := n.srv.Shutdown(ctx); err != nil {
				n.srv.Close()
			}
			cancel()
		}
		if n.flows != nil {
			errs = append(errs, n.flows.Close())
		}
		if n.net != nil {
			errs = append(errs, n.net.close())
		}
		if n.blocks != nil {
			errs = append(errs, n.blocks.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		if n.apiURL != "" {
			errs = append(errs, datadir.RemoveRuntime(n.dir))
		}
		if n.lock != nil {
			errs = append(errs, n.lock.Release())
		}
		if n.log != nil && n.apiURL != "" {
			n.log.Info("node stopped")
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	hopts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// openMiMei opens the block store (pack files under blocks/, their index in
// the shared embedded store) and the MiMei store over both.
func (n *Node) openMiMei() (err error) {
	if n.blocks, err = packstore.Open(filepath.Join(n.dir, BlocksDir), n.store, packstore.Options{Space: n.space, Logger: n.log.With("part", "blocks")}); err != nil {
		return fmt.Errorf("open block store: %w", err)
	}
	n.mimei, err = mimei.NewStore(mimei.Options{
		KV: n.store, Blocks: n.blocks, Logger: n.log, Space: n.space,
		Signer: func(persona string) (mimei.Signer, error) {
			cert, err := n.keys.DeviceCert(persona)
			if err != nil {
				return mimei.Signer{}, err
			}
			return mimei.Signer{Device: n.keys.DeviceKey(), Cert: cert}, nil
		},
		MarkExtra: func(ctx context.Context, fn func(cid.CID) error) error {
			if n.share == nil {
				return nil
			}
			return n.share.MarkBlocks(ctx, fn)
		},
	})
	return err
}

// MiMei is the node's MiMei store (for in-process tests and tools).
func (n *Node) MiMei() *mimei.Store { return n.mimei }
