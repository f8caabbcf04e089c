package pairing

// Format 2 of the pairing protocol (docs/identity.md section 13,
// "Pairing"): no seed crosses the wire. The code, the Hello and the Done
// are format 1's, unchanged; between them the paired device (the shower)
// sends a WelcomeV2, then one PersonaKeys per persona it hands over, and
// the joining device answers with a JoinedV2 holding one device
// certificate per persona.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// ProtocolIDV2 is the libp2p protocol of pairing format 2.
const ProtocolIDV2 = "/peer/pair/2.0.0"

// VersionV2 is the version of the format-2 messages (WelcomeV2,
// PersonaKeys, JoinedV2). Hello and Done keep Version.
const VersionV2 = 2

// Limits of format 2, checked before decoding or allocating.
const (
	// MaxPersonas is how many personas one pairing hands over.
	MaxPersonas = 16
	// MaxEncGens is how many encryption generations one PersonaKeys
	// carries (every generation of the persona a device holds).
	MaxEncGens = 16
	// MaxFrameV2 bounds one format-2 message (a PersonaKeys with
	// MaxEncGens generations is about 27 KiB).
	MaxFrameV2 = 48 << 10
	// MaxOpCertLen, MaxDevCertLen, MaxEncCertLen and MaxCredentialLen
	// bound the encoded certificates (about 205, 170, 1360 and 380 bytes).
	MaxOpCertLen     = 512
	MaxDevCertLen    = 512
	MaxEncCertLen    = 2048
	MaxCredentialLen = 1024
	// OpKeyLen is the length of the operational private key on the wire:
	// its 32-byte Ed25519 seed (ed25519.PrivateKey.Seed), never the 64-byte
	// form.
	OpKeyLen = ed25519.SeedSize
	// EncPrivLen is the length of an encryption private key on the wire
	// (hpke.PrivateKey.Bytes of identity.EncryptionKEM).
	EncPrivLen = 32
)

// ErrStale: the shower's epoch of a persona is older than the one its
// published record names; the joiner refuses to join an epoch that has
// been superseded.
var ErrStale = errors.New("pairing: the paired device's persona epoch is superseded")

// WelcomeV2 answers a Hello in format 2. OK announces Personas PersonaKeys
// messages to follow (1 to MaxPersonas); otherwise Message says why not
// and nothing follows.
//
// Wire form: [2, OK, Message, Personas].
type WelcomeV2 struct {
	OK       bool
	Message  string
	Personas int
}

type welcomeV2Wire struct {
	_        struct{} `cbor:",toarray"`
	Version  uint16
	OK       bool
	Message  string
	Personas uint8
}

// EncGen is one encryption generation of a persona: its private key, its
// certificate and the operational certificate of the certificate's epoch.
//
// Wire form: [Priv (32 bytes), EncCert, OpCert].
type EncGen struct {
	Priv hpke.PrivateKey
	Cert *identity.EncKeyCert
	Op   *identity.OpCert
}

type encGenWire struct {
	_      struct{} `cbor:",toarray"`
	Priv   []byte
	Cert   []byte
	OpCert []byte
}

// PersonaKeys hands one persona's operational layer to the joiner: what
// every device of the current epoch holds, and nothing a device of the
// epoch does not (no seed, no root or recovery private key).
//
// Wire form: [2, Index, Name, Separate, OpCert, OpKey (32-byte seed),
// RecoveryPub (1216 bytes), EncGens, Credential].
//
// Index, Name and Separate are not signed: they are the shower's word,
// over the channel the code's secret opened. Everything else is checked
// by Verify against the persona ID the operational certificate names.
type PersonaKeys struct {
	Index       uint32
	Name        string
	Separate    bool
	Op          *identity.OpCert   // the current epoch's
	OpKey       ed25519.PrivateKey // its private key
	RecoveryPub hpke.PublicKey
	EncGens     []EncGen
	Credential  *identity.Credential // the shower's, of the current epoch
}

type personaKeysWire struct {
	_           struct{} `cbor:",toarray"`
	Version     uint16
	Index       uint32
	Name        string
	Separate    bool
	OpCert      []byte
	OpKey       []byte
	RecoveryPub []byte
	EncGens     []encGenWire
	Credential  []byte
}

