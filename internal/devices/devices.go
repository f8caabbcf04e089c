// Package devices is the own-devices capability: the other devices of this
// node's persona, paired by a one-time code (docs/devices.md). It keeps
// their records (certificate, last known addresses, name) in the node's
// key-value store, serves the paired side of the pairing protocol
// /peer/pair/1.0.0, runs the joining side (Join), connects to own devices
// and learns their new addresses from their identity records.
//
// It reaches the network only through internal/netport; the code and the
// messages of the protocol are internal/pairing's. It imports no libp2p
// (internal/archtest checks): a certificate names its device by
// identity.DeviceID, which is the device's netport.PeerID on the real
// network. The node constructs the Service and plugs the port in; sharing
// uses List, IsOwn and Connect to keep the persona's MiMei in sync.
package devices

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mr-tron/base58"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/pairing"
)

// Pairing timing and limits.
const (
	// PairTimeout bounds one run of the pairing protocol, on both sides.
	PairTimeout = 30 * time.Second
	// DefaultPairTTL is how long a pairing code lives unless told.
	DefaultPairTTL = 10 * time.Minute
	// MaxPairFailures is how many wrong codes a minute pairing takes
	// before it refuses everyone for a while, so a code cannot be guessed.
	MaxPairFailures = 10
	// MaxOwnDevices is how many other devices a persona may pair besides
	// this one: an identity record lists at most 8.
	MaxOwnDevices = 7
)

// Errors callers branch on; details are wrapped with %w.
var (
	// ErrTooManyDevices: the persona already has MaxOwnDevices+1 devices.
	ErrTooManyDevices = errors.New("devices: too many devices")
	// ErrBadTTL: a pairing code's lifetime is out of range (1 s to
	// pairing.MaxTTL).
	ErrBadTTL = errors.New("devices: bad pairing code lifetime")
)

// Device is another device of our persona.
type Device struct {
	PeerID netport.PeerID
	Cert   []byte // encoded identity.DeviceCert
	Addrs  []string
	Name   string
	Added  time.Time
}

// Records: "dv/<peer ID>" -> the CBOR array [Cert, Addrs, Name, Added]
// (Added in Unix milliseconds). The peer ID is its text form (12D3KooW…).
var recordPrefix = []byte("dv/")

type deviceWire struct {
	_     struct{} `cbor:",toarray"`
	Cert  []byte
	Addrs []string
	Name  string
	Added int64
}

func recordKey(p netport.PeerID) []byte { return append(bytes.Clone(recordPrefix), p...) }

// load reads the stored devices, oldest first. A record that does not
// decode is logged and left out: one damaged record must not hide the
// others (nor stop the node).
func load(r kv.Reader, log *slog.Logger) ([]Device, error) {
	it := r.Iter(kv.IterOptions{Prefix: recordPrefix})
	defer it.Close()
	var out []Device
	for it.Next() {
		p := netport.PeerID(it.Key()[len(recordPrefix):])
		if p == "" {
			log.Error("own devices: record without a peer ID", "key", string(it.Key()))
			continue
		}
		var w deviceWire
		if err := codec.Unmarshal(it.Value(), &w); err != nil {
			log.Error("own devices: damaged record", "device", p, "err", err)
			continue
		}
		out = append(out, Device{PeerID: p, Cert: w.Cert, Addrs: w.Addrs, Name: w.Name, Added: time.UnixMilli(w.Added)})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("own devices: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Device) int { return a.Added.Compare(b.Added) })
	return out, nil
}

func put(w kv.Writer, d Device) error {
	if d.PeerID == "" {
		return errors.New("own devices: no peer ID")
	}
	b, err := codec.Marshal(&deviceWire{Cert: d.Cert, Addrs: d.Addrs, Name: d.Name, Added: d.Added.UnixMilli()})
	if err != nil {
		return err
	}
	return w.Set(recordKey(d.PeerID), b)
}

// CheckCert verifies that raw is a valid certificate of persona (a
// did:key) at now and returns the certified device's network name.
func CheckCert(raw []byte, persona string, now time.Time) (netport.PeerID, error) {
	c, err := identity.ParseDeviceCertV1(raw)
	if err != nil {
		return "", err
	}
	if err := c.Verify(now, nil); err != nil {
		return "", err
	}
	if c.Persona != persona {
		return "", fmt.Errorf("device certificate is for %s, not %s", c.Persona, persona)
	}
	return certDevice(c)
}

func certDevice(c *identity.DeviceCertV1) (netport.PeerID, error) {
	id, err := identity.DeviceID(c.DeviceKey())
	return netport.PeerID(id), err
}

// peerIDBytes is the binary form of a peer ID a pairing code carries
// (libp2p's raw peer ID: a multihash); peerIDText is the way back.
func peerIDBytes(p netport.PeerID) ([]byte, error) {
	b, err := base58.Decode(string(p))
	if err != nil || !isMultihash(b) {
		return nil, fmt.Errorf("devices: %q is not a peer ID a pairing code can carry", p)
	}
	return b, nil
}

func peerIDText(b []byte) (netport.PeerID, error) {
	if !isMultihash(b) {
		return "", fmt.Errorf("%w: bad peer ID in the code", pairing.ErrMalformed)
	}
	return netport.PeerID(base58.Encode(b)), nil
}

// isMultihash reports whether b is one multihash: a varint hash code, a
// varint digest length and exactly that many bytes.
func isMultihash(b []byte) bool {
	_, n := binary.Uvarint(b)
	if n <= 0 {
		return false
	}
	l, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return false
	}
	return l > 0 && uint64(len(b)-n-m) == l
}

func trimAddrs(a []string) []string {
	if len(a) > pairing.MaxAddrs {
		return a[:pairing.MaxAddrs]
	}
	return a
}

// deviceName is the first non-blank name, trimmed.
func deviceName(names ...string) string {
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			return n
		}
	}
	return ""
}
