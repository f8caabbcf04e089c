package mimei

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// RecordFormat is the version of the version-record and pointer formats.
const RecordFormat = 1

// Signature domains of the records in this package.
const (
	DomainVersion = "peer/mimei-version"
	DomainPointer = "peer/mimei-pointer"
)

// MaxMemoLen bounds a version's memo.
const MaxMemoLen = 4096

// Pointer names.
const (
	PointerLast    = "last"
	PointerRelease = "release"
)

// Signer signs records for a persona: the device key, and the certificate
// by which the persona vouches for that device.
type Signer struct {
	Device ed25519.PrivateKey
	Cert   *identity.DeviceCertV1
}

func (s Signer) check() ([]byte, error) {
	if s.Cert == nil || len(s.Device) != ed25519.PrivateKeySize {
		return nil, errors.New("mimei: signer needs a device key and its certificate")
	}
	if !bytes.Equal(s.Device.Public().(ed25519.PublicKey), s.Cert.Device) {
		return nil, errors.New("mimei: the certificate is not for this device key")
	}
	return s.Cert.Marshal()
}

// Version is a signed, immutable version record: version Number of MiMei,
// whose file space is the tree at Files and whose database is the dump at DB
// (either Undef when empty), following Parent (the CID of the previous
// version record; Undef for the first). The device named by Cert signs it
// for the persona Author.
//
// Wire form: the CBOR array [Format, MiMei, Number, Parent, Time, Memo,
// Files, DB, Author, Cert, Sig], CIDs as bytes (empty for Undef), Time in Unix
// milliseconds; Sig covers the array of the first ten fields in domain
// DomainVersion.
type Version struct {
	Format uint16
	MiMei  ID
	Number uint64
	Parent cid.CID
	Time   time.Time
	Memo   string
	Files  cid.CID
	DB     cid.CID
	Author string
	Cert   []byte
	Sig    []byte
}

type versionBody struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	MiMei  []byte
	Number uint64
	Parent []byte
	Time   int64
	Memo   string
	Files  []byte
	DB     []byte
	Author string
	Cert   []byte
}

type versionWire struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	MiMei  []byte
	Number uint64
	Parent []byte
	Time   int64
	Memo   string
	Files  []byte
	DB     []byte
	Author string
	Cert   []byte
	Sig    []byte
}

func cidBytes(c cid.CID) []byte {
	if !c.Defined() {
		return []byte{}
	}
	return c.Bytes()
}

func bytesCID(b []byte, what string) (cid.CID, error) {
	if len(b) == 0 {
		return cid.Undef, nil
	}
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return c, nil
}

func (v *Version) body() versionBody {
	return versionBody{
		Format: v.Format, MiMei: v.MiMei[:], Number: v.Number, Parent: cidBytes(v.Parent),
		Time: v.Time.UnixMilli(), Memo: v.Memo, Files: cidBytes(v.Files), DB: cidBytes(v.DB),
		Author: v.Author, Cert: v.Cert,
	}
}

func (v *Version) check() error {
	if v.Format != RecordFormat {
		return fmt.Errorf("%w: version record format %d, want %d", ErrUnsupportedVersion, v.Format, RecordFormat)
	}
	if v.MiMei.IsZero() {
		return fmt.Errorf("%w: version record without a MiMei", ErrMalformed)
	}
	if len(v.Memo) > MaxMemoLen {
		return fmt.Errorf("%w: memo of %d bytes exceeds %d", ErrMalformed, len(v.Memo), MaxMemoLen)
	}
	if (v.Number == 0) != !v.Parent.Defined() {
		return fmt.Errorf("%w: version %d: only version 0 has no parent", ErrMalformed, v.Number)
	}
	return nil
}

// Sign fills Format, Author and Cert and signs the record.
func (v *Version) Sign(s Signer) error {
	cert, err := s.check()
	if err != nil {
		return err
	}
	v.Format, v.Author, v.Cert = RecordFormat, s.Cert.Persona, cert
	v.Time = v.Time.Truncate(time.Millisecond)
	if err := v.check(); err != nil {
		return err
	}
	body, err := codec.Marshal(v.body())
	if err != nil {
		return err
	}
	v.Sig = codec.Sign(s.Device, DomainVersion, body)
	return nil
}

