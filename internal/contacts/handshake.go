package contacts

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// ProtocolID is the stream protocol that runs the accept handshake.
const ProtocolID = "/peer/invite/1.0.0"

// HandshakeVersion is the version of the handshake messages.
const HandshakeVersion = 1

// Signature domains of the handshake messages.
const (
	DomainHello   = "peer/invite-hello"
	DomainWelcome = "peer/invite-welcome"
	DomainConfirm = "peer/invite-confirm"
)

// MaxMsgSize bounds one handshake message, in bytes.
const MaxMsgSize = 8 << 10

// MaxDoneError bounds Done.Error, in bytes.
const MaxDoneError = 256

func badMsg(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadMessage, what, fmt.Sprintf(format, args...))
}

// decodeMsg bounds, version-checks and strictly decodes one message.
func decodeMsg(b []byte, what string, v any) error {
	if len(b) > MaxMsgSize {
		return badMsg(what, "%d bytes (max %d)", len(b), MaxMsgSize)
	}
	ver, err := codec.RecordVersion(b)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadMessage, what, err)
	}
	if ver != HandshakeVersion {
		return fmt.Errorf("%w: %w: %s version %d, want %d", ErrBadMessage, ErrUnsupportedVersion, what, ver, HandshakeVersion)
	}
	if err := codec.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadMessage, what, err)
	}
	return nil
}

// encodeMsg encodes one message and enforces MaxMsgSize.
func encodeMsg(v any, what string) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadMessage, what, err)
	}
	if len(b) > MaxMsgSize {
		return nil, badMsg(what, "%d bytes (max %d)", len(b), MaxMsgSize)
	}
	return b, nil
}

func checkVersionAndName(what string, version uint16, name string) error {
	if version != HandshakeVersion {
		return fmt.Errorf("%w: %w: %s version %d, want %d", ErrBadMessage, ErrUnsupportedVersion, what, version, HandshakeVersion)
	}
	if name != "" {
		if err := CheckName(name); err != nil {
			return fmt.Errorf("%w: %s: suggested name: %w", ErrBadMessage, what, err)
		}
	}
	return nil
}

func hashOf(b []byte) [32]byte { return sha256.Sum256(b) }

// ---- Hello ----

// Hello is the acceptor's first message: it presents the invite's secret
// and the acceptor's persona, signed by the acceptor's device.
//
// Wire form: [Version, Secret, Persona, Name, Cert, Nonce, Sig] (Secret and
// Nonce as 16-byte strings); Sig by the device Cert certifies over the first
// six, domain DomainHello.
type Hello struct {
	Version uint16
	Secret  [16]byte
	Persona string // the acceptor's did:key
	Name    string // the acceptor's suggested name for themselves; optional
	Cert    []byte // the acceptor's device certificate
	Nonce   [16]byte
	Sig     []byte
}

type helloBody struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Secret  []byte
	Persona string
	Name    string
	Cert    []byte
	Nonce   []byte
}

type helloWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Secret  []byte
	Persona string
	Name    string
	Cert    []byte
	Nonce   []byte
	Sig     []byte
}

func (h *Hello) body() (helloBody, error) {
	if err := checkVersionAndName("hello", h.Version, h.Name); err != nil {
		return helloBody{}, err
	}
	if _, err := identity.ParseDID(h.Persona); err != nil {
		return helloBody{}, fmt.Errorf("%w: hello: persona: %w", ErrBadMessage, err)
	}
	return helloBody{Version: h.Version, Secret: h.Secret[:], Persona: h.Persona, Name: h.Name, Cert: h.Cert, Nonce: h.Nonce[:]}, nil
}

// NewHello builds and signs the Hello for an invite's secret, with a fresh
// random nonce, for the persona of cert signed by device.
func NewHello(device ed25519.PrivateKey, cert *identity.DeviceCertV1, secret [16]byte, name string) (*Hello, error) {
	cb, err := signer(device, cert)
	if err != nil {
		return nil, err
	}
	h := &Hello{Version: HandshakeVersion, Secret: secret, Persona: cert.Persona, Name: name, Cert: cb}
	if _, err := rand.Read(h.Nonce[:]); err != nil {
		return nil, err
	}
	b, err := h.body()
	if err != nil {
		return nil, err
	}
	enc, err := encodeMsg(b, "hello")
	if err != nil {
		return nil, err
	}
	h.Sig = codec.Sign(device, DomainHello, enc)
	return h, nil
}

