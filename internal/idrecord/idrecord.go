// Package idrecord defines the persona identity record: the signed,
// sequence-numbered, expiring statement, published in the DHT under the
// persona's key, that tells others how to reach a persona — its devices
// (each vouched for by a device certificate) and their addresses, an
// encryption public key, its mailbox peers and an optional profile. The
// valid record with the highest sequence number wins.
//
// The format is described in docs/formats-idrecord.md. Validator plugs the
// record into a DHT: it has the method set of go-libp2p-record's Validator
// without importing it.
//
// Domain package: it imports only the standard library, internal/codec and
// internal/identity (no libp2p, no net/http). Discovery and the node import it.
package idrecord

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// Format is the record format this code writes and reads.
const Format = 1

// Domain is the signature domain of identity records (see codec.SignedMessage).
const Domain = "peer/identity-record"

// Namespace is the DHT record namespace: keys are "/peerid/<persona key>".
const Namespace = "peerid"

// Limits. A record breaking one of them is malformed (ErrMalformed), except
// MaxSize, which is ErrTooLarge.
const (
	MaxSize       = 8 << 10 // encoded bytes
	MaxDevices    = 8
	MaxAddrs      = 16 // per device
	MaxAddrLen    = 256
	MaxMailboxes  = 8
	MaxMailboxLen = 128
	MaxEncKeyLen  = 2048
	MaxNameLen    = 64  // bytes of UTF-8
	MaxAboutLen   = 512 // bytes of UTF-8
	// MaxLifetime bounds Expires-Issued.
	MaxLifetime = 7 * 24 * time.Hour
	// ClockSkew is how far in the future Issued may lie.
	ClockSkew = 5 * time.Minute
)

// Errors callers branch on. Details are wrapped with %w, so test them with
// errors.Is.
var (
	// ErrMalformed: the record cannot be decoded or breaks a structural rule
	// (limits, time order, lifetime, a duplicate device, Issued too far in
	// the future).
	ErrMalformed = errors.New("idrecord: malformed record")
	// ErrUnsupportedVersion: the record's Format is not one this code knows.
	ErrUnsupportedVersion = errors.New("idrecord: unsupported record format")
	// ErrTooLarge: the encoding exceeds MaxSize.
	ErrTooLarge = errors.New("idrecord: record too large")
	// ErrBadSignature: Signer names no device, or its signature does not verify.
	ErrBadSignature = errors.New("idrecord: bad signature")
	// ErrExpired: the record's Expires has passed.
	ErrExpired = errors.New("idrecord: record expired")
	// ErrUncertified: the persona is not a valid did:key, or a device
	// certificate is invalid, expired, revoked or issued by another persona
	// (identity's reason is wrapped too), or the signing key has no
	// certificate in the record.
	ErrUncertified = errors.New("idrecord: device not certified by the persona")
	// ErrWrongKey: a DHT key is not a persona key, or not the key of the
	// record's persona.
	ErrWrongKey = errors.New("idrecord: wrong record key")
)

// Device is one device of the persona and how to reach it.
type Device struct {
	// Cert is the marshalled identity.DeviceCert by which the persona
	// vouches for the device key.
	Cert []byte
	// Addrs are multiaddrs as text, relay (/p2p-circuit) addresses
	// included. They are only bounded and checked to be non-empty printable
	// ASCII here; the network layer parses them.
	Addrs []string
}

// Profile is optional, self-asserted display information.
type Profile struct {
	Name  string // at most MaxNameLen bytes, no control characters
	About string // at most MaxAboutLen bytes, no control characters but newline and tab
}

// Record is a persona's identity record.
//
// Wire form: the CBOR array [Format, Persona, Seq, Issued, Expires, Devices,
// EncKey, Mailboxes, Profile, Signer, Sig], times in Unix milliseconds, each
// device the array [Cert, Addrs], Profile null or the array [Name, About].
// Sig is the signature of the device Devices[Signer], in domain Domain, over
// the array of the first ten fields.
type Record struct {
	Format    uint16
	Persona   string // did:key
	Seq       uint64
	Issued    time.Time // kept to the millisecond
	Expires   time.Time // kept to the millisecond
	Devices   []Device
	EncKey    []byte   // encryption public key (for HPKE); opaque here
	Mailboxes []string // peer IDs of mailbox peers, as text; opaque here
	Profile   *Profile // nil: none
	Signer    uint8    // index into Devices of the device that signed
	Sig       []byte
}

