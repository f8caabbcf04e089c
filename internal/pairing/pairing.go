// Package pairing defines how a second device joins a persona: the
// one-time pairing code a paired device shows, and the four messages of
// the pairing protocol by which the new device proves it holds the code,
// receives the persona's root seed and the list of the persona's devices,
// and tells back its own device certificate. See docs/devices.md.
//
// Domain package: it imports only the standard library, internal/codec and
// base58 (no libp2p, no I/O beyond the frame helpers); the node carries
// the messages.
package pairing

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/mr-tron/base58"

	"github.com/peer-node/peer/internal/codec"
)

// ProtocolID is the libp2p protocol of pairing; the version is in the ID.
const ProtocolID = "/peer/pair/1.0.0"

// Version is the code and message format this code writes and reads.
const Version = 1

// CodePrefix starts every pairing code's text form.
const CodePrefix = "peer:pair:"

// Limits, checked before decoding or allocating.
const (
	SecretLen   = 16
	SeedLen     = 64
	MaxCodeLen  = 2048 // characters of a code's text form
	MaxCodeSize = 1400 // bytes of a code's encoding
	MaxAddrs    = 8
	MaxAddrLen  = 256
	MaxPeerID   = 64 // bytes of a peer ID
	MaxDevices  = 8
	MaxCertLen  = 512
	MaxNameLen  = 64
	MaxMessage  = 512
	MaxFrame    = 16 << 10
	// MaxTTL bounds how long a code stays valid.
	MaxTTL = time.Hour
)

// Errors callers branch on; details are wrapped with %w.
var (
	ErrMalformed = errors.New("pairing: malformed message")
	ErrExpired   = errors.New("pairing: the code has expired")
	// ErrRefused: the other device said no (wrong, used or expired code).
	ErrRefused = errors.New("pairing: refused")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Code is what a paired device shows to let one new device join: how to
// reach it and a one-time secret.
//
// Wire form: the CBOR array [Version, PeerID, Addrs, Secret, Expires]
// (PeerID the raw peer ID bytes, Expires Unix seconds); text form
// CodePrefix + base58 of that.
type Code struct {
	PeerID  []byte
	Addrs   []string
	Secret  [SecretLen]byte
	Expires time.Time
}

type codeWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	PeerID  []byte
	Addrs   []string
	Secret  []byte
	Expires int64
}

// NewCode makes a code for the device peerID reachable at addrs, valid for
// ttl from now, with a fresh random secret.
func NewCode(peerID []byte, addrs []string, ttl time.Duration, now time.Time) (*Code, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return nil, fmt.Errorf("pairing: a code lives between 1 s and %v, not %v", MaxTTL, ttl)
	}
	if len(addrs) > MaxAddrs {
		addrs = addrs[:MaxAddrs]
	}
	c := &Code{PeerID: bytes.Clone(peerID), Addrs: append([]string(nil), addrs...), Expires: now.Add(ttl).Truncate(time.Second)}
	if _, err := rand.Read(c.Secret[:]); err != nil {
		return nil, err
	}
	if _, err := c.marshal(); err != nil {
		return nil, err
	}
	return c, nil
}

func checkAddrs(addrs []string) error {
	if len(addrs) > MaxAddrs {
		return malformed("%d addresses, limit %d", len(addrs), MaxAddrs)
	}
	for _, a := range addrs {
		if err := checkText("address", a, MaxAddrLen); err != nil {
			return err
		}
		if a == "" {
			return malformed("empty address")
		}
	}
	return nil
}

func checkText(what, s string, max int) error {
	if len(s) > max {
		return malformed("%s of %d bytes, limit %d", what, len(s), max)
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return malformed("%s has a control or invalid character", what)
		}
	}
	return nil
}

func (c *Code) marshal() ([]byte, error) {
	if len(c.PeerID) == 0 || len(c.PeerID) > MaxPeerID {
		return nil, malformed("peer ID of %d bytes", len(c.PeerID))
	}
	if err := checkAddrs(c.Addrs); err != nil {
		return nil, err
	}
	b, err := codec.Marshal(&codeWire{Version: Version, PeerID: c.PeerID, Addrs: c.Addrs, Secret: c.Secret[:], Expires: c.Expires.Unix()})
	if err != nil {
		return nil, malformed("code: %v", err)
	}
	if len(b) > MaxCodeSize {
		return nil, malformed("code of %d bytes, limit %d", len(b), MaxCodeSize)
	}
	return b, nil
}

// String is the code's text form, to show or paste.
func (c *Code) String() string {
	b, err := c.marshal()
	if err != nil {
		return ""
	}
	return CodePrefix + base58.Encode(b)
}

