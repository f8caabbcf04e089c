// Package contacts keeps a node's address book and its contact invites: the
// personas the user added (each with a local pet name, the devices last seen
// for it and a block flag), the block list of personas and raw peer IDs the
// node refuses, the bookkeeping of one-time invites the user issued, the
// signed wire records of an invite link and of the four-message accept
// handshake (stream protocol ProtocolID), and the Service that runs that
// handshake on both sides and keeps the directory of known devices (which
// persona a device belongs to, which are blocked) and contacts' presence.
//
// contacts is a domain package: it imports only the standard library,
// internal/kv, internal/codec, internal/identity, internal/netport and
// base58. It reaches the network only through the netport.Network port,
// never libp2p; the node plugs in the port and wires the directory into its
// connection gater (see docs/contacts.md). Any package above the storage
// layer may import it.
package contacts

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mr-tron/base58"
)

// Errors callers branch on. Functions wrap them with details, so test them
// with errors.Is.
var (
	// ErrNotFound: no contact (or blocked entry) matches the reference.
	ErrNotFound = errors.New("contacts: not found")
	// ErrExists: the persona is already a contact (or the invite is already saved).
	ErrExists = errors.New("contacts: already exists")
	// ErrNameTaken: another contact has this pet name (case-insensitively).
	ErrNameTaken = errors.New("contacts: name taken")
	// ErrBadName: a pet name breaks the name rules (see CheckName).
	ErrBadName = errors.New("contacts: invalid name")
	// ErrBadPersona: a string is not a valid did:key.
	ErrBadPersona = errors.New("contacts: invalid persona")
	// ErrBadPeerID: a string does not look like a libp2p peer ID.
	ErrBadPeerID = errors.New("contacts: invalid peer ID")
	// ErrTooMany: a list exceeds its bound (MaxDevices, …).
	ErrTooMany = errors.New("contacts: too many entries")
	// ErrNotBlocked: Unblock of something that is not blocked.
	ErrNotBlocked = errors.New("contacts: not blocked")
	// ErrMalformed: a stored record cannot be decoded.
	ErrMalformed = errors.New("contacts: malformed stored record")

	// ErrBadInvite: an invite link is malformed, tampered with or not
	// validly signed. The wrapping message says what is wrong.
	ErrBadInvite = errors.New("contacts: invalid invite")
	// ErrInviteExpired: the invite's expiry has passed.
	ErrInviteExpired = errors.New("contacts: invite expired")
	// ErrInviteUnknown: this node issued no invite with that secret (or ID).
	ErrInviteUnknown = errors.New("contacts: unknown invite")
	// ErrInviteUsed: the invite was already used once.
	ErrInviteUsed = errors.New("contacts: invite already used")

	// ErrBadMessage: a handshake message is malformed, oversized or not
	// validly signed.
	ErrBadMessage = errors.New("contacts: invalid handshake message")
	// ErrUnsupportedVersion: a record or message has a version this code
	// does not know. It is wrapped together with ErrBadInvite or ErrBadMessage.
	ErrUnsupportedVersion = errors.New("contacts: unsupported version")
)

// Bounds.
const (
	// MaxNameLen bounds a pet name (and a suggested name), in bytes.
	MaxNameLen = 64
	// MaxDevices bounds the devices remembered for one contact.
	MaxDevices = 16
	// MinPeerIDLen and MaxPeerIDLen bound the text form of a peer ID.
	MinPeerIDLen = 40
	MaxPeerIDLen = 64
)

// CheckName reports whether name is a valid pet name: 1..MaxNameLen bytes of
// valid UTF-8, no control, format (such as bidi overrides and zero-width
// characters) or line/paragraph separator characters, no leading or trailing
// white space, and not starting with "did:" in any case (so a name can never
// be mistaken for a persona ID). Errors wrap ErrBadName.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes (max %d)", ErrBadName, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadName)
	case len(name) >= 4 && strings.EqualFold(name[:4], "did:"):
		return fmt.Errorf("%w: %q starts with \"did:\"", ErrBadName, name)
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fmt.Errorf("%w: %q has leading or trailing space", ErrBadName, name)
	}
	for _, r := range name {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("%w: %q contains control character %U", ErrBadName, name, r)
		}
	}
	return nil
}

// foldName returns the case-folded form under which names are compared and
// indexed: each rune replaced by the smallest rune of its Unicode simple
// case-folding orbit, so foldName(a) == foldName(b) exactly when
// strings.EqualFold(a, b).
func foldName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lo = min(lo, f)
		}
		b.WriteRune(lo)
	}
	return b.String()
}

// CheckPeerID reports whether s looks like the text form of a libp2p peer ID:
// MinPeerIDLen..MaxPeerIDLen base58btc characters. It does not parse the
// multihash inside; the network layer does. Errors wrap ErrBadPeerID.
func CheckPeerID(s string) error {
	if len(s) < MinPeerIDLen || len(s) > MaxPeerIDLen {
		return fmt.Errorf("%w: %q: %d characters, want %d..%d", ErrBadPeerID, s, len(s), MinPeerIDLen, MaxPeerIDLen)
	}
	if _, err := base58.Decode(s); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadPeerID, s, err)
	}
	return nil
}