// Marshal returns the Hello's canonical encoding.
func (h *Hello) Marshal() ([]byte, error) {
	b, err := h.body()
	if err != nil {
		return nil, err
	}
	return encodeMsg(helloWire{Version: b.Version, Secret: b.Secret, Persona: b.Persona, Name: b.Name, Cert: b.Cert,
		Nonce: b.Nonce, Sig: h.Sig}, "hello")
}

// Hash is the SHA-256 of the Hello's encoding (what Welcome.HelloHash holds).
func (h *Hello) Hash() ([32]byte, error) {
	b, err := h.Marshal()
	if err != nil {
		return [32]byte{}, err
	}
	return hashOf(b), nil
}

// ParseHello decodes a Hello strictly (bounded, canonical, known version,
// well-formed fields); call Verify before trusting it.
func ParseHello(b []byte) (*Hello, error) {
	var w helloWire
	if err := decodeMsg(b, "hello", &w); err != nil {
		return nil, err
	}
	if len(w.Secret) != 16 || len(w.Nonce) != 16 {
		return nil, badMsg("hello", "secret of %d bytes, nonce of %d, want 16", len(w.Secret), len(w.Nonce))
	}
	h := &Hello{Version: w.Version, Persona: w.Persona, Name: w.Name, Cert: w.Cert, Sig: w.Sig}
	copy(h.Secret[:], w.Secret)
	copy(h.Nonce[:], w.Nonce)
	if _, err := h.body(); err != nil {
		return nil, err
	}
	return h, nil
}

// Verify checks that Cert is a certificate valid at now issued by Persona
// and that its device signed the Hello. It returns the certificate, whose
// device key the network layer must match against the connected peer.
func (h *Hello) Verify(now time.Time) (*identity.DeviceCertV1, error) {
	b, err := h.body()
	if err != nil {
		return nil, err
	}
	enc, err := encodeMsg(b, "hello")
	if err != nil {
		return nil, err
	}
	cert, err := verifySigned(h.Cert, h.Persona, DomainHello, enc, h.Sig, now)
	if err != nil {
		return nil, fmt.Errorf("%w: hello: %w", ErrBadMessage, err)
	}
	return cert, nil
}

// ---- Welcome ----

// Welcome is the inviter's answer to a Hello it accepts: the inviter's
// persona, bound to that Hello by its hash, signed by the inviter's device.
// Nonce is the inviter's fresh randomness, so that the acceptor's Confirm
// (which signs the Welcome's hash) is a fresh proof even if a Hello is replayed.
//
// Wire form: [Version, Persona, Name, Cert, HelloHash, Nonce, Sig]; Sig by
// the device Cert certifies over the first six, domain DomainWelcome.
type Welcome struct {
	Version   uint16
	Persona   string // the inviter's did:key
	Name      string // the inviter's suggested name for themselves; optional
	Cert      []byte // the inviter's device certificate
	HelloHash [32]byte
	Nonce     [16]byte
	Sig       []byte
}

type welcomeBody struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Name      string
	Cert      []byte
	HelloHash []byte
	Nonce     []byte
}

type welcomeWire struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Name      string
	Cert      []byte
	HelloHash []byte
	Nonce     []byte
	Sig       []byte
}

func (w *Welcome) body() (welcomeBody, error) {
	if err := checkVersionAndName("welcome", w.Version, w.Name); err != nil {
		return welcomeBody{}, err
	}
	if _, err := identity.ParseDID(w.Persona); err != nil {
		return welcomeBody{}, fmt.Errorf("%w: welcome: persona: %w", ErrBadMessage, err)
	}
	return welcomeBody{Version: w.Version, Persona: w.Persona, Name: w.Name, Cert: w.Cert, HelloHash: w.HelloHash[:], Nonce: w.Nonce[:]}, nil
}

