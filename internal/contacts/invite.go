package contacts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mr-tron/base58"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// InviteVersion is the invite format this code writes and reads.
const InviteVersion = 1

// DomainInvite is the signature domain of invites.
const DomainInvite = "peer/invite"

// InvitePrefix starts every invite link.
const InvitePrefix = "peer:invite:"

// Invite bounds.
const (
	MaxInviteLink    = 4096 // characters of a link, checked before decoding
	MaxInviteDevices = 4
	MaxInviteAddrs   = 8   // per device
	MaxAddrLen       = 256 // bytes per multiaddr
	// MaxInviteSize bounds an invite's encoding, so that every invite fits
	// a link of MaxInviteLink characters (base58 grows it by at most 37%).
	MaxInviteSize = 2900
	// MaxInviteTTL bounds how long an invite may stay valid.
	MaxInviteTTL = 30 * 24 * time.Hour
)

// InviteDevice says where to reach the inviter: one device's peer ID and
// its multiaddrs (text form), possibly none when the network layer can find
// the peer by ID.
type InviteDevice struct {
	PeerID string
	Addrs  []string
}

// Invite is a signed, one-time, expiring token by which one person lets
// another's node connect and become a contact. Its link form is String.
//
// Wire form: the CBOR array [Version, PersonaKey, Name, Devices, Secret,
// Expires, Cert, Sig] where PersonaKey is the persona's raw 32-byte Ed25519
// key (the did:key without its text wrapping), Devices is an array of
// [PeerID bytes (base58-decoded), [Addr text…]], Secret is 16 bytes and
// Expires Unix seconds. Sig is the certified device's signature over the
// array of the first seven fields, in domain DomainInvite.
type Invite struct {
	Version uint16
	Persona string // the inviter's did:key; must be Cert's persona
	Name    string // the inviter's suggested name for themselves; optional
	Devices []InviteDevice
	Secret  [16]byte
	Expires time.Time // whole seconds
	Cert    []byte    // the signing device's certificate
	Sig     []byte
}

type inviteDeviceWire struct {
	_      struct{} `cbor:",toarray"`
	PeerID []byte
	Addrs  []string
}

type inviteBody struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Persona []byte
	Name    string
	Devices []inviteDeviceWire
	Secret  []byte
	Expires int64
	Cert    []byte
}

type inviteWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Persona []byte
	Name    string
	Devices []inviteDeviceWire
	Secret  []byte
	Expires int64
	Cert    []byte
	Sig     []byte
}

func badInvite(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInvite, fmt.Sprintf(format, args...))
}

// body enforces the structural rules of an invite, signature aside, and
// returns its signed part in wire form.
func (i *Invite) body() (inviteBody, error) {
	if i.Version != InviteVersion {
		return inviteBody{}, fmt.Errorf("%w: %w: version %d, want %d", ErrBadInvite, ErrUnsupportedVersion, i.Version, InviteVersion)
	}
	pub, err := identity.ParseDID(i.Persona)
	if err != nil {
		return inviteBody{}, fmt.Errorf("%w: persona: %w", ErrBadInvite, err)
	}
	if i.Name != "" {
		if err := CheckName(i.Name); err != nil {
			return inviteBody{}, fmt.Errorf("%w: suggested name: %w", ErrBadInvite, err)
		}
	}
	if len(i.Devices) == 0 || len(i.Devices) > MaxInviteDevices {
		return inviteBody{}, badInvite("%d devices, want 1..%d", len(i.Devices), MaxInviteDevices)
	}
	devs := make([]inviteDeviceWire, len(i.Devices))
	for n, d := range i.Devices {
		if err := CheckPeerID(d.PeerID); err != nil {
			return inviteBody{}, fmt.Errorf("%w: device %d: %w", ErrBadInvite, n, err)
		}
		for m, o := range i.Devices[:n] {
			if o.PeerID == d.PeerID {
				return inviteBody{}, badInvite("devices %d and %d are the same peer", m, n)
			}
		}
		if len(d.Addrs) > MaxInviteAddrs {
			return inviteBody{}, badInvite("device %d: %d addresses (max %d)", n, len(d.Addrs), MaxInviteAddrs)
		}
		for _, a := range d.Addrs {
			if err := checkAddr(a); err != nil {
				return inviteBody{}, fmt.Errorf("%w: device %d: %w", ErrBadInvite, n, err)
			}
		}
		id, _ := base58.Decode(d.PeerID) // checked by CheckPeerID
		devs[n] = inviteDeviceWire{PeerID: id, Addrs: d.Addrs}
	}
	if i.Expires.Unix() <= 0 || !i.Expires.Equal(time.Unix(i.Expires.Unix(), 0)) {
		return inviteBody{}, badInvite("expiry %v is not a positive whole second", i.Expires)
	}
	if len(i.Cert) == 0 {
		return inviteBody{}, badInvite("no device certificate")
	}
	return inviteBody{Version: i.Version, Persona: pub, Name: i.Name, Devices: devs, Secret: i.Secret[:],
		Expires: i.Expires.Unix(), Cert: i.Cert}, nil
}