// ParseCode reads a code's text form (white space around it ignored) and
// checks it has not expired at now.
func ParseCode(s string, now time.Time) (*Code, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxCodeLen {
		return nil, malformed("code of %d characters, limit %d", len(s), MaxCodeLen)
	}
	rest, ok := strings.CutPrefix(s, CodePrefix)
	if !ok {
		return nil, malformed("a pairing code starts with %q", CodePrefix)
	}
	b, err := base58.Decode(rest)
	if err != nil || len(b) == 0 {
		return nil, malformed("the code is damaged (not base58): was it copied whole?")
	}
	if len(b) > MaxCodeSize {
		return nil, malformed("code of %d bytes, limit %d", len(b), MaxCodeSize)
	}
	if v, err := codec.RecordVersion(b); err != nil {
		return nil, malformed("code: %v", err)
	} else if v != Version {
		return nil, malformed("code format %d, want %d (update peer on one of the devices)", v, Version)
	}
	var w codeWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, malformed("code: %v", err)
	}
	if len(w.Secret) != SecretLen {
		return nil, malformed("secret of %d bytes, want %d", len(w.Secret), SecretLen)
	}
	c := &Code{PeerID: w.PeerID, Addrs: w.Addrs, Expires: time.Unix(w.Expires, 0)}
	copy(c.Secret[:], w.Secret)
	if _, err := c.marshal(); err != nil {
		return nil, err
	}
	if !now.Before(c.Expires) {
		return nil, fmt.Errorf("%w (at %s): make a new one with `peer device add`", ErrExpired, c.Expires.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// Hello opens the protocol: the joining device proves it holds the code.
//
// Wire form: [Version, Secret, Name].
type Hello struct {
	Secret [SecretLen]byte
	Name   string // what the new device calls itself; optional
}

type helloWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Secret  []byte
	Name    string
}

// Device is one device of the persona: its certificate (an encoded
// identity.DeviceCert, checked by the receiver) and where it was last
// reachable.
//
// Wire form: [Cert, Addrs, Name].
type Device struct {
	Cert  []byte
	Addrs []string
	Name  string
}

type deviceWire struct {
	_     struct{} `cbor:",toarray"`
	Cert  []byte
	Addrs []string
	Name  string
}

func checkDevice(d *Device) error {
	if len(d.Cert) == 0 || len(d.Cert) > MaxCertLen {
		return malformed("certificate of %d bytes", len(d.Cert))
	}
	if err := checkAddrs(d.Addrs); err != nil {
		return err
	}
	return checkText("device name", d.Name, MaxNameLen)
}

// Welcome answers a Hello. OK carries the persona's root seed, its name on
// the paired device and the devices of the persona (the answering device
// first); otherwise Message says why not.
//
// Wire form: [Version, OK, Message, Seed, PersonaName, Devices].
type Welcome struct {
	OK          bool
	Message     string
	Seed        []byte
	PersonaName string
	Devices     []Device
}

type welcomeWire struct {
	_           struct{} `cbor:",toarray"`
	Version     uint16
	OK          bool
	Message     string
	Seed        []byte
	PersonaName string
	Devices     []deviceWire
}

// Joined tells the paired device the new device's certificate, issued by
// the new device itself with the persona key derived from the seed.
//
// Wire form: [Version, Device].
type Joined struct {
	Device Device
}

type joinedWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Device  deviceWire
}

// Done ends the protocol: the paired device recorded the new one (OK), or
// Message says why not.
//
// Wire form: [Version, OK, Message].
type Done struct {
	OK      bool
	Message string
}

type doneWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	OK      bool
	Message string
}

// EncodeHello checks the limits a reader applies and encodes h.
func EncodeHello(h *Hello) ([]byte, error) {
	if err := checkText("device name", h.Name, MaxNameLen); err != nil {
		return nil, err
	}
	return encode("hello", &helloWire{Version: Version, Secret: h.Secret[:], Name: h.Name})
}

// EncodeWelcome checks the limits a reader applies and encodes w.
func EncodeWelcome(w *Welcome) ([]byte, error) {
	if err := checkWelcome(w); err != nil {
		return nil, err
	}
	out := welcomeWire{Version: Version, OK: w.OK, Message: w.Message, Seed: w.Seed, PersonaName: w.PersonaName}
	for _, d := range w.Devices {
		out.Devices = append(out.Devices, deviceWire{Cert: d.Cert, Addrs: d.Addrs, Name: d.Name})
	}
	return encode("welcome", &out)
}