type deviceWire struct {
	_     struct{} `cbor:",toarray"`
	Cert  []byte
	Addrs []string
}

type profileWire struct {
	_     struct{} `cbor:",toarray"`
	Name  string
	About string
}

type recordBody struct {
	_         struct{} `cbor:",toarray"`
	Format    uint16
	Persona   string
	Seq       uint64
	Issued    int64
	Expires   int64
	Devices   []deviceWire
	EncKey    []byte
	Mailboxes []string
	Profile   *profileWire
	Signer    uint8
}

type recordWire struct {
	_         struct{} `cbor:",toarray"`
	Format    uint16
	Persona   string
	Seq       uint64
	Issued    int64
	Expires   int64
	Devices   []deviceWire
	EncKey    []byte
	Mailboxes []string
	Profile   *profileWire
	Signer    uint8
	Sig       []byte
}

func (r *Record) body() recordBody {
	b := recordBody{
		Format: r.Format, Persona: r.Persona, Seq: r.Seq,
		Issued: r.Issued.UnixMilli(), Expires: r.Expires.UnixMilli(),
		EncKey: r.EncKey, Mailboxes: r.Mailboxes, Signer: r.Signer,
	}
	b.Devices = make([]deviceWire, len(r.Devices))
	for i, d := range r.Devices {
		b.Devices[i] = deviceWire{Cert: d.Cert, Addrs: d.Addrs}
	}
	if r.Profile != nil {
		b.Profile = &profileWire{Name: r.Profile.Name, About: r.Profile.About}
	}
	return b
}

func (r *Record) encodeBody() ([]byte, error) {
	return codec.Marshal(r.body())
}

// check enforces the structural rules that need no keys and no clock:
// format, limits, and the time order and lifetime.
func (r *Record) check() error {
	if r.Format != Format {
		return fmt.Errorf("%w: format %d, want %d", ErrUnsupportedVersion, r.Format, Format)
	}
	if n := len(r.Devices); n == 0 || n > MaxDevices {
		return fmt.Errorf("%w: %d devices, want 1 to %d", ErrMalformed, n, MaxDevices)
	}
	for i, d := range r.Devices {
		if len(d.Cert) == 0 {
			return fmt.Errorf("%w: device %d has no certificate", ErrMalformed, i)
		}
		if len(d.Addrs) > MaxAddrs {
			return fmt.Errorf("%w: device %d has %d addresses, limit %d", ErrMalformed, i, len(d.Addrs), MaxAddrs)
		}
		for _, a := range d.Addrs {
			if err := checkToken(a, MaxAddrLen); err != nil {
				return fmt.Errorf("%w: device %d address: %w", ErrMalformed, i, err)
			}
		}
	}
	if len(r.EncKey) > MaxEncKeyLen {
		return fmt.Errorf("%w: encryption key of %d bytes, limit %d", ErrMalformed, len(r.EncKey), MaxEncKeyLen)
	}
	if len(r.Mailboxes) > MaxMailboxes {
		return fmt.Errorf("%w: %d mailboxes, limit %d", ErrMalformed, len(r.Mailboxes), MaxMailboxes)
	}
	for _, m := range r.Mailboxes {
		if err := checkToken(m, MaxMailboxLen); err != nil {
			return fmt.Errorf("%w: mailbox: %w", ErrMalformed, err)
		}
	}
	if p := r.Profile; p != nil {
		if err := checkText(p.Name, MaxNameLen, ""); err != nil {
			return fmt.Errorf("%w: profile name: %w", ErrMalformed, err)
		}
		if err := checkText(p.About, MaxAboutLen, "\n\t"); err != nil {
			return fmt.Errorf("%w: profile about: %w", ErrMalformed, err)
		}
	}
	iss, exp := r.Issued.UnixMilli(), r.Expires.UnixMilli()
	if iss < 0 {
		return fmt.Errorf("%w: issued before 1970", ErrMalformed)
	}
	if exp <= iss {
		return fmt.Errorf("%w: expires (%d ms) not after issued (%d ms)", ErrMalformed, exp, iss)
	}
	if exp-iss > MaxLifetime.Milliseconds() {
		return fmt.Errorf("%w: lifetime %v exceeds %v", ErrMalformed, time.Duration(exp-iss)*time.Millisecond, MaxLifetime)
	}
	return nil
}