// checkAddr accepts a multiaddr's text form loosely: 1..MaxAddrLen bytes,
// starting with '/', printable ASCII. The network layer parses it.
func checkAddr(a string) error {
	if a == "" || len(a) > MaxAddrLen || a[0] != '/' {
		return fmt.Errorf("address %.40q: want 1..%d bytes starting with '/'", a, MaxAddrLen)
	}
	for i := 0; i < len(a); i++ {
		if a[i] <= ' ' || a[i] >= 0x7f {
			return fmt.Errorf("address %.40q: byte 0x%02x not allowed", a, a[i])
		}
	}
	return nil
}

// NewInvite issues an invite for the persona of cert, signed by device (the
// key cert certifies), valid for ttl (0 < ttl ≤ MaxInviteTTL; rounded up to a
// whole second) from now, with a fresh random secret.
func NewInvite(device ed25519.PrivateKey, cert *identity.DeviceCertV1, name string, devices []InviteDevice, ttl time.Duration, now time.Time) (*Invite, error) {
	if ttl <= 0 || ttl > MaxInviteTTL {
		return nil, fmt.Errorf("contacts: invite lifetime %v, want (0, %v]", ttl, MaxInviteTTL)
	}
	if cert == nil {
		return nil, errors.New("contacts: NewInvite needs the device certificate")
	}
	inv := &Invite{Version: InviteVersion, Persona: cert.Persona, Name: name, Devices: cloneDevices(devices),
		Expires: time.Unix(now.Unix()+int64((ttl+time.Second-1)/time.Second), 0).UTC()}
	if _, err := rand.Read(inv.Secret[:]); err != nil {
		return nil, err
	}
	if err := inv.sign(device, cert); err != nil {
		return nil, err
	}
	return inv, nil
}

func cloneDevices(ds []InviteDevice) []InviteDevice {
	out := make([]InviteDevice, len(ds))
	for i, d := range ds {
		out[i] = InviteDevice{PeerID: d.PeerID, Addrs: append([]string(nil), d.Addrs...)}
	}
	return out
}

// signer checks that device is the key cert certifies and returns the
// certificate's encoding.
func signer(device ed25519.PrivateKey, cert *identity.DeviceCertV1) ([]byte, error) {
	if cert == nil || len(device) != ed25519.PrivateKeySize {
		return nil, errors.New("contacts: signing needs a device key and its certificate")
	}
	if !bytes.Equal(device.Public().(ed25519.PublicKey), cert.Device) {
		return nil, errors.New("contacts: the certificate is not for this device key")
	}
	return cert.Marshal()
}

func (i *Invite) sign(device ed25519.PrivateKey, cert *identity.DeviceCertV1) error {
	cb, err := signer(device, cert)
	if err != nil {
		return err
	}
	i.Cert = cb
	b, err := i.body()
	if err != nil {
		return err
	}
	enc, err := codec.Marshal(b)
	if err != nil {
		return err
	}
	i.Sig = codec.Sign(device, DomainInvite, enc)
	_, err = i.Marshal() // size check
	return err
}

// Marshal returns the invite's canonical encoding (what the link carries).
func (i *Invite) Marshal() ([]byte, error) {
	b, err := i.body()
	if err != nil {
		return nil, err
	}
	enc, err := codec.Marshal(inviteWire{Version: b.Version, Persona: b.Persona, Name: b.Name, Devices: b.Devices,
		Secret: b.Secret, Expires: b.Expires, Cert: b.Cert, Sig: i.Sig})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInvite, err)
	}
	if len(enc) > MaxInviteSize {
		return nil, badInvite("encoding of %d bytes (max %d): too many or too long addresses", len(enc), MaxInviteSize)
	}
	return enc, nil
}