// Persona returns the persona ID (did:key) the keys are for.
func (p *PersonaKeys) Persona() string { return p.Op.Persona }

// Epoch returns the shower's (current) epoch of the persona.
func (p *PersonaKeys) Epoch() uint32 { return p.Op.Epoch }

// JoinedCert is the joiner's device certificate for one persona (issued by
// the joiner with that persona's operational key) and where that device
// key's host listens: for a separate persona its own host.
//
// Wire form: [Index, DeviceCert, Addrs].
type JoinedCert struct {
	Index uint32
	Cert  *identity.DeviceCert
	Addrs []string
}

type joinedCertWire struct {
	_     struct{} `cbor:",toarray"`
	Index uint32
	Cert  []byte
	Addrs []string
}

// JoinedV2 tells the shower the joiner's device certificates, one per
// persona handed over, in the order of the PersonaKeys.
//
// Wire form: [2, Name, Certs].
type JoinedV2 struct {
	Name  string
	Certs []JoinedCert
}

type joinedV2Wire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Name    string
	Certs   []joinedCertWire
}

func checkWelcomeV2(w *WelcomeV2) error {
	if err := checkText("message", w.Message, MaxMessage); err != nil {
		return err
	}
	if !w.OK {
		if w.Personas != 0 {
			return malformed("a refusal announces %d personas", w.Personas)
		}
		return nil
	}
	if w.Personas < 1 || w.Personas > MaxPersonas {
		return malformed("%d personas, want 1 to %d", w.Personas, MaxPersonas)
	}
	return nil
}

// EncodeWelcomeV2 checks the limits a reader applies and encodes w.
func EncodeWelcomeV2(w *WelcomeV2) ([]byte, error) {
	if err := checkWelcomeV2(w); err != nil {
		return nil, err
	}
	return encodeV2("welcome", &welcomeV2Wire{Version: VersionV2, OK: w.OK, Message: w.Message, Personas: uint8(w.Personas)})
}