// checkToken accepts 1 to max bytes of printable ASCII without spaces.
func checkToken(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%d bytes, want 1 to %d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%q: byte 0x%02x at %d is not printable ASCII", s, s[i], i)
		}
	}
	return nil
}

// checkText accepts up to max bytes of UTF-8 without control characters
// other than those in allowed.
func checkText(s string, max int, allowed string) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, limit %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, c := range s {
		if unicode.IsControl(c) && !strings.ContainsRune(allowed, c) {
			return fmt.Errorf("control character %U", c)
		}
	}
	return nil
}

// msTime is t kept to the millisecond, in UTC, as Parse returns it.
func msTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Sign signs the record with the private key of one of its devices. It sets
// Format, sets Signer to the index of the device whose certificate is for
// device's public key (ErrUncertified if there is none), sets Persona from
// that certificate when empty (ErrUncertified if it names another persona),
// keeps Issued and Expires to the millisecond in UTC, and checks the limits
// (ErrMalformed, ErrTooLarge). On error Sig is left empty.
//
// Sign does not check the certificates' signatures or expiry: Verify does.
func (r *Record) Sign(device ed25519.PrivateKey) error {
	r.Sig = nil
	if len(device) != ed25519.PrivateKeySize {
		return fmt.Errorf("idrecord: device key is %d bytes, want %d", len(device), ed25519.PrivateKeySize)
	}
	pub := ed25519.NewKeyFromSeed(device.Seed()).Public().(ed25519.PublicKey)
	r.Format = Format
	r.Issued, r.Expires = msTime(r.Issued), msTime(r.Expires)
	if err := r.check(); err != nil {
		return err
	}
	signer := -1
	for i, d := range r.Devices {
		c, err := identity.ParseDeviceCertV1(d.Cert)
		if err != nil {
			return fmt.Errorf("%w: device %d: %w", ErrUncertified, i, err)
		}
		if bytes.Equal(c.Device, pub) {
			if r.Persona == "" {
				r.Persona = c.Persona
			}
			if c.Persona != r.Persona {
				return fmt.Errorf("%w: signing device is certified by %s, record is for %s", ErrUncertified, c.Persona, r.Persona)
			}
			signer = i
			break
		}
	}
	if signer < 0 {
		return fmt.Errorf("%w: no device certificate in the record is for the signing key", ErrUncertified)
	}
	r.Signer = uint8(signer)
	body, err := r.encodeBody()
	if err != nil {
		return encodeErr(err)
	}
	r.Sig = codec.Sign(device, Domain, body)
	if _, err := r.Marshal(); err != nil {
		r.Sig = nil
		return err
	}
	return nil
}

// Marshal returns the record's canonical encoding. It fails if the record
// breaks a limit (ErrMalformed, ErrTooLarge) or is unsigned (ErrMalformed).
func (r *Record) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	b := r.body()
	enc, err := codec.Marshal(recordWire{
		Format: b.Format, Persona: b.Persona, Seq: b.Seq, Issued: b.Issued, Expires: b.Expires,
		Devices: b.Devices, EncKey: b.EncKey, Mailboxes: b.Mailboxes, Profile: b.Profile,
		Signer: b.Signer, Sig: r.Sig,
	})
	if err != nil {
		return nil, encodeErr(err)
	}
	if len(enc) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(enc), MaxSize)
	}
	return enc, nil
}