// Marshal returns the record's canonical encoding (its block's bytes).
func (v *Version) Marshal() ([]byte, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	b := v.body()
	return codec.Marshal(versionWire{Format: b.Format, MiMei: b.MiMei, Number: b.Number, Parent: b.Parent, Time: b.Time,
		Memo: b.Memo, Files: b.Files, DB: b.DB, Author: b.Author, Cert: b.Cert, Sig: v.Sig})
}

// CID is the content ID of the record's encoding.
func (v *Version) CID() (cid.CID, error) {
	b, err := v.Marshal()
	if err != nil {
		return cid.Undef, err
	}
	return cid.Sum(cid.DagCBOR, b), nil
}

// ParseVersion decodes a version record strictly. It does not verify the
// signature: call Verify before trusting it.
func ParseVersion(b []byte) (*Version, error) {
	if err := checkFormat(b, "version record"); err != nil {
		return nil, err
	}
	var w versionWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: version record: %w", ErrMalformed, err)
	}
	if len(w.MiMei) != IDLen {
		return nil, fmt.Errorf("%w: version record: MiMei ID of %d bytes", ErrMalformed, len(w.MiMei))
	}
	v := &Version{Format: w.Format, Number: w.Number, Time: time.UnixMilli(w.Time).UTC(), Memo: w.Memo, Author: w.Author, Cert: w.Cert, Sig: w.Sig}
	copy(v.MiMei[:], w.MiMei)
	var err error
	if v.Parent, err = bytesCID(w.Parent, "parent"); err != nil {
		return nil, err
	}
	if v.Files, err = bytesCID(w.Files, "files"); err != nil {
		return nil, err
	}
	if v.DB, err = bytesCID(w.DB, "db"); err != nil {
		return nil, err
	}
	return v, v.check()
}

// Verify checks that the record belongs to MiMei want (ErrWrongMiMei), that
// its device certificate is valid at now and was issued by Author
// (ErrCertificate, wrapping identity's reason), and that the certified
// device signed it (ErrBadSignature). revoked may be nil.
func (v *Version) Verify(want ID, now time.Time, revoked func(persona string, serial uint64) bool) error {
	if err := v.check(); err != nil {
		return err
	}
	if v.MiMei != want {
		return fmt.Errorf("%w: version of %s, want %s", ErrWrongMiMei, v.MiMei, want)
	}
	body, err := codec.Marshal(v.body())
	if err != nil {
		return err
	}
	return verifySigned(v.Cert, v.Author, DomainVersion, body, v.Sig, now, revoked)
}

func verifySigned(certBytes []byte, author, domain string, body, sig []byte, now time.Time, revoked func(string, uint64) bool) error {
	cert, err := identity.ParseDeviceCertV1(certBytes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if err := cert.Verify(now, revoked); err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if cert.Persona != author {
		return fmt.Errorf("%w: certificate of %s, record by %s", ErrCertificate, trimDID(cert.Persona), trimDID(author))
	}
	if !codec.Verify(cert.DeviceKey(), domain, body, sig) {
		return fmt.Errorf("%w: %s", ErrBadSignature, domain)
	}
	return nil
}

// checkFormat reads the first element of an encoded record so another
// format is reported as ErrUnsupportedVersion, not as malformed.
func checkFormat(b []byte, what string) error {
	f, err := codec.RecordVersion(b)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if f != RecordFormat {
		return fmt.Errorf("%w: %s format %d, want %d", ErrUnsupportedVersion, what, f, RecordFormat)
	}
	return nil
}

// Pointer is a signed, movable name for a version: "last" or "release".
// Seq rises with every move of the pointer, so the highest valid Seq wins
// when copies disagree.
//
// Wire form: [Format, MiMei, Name, Number, Target, Seq, Time, Author, Cert,
// Sig], signed over the first nine in domain DomainPointer.
type Pointer struct {
	Format uint16
	MiMei  ID
	Name   string
	Number uint64
	Target cid.CID // the version record's CID
	Seq    uint64
	Time   time.Time
	Author string
	Cert   []byte
	Sig    []byte
}

type pointerBody struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	MiMei  []byte
	Name   string
	Number uint64
	Target []byte
	Seq    uint64
	Time   int64
	Author string
	Cert   []byte
}