// String returns the invite link: InvitePrefix followed by the base58btc
// encoding of Marshal. It is "" if the invite is not well formed.
func (i *Invite) String() string {
	b, err := i.Marshal()
	if err != nil {
		return ""
	}
	return InvitePrefix + base58.Encode(b)
}

// decodeInvite decodes an invite's encoding strictly, without verifying it.
func decodeInvite(b []byte) (*Invite, error) {
	if len(b) > MaxInviteSize {
		return nil, badInvite("encoding of %d bytes (max %d)", len(b), MaxInviteSize)
	}
	v, err := codec.RecordVersion(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInvite, err)
	}
	if v != InviteVersion {
		return nil, fmt.Errorf("%w: %w: version %d, want %d", ErrBadInvite, ErrUnsupportedVersion, v, InviteVersion)
	}
	var w inviteWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInvite, err)
	}
	if len(w.Persona) != ed25519.PublicKeySize {
		return nil, badInvite("persona key of %d bytes", len(w.Persona))
	}
	if len(w.Secret) != 16 {
		return nil, badInvite("secret of %d bytes", len(w.Secret))
	}
	if len(w.Devices) > MaxInviteDevices {
		return nil, badInvite("%d devices (max %d)", len(w.Devices), MaxInviteDevices)
	}
	inv := &Invite{Version: w.Version, Persona: identity.DID(w.Persona), Name: w.Name,
		Expires: time.Unix(w.Expires, 0).UTC(), Cert: w.Cert, Sig: w.Sig}
	copy(inv.Secret[:], w.Secret)
	for _, d := range w.Devices {
		inv.Devices = append(inv.Devices, InviteDevice{PeerID: base58.Encode(d.PeerID), Addrs: d.Addrs})
	}
	// body re-checks every field rule; the codec's canonical check already
	// guarantees the encoding is the one Marshal gives.
	if _, err := inv.body(); err != nil {
		return nil, err
	}
	return inv, nil
}

// ParseInvite decodes and verifies an invite link (surrounding white space
// is ignored). Anything malformed, tampered with or not validly signed by a
// device the persona certified (valid at now) wraps ErrBadInvite; an invite
// whose expiry is at or before now wraps ErrInviteExpired.
func ParseInvite(link string, now time.Time) (*Invite, error) {
	link = strings.TrimSpace(link)
	if len(link) > MaxInviteLink {
		return nil, badInvite("link of %d characters (max %d)", len(link), MaxInviteLink)
	}
	rest, ok := strings.CutPrefix(link, InvitePrefix)
	if !ok {
		return nil, badInvite("link does not start with %q", InvitePrefix)
	}
	b, err := base58.Decode(rest)
	if err != nil {
		return nil, badInvite("bad base58: %v", err)
	}
	inv, err := decodeInvite(b)
	if err != nil {
		return nil, err
	}
	if err := inv.Verify(now); err != nil {
		return nil, err
	}
	return inv, nil
}

// Verify checks the invite's structure, that Cert is a certificate valid at
// now issued by Persona, and that the certified device signed the invite
// (ErrBadInvite); then that it has not expired at now (ErrInviteExpired).
func (i *Invite) Verify(now time.Time) error {
	b, err := i.body()
	if err != nil {
		return err
	}
	body, err := codec.Marshal(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadInvite, err)
	}
	if _, err := verifySigned(i.Cert, i.Persona, DomainInvite, body, i.Sig, now); err != nil {
		return fmt.Errorf("%w: %w", ErrBadInvite, err)
	}
	if !now.Before(i.Expires) {
		return fmt.Errorf("%w: at %s", ErrInviteExpired, i.Expires.Format(time.RFC3339))
	}
	return nil
}

// verifySigned checks that certBytes is a certificate valid at now issued by
// persona, and that its device signed body in domain. It returns the
// certificate.
func verifySigned(certBytes []byte, persona, domain string, body, sig []byte, now time.Time) (*identity.DeviceCertV1, error) {
	cert, err := identity.ParseDeviceCertV1(certBytes)
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	if err := cert.Verify(now, nil); err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	if cert.Persona != persona {
		return nil, fmt.Errorf("device certificate of %s, record by %s", cert.Persona, persona)
	}
	if !codec.Verify(cert.DeviceKey(), domain, body, sig) {
		return nil, fmt.Errorf("bad signature (%s)", domain)
	}
	return cert, nil
}