// encodeErr types an encoding failure: too large, or (never expected for
// these types) malformed.
func encodeErr(err error) error {
	if errors.Is(err, codec.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// Parse decodes a record strictly: more than MaxSize bytes is ErrTooLarge
// (before decoding), another Format is ErrUnsupportedVersion, and anything
// else wrong — a non-canonical encoding, a broken limit, bad time order, a
// signature of the wrong length — is ErrMalformed. It does not check the
// certificates or the signature: call Verify before trusting the record.
func Parse(b []byte) (*Record, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	f, err := codec.RecordVersion(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if f != Format {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrUnsupportedVersion, f, Format)
	}
	var w recordWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r := &Record{
		Format: w.Format, Persona: w.Persona, Seq: w.Seq,
		Issued: time.UnixMilli(w.Issued).UTC(), Expires: time.UnixMilli(w.Expires).UTC(),
		EncKey: nilIfEmpty(w.EncKey), Mailboxes: nilIfEmpty(w.Mailboxes),
		Signer: w.Signer, Sig: w.Sig,
	}
	if len(w.Devices) > 0 {
		r.Devices = make([]Device, len(w.Devices))
		for i, d := range w.Devices {
			r.Devices[i] = Device{Cert: nilIfEmpty(d.Cert), Addrs: nilIfEmpty(d.Addrs)}
		}
	}
	if w.Profile != nil {
		r.Profile = &Profile{Name: w.Profile.Name, About: w.Profile.About}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	return r, nil
}

// nilIfEmpty makes an empty slice nil, so that a parsed record equals the
// record that was signed whether that held nil or empty slices (both
// encode the same).
func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Verify checks, in this order: the structure and limits (ErrUnsupportedVersion,
// ErrMalformed); that Persona is a did:key and every device certificate
// parses, was issued by Persona and is valid at now and not revoked
// (ErrUncertified, wrapping identity's reason); that no device key appears
// twice (ErrMalformed); that Signer names a device and that device's
// signature verifies (ErrBadSignature); that now is before Expires
// (ErrExpired); and that Issued is no later than now+ClockSkew (ErrMalformed).
// revoked may be nil.
func (r *Record) Verify(now time.Time, revoked func(persona string, serial uint64) bool) error {
	if err := r.check(); err != nil {
		return err
	}
	if _, err := identity.ParseDID(r.Persona); err != nil {
		return fmt.Errorf("%w: persona: %w", ErrUncertified, err)
	}
	keys := make([]ed25519.PublicKey, len(r.Devices))
	for i, d := range r.Devices {
		c, err := identity.ParseDeviceCertV1(d.Cert)
		if err != nil {
			return fmt.Errorf("%w: device %d: %w", ErrUncertified, i, err)
		}
		if c.Persona != r.Persona {
			return fmt.Errorf("%w: device %d is certified by %s, record is for %s", ErrUncertified, i, c.Persona, r.Persona)
		}
		if err := c.Verify(now, revoked); err != nil {
			return fmt.Errorf("%w: device %d: %w", ErrUncertified, i, err)
		}
		for j := range i {
			if bytes.Equal(keys[j], c.Device) {
				return fmt.Errorf("%w: devices %d and %d have the same key", ErrMalformed, j, i)
			}
		}
		keys[i] = c.DeviceKey()
	}
	if int(r.Signer) >= len(keys) {
		return fmt.Errorf("%w: signer %d of %d devices", ErrBadSignature, r.Signer, len(keys))
	}
	body, err := r.encodeBody()
	if err != nil {
		return encodeErr(err)
	}
	if !codec.Verify(keys[r.Signer], Domain, body, r.Sig) {
		return fmt.Errorf("%w: record %d of %s", ErrBadSignature, r.Seq, r.Persona)
	}
	if !now.Before(r.Expires) {
		return fmt.Errorf("%w: record %d of %s expired at %s", ErrExpired, r.Seq, r.Persona, r.Expires.UTC().Format(time.RFC3339))
	}
	if r.Issued.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: record %d of %s issued in the future (%s)", ErrMalformed, r.Seq, r.Persona, r.Issued.UTC().Format(time.RFC3339))
	}
	return nil
}

// DeviceKeys returns the certified device keys in the order of Devices.
// Call it after Verify; it returns nil if a certificate does not parse.
func (r *Record) DeviceKeys() []ed25519.PublicKey {
	keys := make([]ed25519.PublicKey, len(r.Devices))
	for i, d := range r.Devices {
		c, err := identity.ParseDeviceCertV1(d.Cert)
		if err != nil {
			return nil
		}
		keys[i] = c.DeviceKey()
	}
	return keys
}

// keyPrefix starts every DHT key of this namespace.
const keyPrefix = "/" + Namespace + "/"

// Key returns the DHT key of persona's record: "/peerid/" followed by the
// persona's raw 32-byte Ed25519 public key (a binary string). A persona that
// is not a did:key fails with an error wrapping identity.ErrBadDID.
func Key(persona string) (string, error) {
	pub, err := identity.ParseDID(persona)
	if err != nil {
		return "", fmt.Errorf("idrecord: key: %w", err)
	}
	return keyPrefix + string(pub), nil
}

// PersonaFromKey returns the did:key whose record lives under key, the
// inverse of Key. Anything else is ErrWrongKey.
func PersonaFromKey(key string) (string, error) {
	raw, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", fmt.Errorf("%w: %q is not in namespace %q", ErrWrongKey, key, Namespace)
	}
	if len(raw) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: persona key of %d bytes, want %d", ErrWrongKey, len(raw), ed25519.PublicKeySize)
	}
	return identity.DID(ed25519.PublicKey(raw)), nil
}

// Newer reports whether a is preferred over b: the higher Seq; on a tie
// the later Issued; on a tie the larger encoding (bytes.Compare), so that
// every node picks the same record. A nil record or one that does not
// marshal loses to one that does.
func Newer(a, b *Record) bool {
	if a == nil {
		return false
	}
	if b == nil {
		return true
	}
	ea, _ := a.Marshal()
	eb, _ := b.Marshal()
	return newer(a, ea, b, eb)
}

func newer(a *Record, ea []byte, b *Record, eb []byte) bool {
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	if ia, ib := a.Issued.UnixMilli(), b.Issued.UnixMilli(); ia != ib {
		return ia > ib
	}
	return bytes.Compare(ea, eb) > 0
}

// Validator validates and selects identity records for a DHT. It has the
// method set of go-libp2p-record's Validator interface. The zero value
// checks against time.Now and no revocation list.
type Validator struct {
	Now     func() time.Time                         // nil: time.Now
	Revoked func(persona string, serial uint64) bool // nil: nothing is revoked
}

func (v Validator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Validate parses value, checks that key is the DHT key of the record's
// persona (ErrWrongKey), then verifies the record at Now (see Verify).
func (v Validator) Validate(key string, value []byte) error {
	_, err := v.validate(key, value, v.now())
	return err
}

func (v Validator) validate(key string, value []byte, now time.Time) (*Record, error) {
	r, err := Parse(value)
	if err != nil {
		return nil, err
	}
	persona, err := PersonaFromKey(key)
	if err != nil {
		return nil, err
	}
	if r.Persona != persona {
		return nil, fmt.Errorf("%w: record of %s under the key of %s", ErrWrongKey, r.Persona, persona)
	}
	if err := r.Verify(now, v.Revoked); err != nil {
		return nil, err
	}
	return r, nil
}

// Select returns the index of the best valid value by Newer, skipping
// invalid ones; on a complete tie the first wins. It fails, wrapping the
// first value's error, when no value is valid.
func (v Validator) Select(key string, values [][]byte) (int, error) {
	now := v.now()
	best, bestEnc := -1, []byte(nil)
	var bestRec *Record
	var firstErr error
	for i, val := range values {
		r, err := v.validate(key, val, now)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		// A parsed value is its record's canonical encoding.
		if best < 0 || newer(r, val, bestRec, bestEnc) {
			best, bestRec, bestEnc = i, r, val
		}
	}
	if best < 0 {
		if firstErr == nil {
			return -1, errors.New("idrecord: no records to select from")
		}
		return -1, fmt.Errorf("idrecord: none of %d records is valid: %w", len(values), firstErr)
	}
	return best, nil
}