// ParseWelcomeV2 decodes one WelcomeV2 strictly.
func ParseWelcomeV2(b []byte) (*WelcomeV2, error) {
	var w welcomeV2Wire
	if err := decodeV2("welcome", b, &w); err != nil {
		return nil, err
	}
	out := &WelcomeV2{OK: w.OK, Message: w.Message, Personas: int(w.Personas)}
	if err := checkWelcomeV2(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkPersonaKeys checks the structure (not the signatures) of p.
func checkPersonaKeys(p *PersonaKeys) error {
	if err := checkText("persona name", p.Name, MaxNameLen); err != nil {
		return err
	}
	if p.Name == "" {
		return malformed("persona without a name")
	}
	if p.Op == nil || p.Credential == nil || p.RecoveryPub == nil {
		return malformed("persona keys without an operational certificate, credential or recovery key")
	}
	if len(p.OpKey) != ed25519.PrivateKeySize {
		return malformed("operational key of %d bytes", len(p.OpKey))
	}
	if len(p.EncGens) == 0 || len(p.EncGens) > MaxEncGens {
		return malformed("%d encryption generations, want 1 to %d", len(p.EncGens), MaxEncGens)
	}
	for i, g := range p.EncGens {
		if g.Priv == nil || g.Cert == nil || g.Op == nil {
			return malformed("encryption generation %d incomplete", i)
		}
	}
	return nil
}

func marshalBounded(what string, m interface{ Marshal() ([]byte, error) }, max int) ([]byte, error) {
	b, err := m.Marshal()
	if err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	if len(b) > max {
		return nil, malformed("%s of %d bytes, limit %d", what, len(b), max)
	}
	return b, nil
}

// EncodePersonaKeys checks the structure a reader checks and encodes p.
func EncodePersonaKeys(p *PersonaKeys) ([]byte, error) {
	if err := checkPersonaKeys(p); err != nil {
		return nil, err
	}
	w := personaKeysWire{Version: VersionV2, Index: p.Index, Name: p.Name, Separate: p.Separate,
		OpKey: p.OpKey.Seed(), RecoveryPub: p.RecoveryPub.Bytes()}
	var err error
	if w.OpCert, err = marshalBounded("operational certificate", p.Op, MaxOpCertLen); err != nil {
		return nil, err
	}
	if w.Credential, err = marshalBounded("credential", p.Credential, MaxCredentialLen); err != nil {
		return nil, err
	}
	for i, g := range p.EncGens {
		priv, err := g.Priv.Bytes()
		if err != nil || len(priv) != EncPrivLen {
			return nil, malformed("encryption generation %d: private key not exportable", i)
		}
		gw := encGenWire{Priv: priv}
		if gw.Cert, err = marshalBounded("encryption-key certificate", g.Cert, MaxEncCertLen); err != nil {
			return nil, err
		}
		if gw.OpCert, err = marshalBounded("operational certificate", g.Op, MaxOpCertLen); err != nil {
			return nil, err
		}
		w.EncGens = append(w.EncGens, gw)
	}
	return encodeV2("persona keys", &w)
}

// parseBounded decodes one certificate of at most max bytes, keeping the
// identity error (ErrMalformed, ErrUnsupportedVersion) and adding
// pairing's ErrMalformed.
func parseBounded[C any](what string, b []byte, max int, parse func([]byte) (*C, error)) (*C, error) {
	if len(b) == 0 || len(b) > max {
		return nil, malformed("%s of %d bytes", what, len(b))
	}
	c, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return c, nil
}

// ParsePersonaKeys decodes one PersonaKeys strictly. It checks structure
// and key sizes, not signatures: call Verify.
func ParsePersonaKeys(b []byte) (*PersonaKeys, error) {
	var w personaKeysWire
	if err := decodeV2("persona keys", b, &w); err != nil {
		return nil, err
	}
	if len(w.EncGens) == 0 || len(w.EncGens) > MaxEncGens {
		return nil, malformed("%d encryption generations, want 1 to %d", len(w.EncGens), MaxEncGens)
	}
	if len(w.OpKey) != OpKeyLen {
		return nil, malformed("operational key of %d bytes, want %d", len(w.OpKey), OpKeyLen)
	}
	if len(w.RecoveryPub) != identity.EncryptionPublicKeySize {
		return nil, malformed("recovery key of %d bytes, want %d", len(w.RecoveryPub), identity.EncryptionPublicKeySize)
	}
	p := &PersonaKeys{Index: w.Index, Name: w.Name, Separate: w.Separate, OpKey: ed25519.NewKeyFromSeed(w.OpKey)}
	var err error
	if p.RecoveryPub, err = identity.EncryptionKEM().NewPublicKey(w.RecoveryPub); err != nil {
		return nil, malformed("recovery key: %v", err)
	}
	if p.Op, err = parseBounded("operational certificate", w.OpCert, MaxOpCertLen, identity.ParseOpCert); err != nil {
		return nil, err
	}
	if p.Credential, err = parseBounded("credential", w.Credential, MaxCredentialLen, identity.ParseCredential); err != nil {
		return nil, err
	}
	for i, gw := range w.EncGens {
		if len(gw.Priv) != EncPrivLen {
			return nil, malformed("encryption generation %d: private key of %d bytes, want %d", i, len(gw.Priv), EncPrivLen)
		}
		var g EncGen
		if g.Priv, err = identity.EncryptionKEM().NewPrivateKey(gw.Priv); err != nil {
			return nil, malformed("encryption generation %d: %v", i, err)
		}
		if g.Cert, err = parseBounded("encryption-key certificate", gw.Cert, MaxEncCertLen, identity.ParseEncKeyCert); err != nil {
			return nil, err
		}
		if g.Op, err = parseBounded("operational certificate", gw.OpCert, MaxOpCertLen, identity.ParseOpCert); err != nil {
			return nil, err
		}
		p.EncGens = append(p.EncGens, g)
	}
	if err := checkPersonaKeys(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks every chain of p against the persona its operational
// certificate names (the root's signature): the operational private key is
// the certified one and the recovery key the one whose ID it names
// (identity.ErrPersonaMismatch); every encryption generation's certificate
// verifies under its operational certificate, of this persona and of an
// epoch not above the current one, and its private key is the certified
// one; generations are distinct; the shower's credential verifies at now
// and is of the current epoch (identity.ErrEpochMismatch). Errors are
// identity's typed errors (errors.Is) or ErrMalformed. Whether the epoch
// is still current is CheckEpoch's question.
func (p *PersonaKeys) Verify(now time.Time) error {
	if err := checkPersonaKeys(p); err != nil {
		return err
	}
	if err := p.Op.Verify(); err != nil {
		return err
	}
	persona := p.Op.Persona
	if !bytes.Equal(p.OpKey.Public().(ed25519.PublicKey), p.Op.OpKey) {
		return fmt.Errorf("%w: the operational key is not the certified one", identity.ErrPersonaMismatch)
	}
	if rid := identity.RecoveryID(p.RecoveryPub); !bytes.Equal(rid[:], p.Op.RecoveryID) {
		return fmt.Errorf("%w: the recovery key is not the one the operational certificate names", identity.ErrPersonaMismatch)
	}
	type genID struct {
		epoch, gen uint32
		id         [8]byte
	}
	seen := make(map[genID]bool, len(p.EncGens))
	for i, g := range p.EncGens {
		if g.Op.Persona != persona {
			return fmt.Errorf("%w: encryption generation %d is of %s", identity.ErrPersonaMismatch, i, g.Op.Persona)
		}
		if g.Op.Epoch > p.Op.Epoch {
			return fmt.Errorf("%w: encryption generation %d of epoch %d, above the current %d", identity.ErrEpochMismatch, i, g.Op.Epoch, p.Op.Epoch)
		}
		if err := g.Cert.Verify(g.Op); err != nil {
			return fmt.Errorf("encryption generation %d: %w", i, err)
		}
		if !bytes.Equal(g.Priv.PublicKey().Bytes(), g.Cert.Key) {
			return fmt.Errorf("%w: encryption generation %d: the private key is not the certified one", identity.ErrPersonaMismatch, i)
		}
		k := genID{g.Cert.Epoch, g.Cert.Gen, g.Cert.KeyID()}
		if seen[k] {
			return malformed("encryption generation %d given twice", i)
		}
		seen[k] = true
	}
	if _, epoch, err := p.Credential.Verify(persona, now, nil); err != nil {
		return fmt.Errorf("the paired device's credential: %w", err)
	} else if epoch != p.Op.Epoch {
		return fmt.Errorf("%w: the paired device's credential is of epoch %d, the keys of %d", identity.ErrEpochMismatch, epoch, p.Op.Epoch)
	}
	return nil
}

// CheckEpoch compares the shower's epoch with the one the persona's
// resolved record names: a newer record epoch is ErrStale (the shower was
// cut off or not yet updated); an equal or older one is fine.
func (p *PersonaKeys) CheckEpoch(recordEpoch uint32) error {
	if recordEpoch > p.Op.Epoch {
		return fmt.Errorf("%w: persona %q is at epoch %d, the paired device at %d: pair with an up-to-date device", ErrStale, p.Name, recordEpoch, p.Op.Epoch)
	}
	return nil
}

func checkJoinedV2(j *JoinedV2) error {
	if err := checkText("device name", j.Name, MaxNameLen); err != nil {
		return err
	}
	if len(j.Certs) == 0 || len(j.Certs) > MaxPersonas {
		return malformed("%d certificates, want 1 to %d", len(j.Certs), MaxPersonas)
	}
	seen := make(map[uint32]bool, len(j.Certs))
	for i, c := range j.Certs {
		if c.Cert == nil {
			return malformed("certificate %d missing", i)
		}
		if seen[c.Index] {
			return malformed("persona %d certified twice", c.Index)
		}
		seen[c.Index] = true
		if err := checkAddrs(c.Addrs); err != nil {
			return err
		}
	}
	return nil
}

// EncodeJoinedV2 checks the limits a reader applies and encodes j.
func EncodeJoinedV2(j *JoinedV2) ([]byte, error) {
	if err := checkJoinedV2(j); err != nil {
		return nil, err
	}
	w := joinedV2Wire{Version: VersionV2, Name: j.Name}
	for _, c := range j.Certs {
		b, err := marshalBounded("device certificate", c.Cert, MaxDevCertLen)
		if err != nil {
			return nil, err
		}
		w.Certs = append(w.Certs, joinedCertWire{Index: c.Index, Cert: b, Addrs: c.Addrs})
	}
	return encodeV2("joined", &w)
}

// ParseJoinedV2 decodes one JoinedV2 strictly. It checks structure, not
// signatures: call Verify.
func ParseJoinedV2(b []byte) (*JoinedV2, error) {
	var w joinedV2Wire
	if err := decodeV2("joined", b, &w); err != nil {
		return nil, err
	}
	if len(w.Certs) > MaxPersonas {
		return nil, malformed("%d certificates, limit %d", len(w.Certs), MaxPersonas)
	}
	j := &JoinedV2{Name: w.Name}
	for _, cw := range w.Certs {
		c, err := parseBounded("device certificate", cw.Cert, MaxDevCertLen, identity.ParseDeviceCert)
		if err != nil {
			return nil, err
		}
		j.Certs = append(j.Certs, JoinedCert{Index: cw.Index, Cert: c, Addrs: cw.Addrs})
	}
	if err := checkJoinedV2(j); err != nil {
		return nil, err
	}
	return j, nil
}

// Verify checks j against the PersonaKeys the shower sent, in the same
// order: one certificate per persona (ErrMalformed otherwise), each
// verifying under that persona's operational certificate at now
// (identity's errors); the personas that are not separate share one device
// key, and each separate persona has a key of its own, used by no other
// (identity.ErrPersonaMismatch). It returns the joiner's shared device
// key (nil when every persona is separate).
func (j *JoinedV2) Verify(keys []*PersonaKeys, now time.Time) (ed25519.PublicKey, error) {
	if err := checkJoinedV2(j); err != nil {
		return nil, err
	}
	if len(j.Certs) != len(keys) {
		return nil, malformed("%d certificates for %d personas", len(j.Certs), len(keys))
	}
	var shared ed25519.PublicKey
	used := make(map[string]bool, len(keys))
	for i, c := range j.Certs {
		k := keys[i]
		if c.Index != k.Index {
			return nil, malformed("certificate %d is for persona %d, want %d", i, c.Index, k.Index)
		}
		if err := c.Cert.Verify(k.Op, now); err != nil {
			return nil, fmt.Errorf("certificate for persona %q: %w", k.Name, err)
		}
		dk := c.Cert.DeviceKey()
		switch {
		case !k.Separate && shared == nil:
			if used[string(dk)] {
				return nil, fmt.Errorf("%w: a separate persona's device key is reused", identity.ErrPersonaMismatch)
			}
			shared = dk
			used[string(dk)] = true
		case !k.Separate:
			if !bytes.Equal(dk, shared) {
				return nil, fmt.Errorf("%w: persona %q has another device key than the others", identity.ErrPersonaMismatch, k.Name)
			}
		default:
			if used[string(dk)] {
				return nil, fmt.Errorf("%w: separate persona %q shares a device key", identity.ErrPersonaMismatch, k.Name)
			}
			used[string(dk)] = true
		}
	}
	return shared, nil
}

func encodeV2(what string, v any) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, malformed("%s: %v", what, err)
	}
	if len(b) > MaxFrameV2 {
		return nil, malformed("%s of %d bytes, limit %d", what, len(b), MaxFrameV2)
	}
	return b, nil
}

func decodeV2(what string, b []byte, v any) error {
	if len(b) > MaxFrameV2 {
		return malformed("%s of %d bytes, limit %d", what, len(b), MaxFrameV2)
	}
	if ver, err := codec.RecordVersion(b); err != nil {
		return malformed("%s: %v", what, err)
	} else if ver != VersionV2 {
		return malformed("%s version %d, want %d", what, ver, VersionV2)
	}
	if err := codec.Unmarshal(b, v); err != nil {
		return malformed("%s: %v", what, err)
	}
	return nil
}

// ReadV2 reads one message frame of at most MaxFrameV2 bytes (Write sends
// one).
func ReadV2(r io.Reader) ([]byte, error) { return codec.ReadFrame(r, MaxFrameV2) }