type pointerWire struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	MiMei  []byte
	Name   string
	Number uint64
	Target []byte
	Seq    uint64
	Time   int64
	Author string
	Cert   []byte
	Sig    []byte
}

func (p *Pointer) body() pointerBody {
	return pointerBody{Format: p.Format, MiMei: p.MiMei[:], Name: p.Name, Number: p.Number, Target: cidBytes(p.Target),
		Seq: p.Seq, Time: p.Time.UnixMilli(), Author: p.Author, Cert: p.Cert}
}

func (p *Pointer) check() error {
	if p.Format != RecordFormat {
		return fmt.Errorf("%w: pointer format %d, want %d", ErrUnsupportedVersion, p.Format, RecordFormat)
	}
	if p.Name != PointerLast && p.Name != PointerRelease {
		return fmt.Errorf("%w: pointer name %q", ErrMalformed, p.Name)
	}
	if p.MiMei.IsZero() || !p.Target.Defined() {
		return fmt.Errorf("%w: pointer without MiMei or target", ErrMalformed)
	}
	return nil
}

// Sign fills Format, Author and Cert and signs the pointer.
func (p *Pointer) Sign(s Signer) error {
	cert, err := s.check()
	if err != nil {
		return err
	}
	p.Format, p.Author, p.Cert = RecordFormat, s.Cert.Persona, cert
	p.Time = p.Time.Truncate(time.Millisecond)
	if err := p.check(); err != nil {
		return err
	}
	body, err := codec.Marshal(p.body())
	if err != nil {
		return err
	}
	p.Sig = codec.Sign(s.Device, DomainPointer, body)
	return nil
}

// Marshal returns the pointer's canonical encoding.
func (p *Pointer) Marshal() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	b := p.body()
	return codec.Marshal(pointerWire{Format: b.Format, MiMei: b.MiMei, Name: b.Name, Number: b.Number, Target: b.Target,
		Seq: b.Seq, Time: b.Time, Author: b.Author, Cert: b.Cert, Sig: p.Sig})
}

// ParsePointer decodes a pointer strictly; call Verify before trusting it.
func ParsePointer(b []byte) (*Pointer, error) {
	if err := checkFormat(b, "pointer"); err != nil {
		return nil, err
	}
	var w pointerWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: pointer: %w", ErrMalformed, err)
	}
	if len(w.MiMei) != IDLen {
		return nil, fmt.Errorf("%w: pointer: MiMei ID of %d bytes", ErrMalformed, len(w.MiMei))
	}
	p := &Pointer{Format: w.Format, Name: w.Name, Number: w.Number, Seq: w.Seq, Time: time.UnixMilli(w.Time).UTC(), Author: w.Author, Cert: w.Cert, Sig: w.Sig}
	copy(p.MiMei[:], w.MiMei)
	var err error
	if p.Target, err = bytesCID(w.Target, "target"); err != nil {
		return nil, err
	}
	return p, p.check()
}

// Verify checks the pointer as Version.Verify checks a version record.
func (p *Pointer) Verify(want ID, now time.Time, revoked func(persona string, serial uint64) bool) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.MiMei != want {
		return fmt.Errorf("%w: pointer of %s, want %s", ErrWrongMiMei, p.MiMei, want)
	}
	body, err := codec.Marshal(p.body())
	if err != nil {
		return err
	}
	return verifySigned(p.Cert, p.Author, DomainPointer, body, p.Sig, now, revoked)
}