// EncodeJoined checks the limits a reader applies and encodes j.
func EncodeJoined(j *Joined) ([]byte, error) {
	if err := checkDevice(&j.Device); err != nil {
		return nil, err
	}
	d := j.Device
	return encode("joined", &joinedWire{Version: Version, Device: deviceWire{Cert: d.Cert, Addrs: d.Addrs, Name: d.Name}})
}

// EncodeDone checks the limits a reader applies and encodes d.
func EncodeDone(d *Done) ([]byte, error) {
	if err := checkText("message", d.Message, MaxMessage); err != nil {
		return nil, err
	}
	return encode("done", &doneWire{Version: Version, OK: d.OK, Message: d.Message})
}

func checkWelcome(w *Welcome) error {
	if err := checkText("message", w.Message, MaxMessage); err != nil {
		return err
	}
	if !w.OK {
		if len(w.Seed) != 0 || w.PersonaName != "" || len(w.Devices) != 0 {
			return malformed("a refusal carries a seed or devices")
		}
		return nil
	}
	if len(w.Seed) != SeedLen {
		return malformed("seed of %d bytes, want %d", len(w.Seed), SeedLen)
	}
	if err := checkText("persona name", w.PersonaName, MaxNameLen); err != nil {
		return err
	}
	if len(w.Devices) == 0 || len(w.Devices) > MaxDevices {
		return malformed("%d devices, want 1 to %d", len(w.Devices), MaxDevices)
	}
	for i := range w.Devices {
		if err := checkDevice(&w.Devices[i]); err != nil {
			return err
		}
	}
	return nil
}

func encode(what string, v any) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	if len(b) > MaxFrame {
		return nil, malformed("%s of %d bytes, limit %d", what, len(b), MaxFrame)
	}
	return b, nil
}

func decode(what string, b []byte, v any) error {
	if len(b) > MaxFrame {
		return malformed("%s of %d bytes, limit %d", what, len(b), MaxFrame)
	}
	if ver, err := codec.RecordVersion(b); err != nil {
		return malformed("%s: %v", what, err)
	} else if ver != Version {
		return malformed("%s version %d, want %d", what, ver, Version)
	}
	if err := codec.Unmarshal(b, v); err != nil {
		return malformed("%s: %v", what, err)
	}
	return nil
}

// ParseHello decodes one Hello strictly.
func ParseHello(b []byte) (*Hello, error) {
	var w helloWire
	if err := decode("hello", b, &w); err != nil {
		return nil, err
	}
	if len(w.Secret) != SecretLen {
		return nil, malformed("secret of %d bytes, want %d", len(w.Secret), SecretLen)
	}
	h := &Hello{Name: w.Name}
	copy(h.Secret[:], w.Secret)
	if err := checkText("device name", h.Name, MaxNameLen); err != nil {
		return nil, err
	}
	return h, nil
}

// ParseWelcome decodes one Welcome strictly.
func ParseWelcome(b []byte) (*Welcome, error) {
	var w welcomeWire
	if err := decode("welcome", b, &w); err != nil {
		return nil, err
	}
	if len(w.Devices) > MaxDevices {
		return nil, malformed("%d devices, limit %d", len(w.Devices), MaxDevices)
	}
	out := &Welcome{OK: w.OK, Message: w.Message, Seed: w.Seed, PersonaName: w.PersonaName}
	for _, d := range w.Devices {
		out.Devices = append(out.Devices, Device{Cert: d.Cert, Addrs: d.Addrs, Name: d.Name})
	}
	if err := checkWelcome(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseJoined decodes one Joined strictly.
func ParseJoined(b []byte) (*Joined, error) {
	var w joinedWire
	if err := decode("joined", b, &w); err != nil {
		return nil, err
	}
	j := &Joined{Device: Device{Cert: w.Device.Cert, Addrs: w.Device.Addrs, Name: w.Device.Name}}
	if err := checkDevice(&j.Device); err != nil {
		return nil, err
	}
	return j, nil
}

// ParseDone decodes one Done strictly.
func ParseDone(b []byte) (*Done, error) {
	var w doneWire
	if err := decode("done", b, &w); err != nil {
		return nil, err
	}
	d := &Done{OK: w.OK, Message: w.Message}
	if err := checkText("message", d.Message, MaxMessage); err != nil {
		return nil, err
	}
	return d, nil
}

// Write sends one encoded message as a frame.
func Write(w io.Writer, b []byte) error { return codec.WriteFrame(w, b) }

// Read reads one message frame of at most MaxFrame bytes.
func Read(r io.Reader) ([]byte, error) { return codec.ReadFrame(r, MaxFrame) }