// NewWelcome builds and signs the Welcome answering hello, for the persona
// of cert signed by device.
func NewWelcome(device ed25519.PrivateKey, cert *identity.DeviceCertV1, name string, hello *Hello) (*Welcome, error) {
	cb, err := signer(device, cert)
	if err != nil {
		return nil, err
	}
	hh, err := hello.Hash()
	if err != nil {
		return nil, err
	}
	w := &Welcome{Version: HandshakeVersion, Persona: cert.Persona, Name: name, Cert: cb, HelloHash: hh}
	if _, err := rand.Read(w.Nonce[:]); err != nil {
		return nil, err
	}
	b, err := w.body()
	if err != nil {
		return nil, err
	}
	enc, err := encodeMsg(b, "welcome")
	if err != nil {
		return nil, err
	}
	w.Sig = codec.Sign(device, DomainWelcome, enc)
	return w, nil
}

// Marshal returns the Welcome's canonical encoding.
func (w *Welcome) Marshal() ([]byte, error) {
	b, err := w.body()
	if err != nil {
		return nil, err
	}
	return encodeMsg(welcomeWire{Version: b.Version, Persona: b.Persona, Name: b.Name, Cert: b.Cert,
		HelloHash: b.HelloHash, Nonce: b.Nonce, Sig: w.Sig}, "welcome")
}

// Hash is the SHA-256 of the Welcome's encoding (what Confirm.WelcomeHash holds).
func (w *Welcome) Hash() ([32]byte, error) {
	b, err := w.Marshal()
	if err != nil {
		return [32]byte{}, err
	}
	return hashOf(b), nil
}

// ParseWelcome decodes a Welcome strictly; call Verify before trusting it.
func ParseWelcome(b []byte) (*Welcome, error) {
	var ww welcomeWire
	if err := decodeMsg(b, "welcome", &ww); err != nil {
		return nil, err
	}
	if len(ww.HelloHash) != sha256.Size || len(ww.Nonce) != 16 {
		return nil, badMsg("welcome", "hello hash of %d bytes, nonce of %d", len(ww.HelloHash), len(ww.Nonce))
	}
	w := &Welcome{Version: ww.Version, Persona: ww.Persona, Name: ww.Name, Cert: ww.Cert, Sig: ww.Sig}
	copy(w.HelloHash[:], ww.HelloHash)
	copy(w.Nonce[:], ww.Nonce)
	if _, err := w.body(); err != nil {
		return nil, err
	}
	return w, nil
}

// Verify checks that Cert is a certificate valid at now issued by Persona
// and that its device signed the Welcome, and returns the certificate. The
// caller also checks HelloHash against the Hello it sent, Persona against
// the invite's, and the certificate's device against the connected peer.
func (w *Welcome) Verify(now time.Time) (*identity.DeviceCertV1, error) {
	b, err := w.body()
	if err != nil {
		return nil, err
	}
	enc, err := encodeMsg(b, "welcome")
	if err != nil {
		return nil, err
	}
	cert, err := verifySigned(w.Cert, w.Persona, DomainWelcome, enc, w.Sig, now)
	if err != nil {
		return nil, fmt.Errorf("%w: welcome: %w", ErrBadMessage, err)
	}
	return cert, nil
}

// ---- Confirm ----

// Confirm is the acceptor's commitment after verifying the Welcome: the
// Welcome's hash signed by the acceptor's device (the one whose certificate
// the Hello carried).
//
// Wire form: [Version, WelcomeHash, Sig]; Sig over [Version, WelcomeHash]
// in domain DomainConfirm.
type Confirm struct {
	Version     uint16
	WelcomeHash [32]byte
	Sig         []byte
}

type confirmBody struct {
	_           struct{} `cbor:",toarray"`
	Version     uint16
	WelcomeHash []byte
}

type confirmWire struct {
	_           struct{} `cbor:",toarray"`
	Version     uint16
	WelcomeHash []byte
	Sig         []byte
}

func (c *Confirm) body() (confirmBody, error) {
	if err := checkVersionAndName("confirm", c.Version, ""); err != nil {
		return confirmBody{}, err
	}
	return confirmBody{Version: c.Version, WelcomeHash: c.WelcomeHash[:]}, nil
}

// NewConfirm signs the Confirm of welcome with the acceptor's device key.
func NewConfirm(device ed25519.PrivateKey, welcome *Welcome) (*Confirm, error) {
	if len(device) != ed25519.PrivateKeySize {
		return nil, errors.New("contacts: NewConfirm needs the device key")
	}
	wh, err := welcome.Hash()
	if err != nil {
		return nil, err
	}
	c := &Confirm{Version: HandshakeVersion, WelcomeHash: wh}
	b, _ := c.body()
	enc, err := encodeMsg(b, "confirm")
	if err != nil {
		return nil, err
	}
	c.Sig = codec.Sign(device, DomainConfirm, enc)
	return c, nil
}

