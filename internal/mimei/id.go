// Package mimei defines the MiMei, Peer's unit of information: its stable ID,
// its signed version records and its signed version pointers (last,
// release). The file space (package filetree), the database space (package
// mimeidb) and the block store beneath them are separate packages; this one
// holds what names and vouches for their state.
//
// Domain package: storage and crypto only. The node, the API and the sharing
// and backup engines import it.
package mimei

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/zeebo/blake3"
)

// IDLen is the length of a MiMei ID in bytes (160 bits).
const IDLen = 20

// IDContext is the BLAKE3 key-derivation context for MiMei IDs. Changing it
// changes every ID: never do.
const IDContext = "peer 2026 mimei-id v1"

// Limits on the fields an ID derives from.
const (
	MaxAppTypeLen = 64
	MaxExtLen     = 64
	MaxMarkLen    = 256
)

// AutoMark asks NewID for a fresh, random mark.
const AutoMark = "auto"

// Sentinel errors.
var (
	ErrBadID              = errors.New("bad MiMei ID")
	ErrBadSpec            = errors.New("bad MiMei spec")
	ErrMalformed          = errors.New("malformed record")
	ErrUnsupportedVersion = errors.New("unsupported format version")
	ErrBadSignature       = errors.New("bad signature")
	ErrWrongMiMei         = errors.New("record belongs to another MiMei")
	ErrCertificate        = errors.New("device certificate not valid")
)

// ID names a MiMei for ever. Its text form is "m" followed by 32 lower-case
// base32 characters.
type ID [IDLen]byte

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// String returns the text form, e.g. "mbz6…".
func (id ID) String() string { return "m" + b32.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the text form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 1+32 || s[0] != 'm' {
		return id, fmt.Errorf("%w: %q: want \"m\" and 32 base32 characters", ErrBadID, s)
	}
	b, err := b32.DecodeString(s[1:])
	if err != nil || len(b) != IDLen {
		return id, fmt.Errorf("%w: %q: not base32", ErrBadID, s)
	}
	copy(id[:], b)
	return id, nil
}

// Spec is what a MiMei ID derives from.
type Spec struct {
	Author  string // did:key of the creating persona
	AppType string // e.g. "files", "notes": 1–64 of [a-z0-9._-]
	Ext     string // free-form extension, may be empty: ≤ 64 bytes of UTF-8
	Mark    string // distinguishes MiMei of one author, type and ext: ≤ 256 bytes of UTF-8; AutoMark for a fresh one
}

// idInput is the canonical encoding the ID hashes.
type idInput struct {
	_       struct{} `cbor:",toarray"`
	Author  string
	AppType string
	Ext     string
	Mark    string
}

// Validate checks a spec's fields.
func (s Spec) Validate() error {
	if _, err := identity.ParseDID(s.Author); err != nil {
		return fmt.Errorf("%w: author: %w", ErrBadSpec, err)
	}
	if n := len(s.AppType); n == 0 || n > MaxAppTypeLen {
		return fmt.Errorf("%w: app type must be 1–%d characters", ErrBadSpec, MaxAppTypeLen)
	}
	for _, r := range s.AppType {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w: app type %q: use only a-z, 0-9, '.', '_' and '-'", ErrBadSpec, s.AppType)
		}
	}
	if len(s.Ext) > MaxExtLen || !utf8.ValidString(s.Ext) {
		return fmt.Errorf("%w: ext must be valid UTF-8 of at most %d bytes", ErrBadSpec, MaxExtLen)
	}
	if len(s.Mark) > MaxMarkLen || !utf8.ValidString(s.Mark) {
		return fmt.Errorf("%w: mark must be valid UTF-8 of at most %d bytes", ErrBadSpec, MaxMarkLen)
	}
	return nil
}

// Resolve replaces AutoMark by a fresh random mark ("auto-" and 32 hex
// digits), so the spec, kept with the MiMei, reproduces its ID.
func (s Spec) Resolve() (Spec, error) {
	if s.Mark == AutoMark {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			return s, err
		}
		s.Mark = "auto-" + hex.EncodeToString(r[:])
	}
	return s, s.Validate()
}

// DeriveID computes the ID of a resolved spec: the first 20 bytes of
// BLAKE3 in key-derivation mode, context IDContext, over the deterministic
// CBOR array [author, app type, ext, mark].
func DeriveID(s Spec) (ID, error) {
	var id ID
	if s.Mark == AutoMark {
		return id, fmt.Errorf("%w: resolve the auto mark first", ErrBadSpec)
	}
	if err := s.Validate(); err != nil {
		return id, err
	}
	enc, err := codec.Marshal(idInput{Author: s.Author, AppType: s.AppType, Ext: s.Ext, Mark: s.Mark})
	if err != nil {
		return id, err
	}
	var out [32]byte
	blake3.DeriveKey(IDContext, enc, out[:])
	copy(id[:], out[:IDLen])
	return id, nil
}

// NewID resolves an auto mark and derives the ID.
func NewID(s Spec) (ID, Spec, error) {
	r, err := s.Resolve()
	if err != nil {
		return ID{}, s, err
	}
	id, err := DeriveID(r)
	return id, r, err
}

// trimDID is used in messages to keep them short.
func trimDID(d string) string {
	if len(d) > 20 {
		return d[:16] + "…" + d[len(d)-4:]
	}
	return strings.TrimSpace(d)
}