// Marshal returns the Confirm's canonical encoding.
func (c *Confirm) Marshal() ([]byte, error) {
	b, err := c.body()
	if err != nil {
		return nil, err
	}
	return encodeMsg(confirmWire{Version: b.Version, WelcomeHash: b.WelcomeHash, Sig: c.Sig}, "confirm")
}

// ParseConfirm decodes a Confirm strictly; verify it with VerifyConfirm.
func ParseConfirm(b []byte) (*Confirm, error) {
	var w confirmWire
	if err := decodeMsg(b, "confirm", &w); err != nil {
		return nil, err
	}
	if len(w.WelcomeHash) != sha256.Size {
		return nil, badMsg("confirm", "welcome hash of %d bytes", len(w.WelcomeHash))
	}
	c := &Confirm{Version: w.Version, Sig: w.Sig}
	copy(c.WelcomeHash[:], w.WelcomeHash)
	return c, nil
}

// VerifyConfirm checks that acceptorDevice (the device key of the Hello's
// certificate) signed c. The caller also checks WelcomeHash against the
// Welcome it sent.
func VerifyConfirm(c *Confirm, acceptorDevice ed25519.PublicKey) error {
	b, err := c.body()
	if err != nil {
		return err
	}
	enc, err := encodeMsg(b, "confirm")
	if err != nil {
		return err
	}
	if !codec.Verify(acceptorDevice, DomainConfirm, enc, c.Sig) {
		return badMsg("confirm", "bad signature")
	}
	return nil
}

// ---- Done ----

// Done is the inviter's last message: OK, or the reason it refused (for the
// user; at most MaxDoneError bytes). It is not signed: the transport
// authenticates the inviter's device.
//
// Wire form: [Version, OK, Error].
type Done struct {
	Version uint16
	OK      bool
	Error   string
}

type doneWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	OK      bool
	Error   string
}

func (d *Done) check() error {
	if err := checkVersionAndName("done", d.Version, ""); err != nil {
		return err
	}
	if len(d.Error) > MaxDoneError {
		return badMsg("done", "error of %d bytes (max %d)", len(d.Error), MaxDoneError)
	}
	if d.OK && d.Error != "" {
		return badMsg("done", "OK with an error")
	}
	return nil
}

// Marshal returns the Done's canonical encoding.
func (d *Done) Marshal() ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return encodeMsg(doneWire{Version: d.Version, OK: d.OK, Error: d.Error}, "done")
}

// ParseDone decodes a Done strictly.
func ParseDone(b []byte) (*Done, error) {
	var w doneWire
	if err := decodeMsg(b, "done", &w); err != nil {
		return nil, err
	}
	d := &Done{Version: w.Version, OK: w.OK, Error: w.Error}
	return d, d.check()
}

// ---- framing ----

// maxUvarintLen bounds the length prefix (MaxMsgSize itself needs 2 bytes).
const maxUvarintLen = 3

// WriteMsg writes b with a uvarint length prefix, in one Write. b must be
// at most MaxMsgSize bytes.
func WriteMsg(w io.Writer, b []byte) error {
	if len(b) > MaxMsgSize {
		return badMsg("frame", "%d bytes (max %d)", len(b), MaxMsgSize)
	}
	return codec.WriteFrame(w, b)
}

// ReadMsg reads one message written by WriteMsg (a codec frame). limit is
// capped at MaxMsgSize. A length prefix above limit, or a malformed one,
// fails with ErrBadMessage before any buffer is allocated; a short read
// fails with io.ErrUnexpectedEOF (io.EOF if the stream ended before the
// first byte).
func ReadMsg(r io.Reader, limit int) ([]byte, error) {
	limit = min(max(limit, 0), MaxMsgSize)
	b, err := codec.ReadFrame(r, limit)
	if errors.Is(err, codec.ErrFrameTooLarge) || errors.Is(err, codec.ErrMalformed) {
		return nil, badMsg("frame", "%v", err)
	}
	return b, err
}
