// Package codec is the one deterministic encoding for signed records and the
// one way to sign and verify them.
//
// Records are encoded as CBOR (RFC 8949) with the Core Deterministic Encoding
// rules: shortest-form integers and lengths, sorted map keys, no indefinite
// lengths, no tags, times as integer Unix seconds. Decoding is strict: the
// input is bounded before it is parsed, duplicate map keys, unknown struct
// fields, tags and indefinite lengths are rejected, and the input must be
// byte-for-byte the canonical encoding of the decoded value, so every record
// has exactly one valid encoding and a signature covers exactly one value.
//
// Signatures are Ed25519 over a domain-separated message (see SignedMessage),
// so a signature made for one record type can never be replayed as another.
//
// codec is a leaf package (standard library, crypto and the CBOR library
// only); any package may import it. Record structs should use the
// `cbor:",toarray"` struct tag, as the records in internal/identity do.
package codec

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Limits applied before and while decoding. They bound the memory and time
// that hostile input can cost.
const (
	// MaxRecordSize is the largest encoded record Marshal produces and
	// Unmarshal accepts, in bytes.
	MaxRecordSize = 64 << 10
	// MaxNestingLevels bounds how deeply arrays and maps may nest.
	MaxNestingLevels = 16
	// MaxArrayElements bounds the length of any one array.
	MaxArrayElements = 4096
	// MaxMapPairs bounds the number of pairs in any one map.
	MaxMapPairs = 1024
)

// RawMessage is an encoded CBOR item kept undecoded, for reading a record in
// two steps (for example its version first). Unmarshal still checks that it
// is canonical as part of the enclosing value.
type RawMessage = cbor.RawMessage

// SignaturePrefix starts every signed message; it names the signing scheme
// and its version. See SignedMessage.
const SignaturePrefix = "peer-sig/v1\x00"

// Errors callers branch on. Details are wrapped with %w.
var (
	// ErrMalformed: the input is not a valid encoding of the target type.
	ErrMalformed = errors.New("codec: malformed record")
	// ErrTooLarge: the input or output exceeds MaxRecordSize.
	ErrTooLarge = errors.New("codec: record too large")
	// ErrNonCanonical: the input decodes, but is not the one deterministic
	// encoding of its value.
	ErrNonCanonical = errors.New("codec: record not canonically encoded")
)

var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	opts := cbor.CoreDetEncOptions() // sorted keys, shortest forms, no indefinite lengths
	opts.Time = cbor.TimeUnix
	opts.TagsMd = cbor.TagsForbidden
	opts.IndefLength = cbor.IndefLengthForbidden
	// nil and empty slices and maps are the same value on the wire, so that
	// there is one encoding for it.
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		panic("codec: bad encoding options: " + err.Error())
	}
	return em
}

func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   MaxNestingLevels,
		MaxArrayElements:  MaxArrayElements,
		MaxMapPairs:       MaxMapPairs,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic("codec: bad decoding options: " + err.Error())
	}
	return dm
}

// Marshal returns the deterministic encoding of v. Equal values always
// encode to equal bytes. It fails with ErrTooLarge if the encoding is longer
// than MaxRecordSize, so nothing is produced that Unmarshal would refuse.
func Marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codec: encode %T: %w", v, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %T encodes to %d bytes, limit %d", ErrTooLarge, v, len(b), MaxRecordSize)
	}
	return b, nil
}

// Unmarshal decodes data into v, which must be a non-nil pointer. It checks
// the size before parsing (ErrTooLarge), decodes strictly (ErrMalformed) and
// then requires data to be exactly the encoding Marshal gives for the decoded
// value (ErrNonCanonical). On any error *v is left unchanged.
func Unmarshal(data []byte, v any) error {
	if len(data) > MaxRecordSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxRecordSize)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("codec: Unmarshal needs a non-nil pointer, got %T", v)
	}
	// Decode into a fresh zero value, so that nothing already in *v (a
	// non-empty map, say) leaks into the canonical check or survives an error.
	fresh := reflect.New(rv.Elem().Type())
	if err := decMode.Unmarshal(data, fresh.Interface()); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	again, err := encMode.Marshal(fresh.Elem().Interface())
	if err != nil {
		return fmt.Errorf("%w: cannot re-encode: %w", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w: %d bytes in, canonical form is %d bytes", ErrNonCanonical, len(data), len(again))
	}
	rv.Elem().Set(fresh.Elem())
	return nil
}

// SignedMessage returns the bytes that are actually signed for a record of
// type domain with encoded body:
//
//	"peer-sig/v1\x00" || domain || "\x00" || body
//
// domain names the record type (for example "peer/device-cert"); it must be
// non-empty and must not contain a NUL byte, or SignedMessage panics: domains
// are constants, so a bad one is a programming error.
func SignedMessage(domain string, body []byte) []byte {
	if !validDomain(domain) {
		panic(fmt.Sprintf("codec: invalid signature domain %q", domain))
	}
	msg := make([]byte, 0, len(SignaturePrefix)+len(domain)+1+len(body))
	msg = append(msg, SignaturePrefix...)
	msg = append(msg, domain...)
	msg = append(msg, 0)
	return append(msg, body...)
}

func validDomain(domain string) bool {
	return domain != "" && !strings.ContainsRune(domain, 0)
}

// Sign signs body for domain with priv (see SignedMessage). Like
// ed25519.Sign it panics if priv is not ed25519.PrivateKeySize bytes long.
func Sign(priv ed25519.PrivateKey, domain string, body []byte) []byte {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("codec: bad private key length %d", len(priv)))
	}
	return ed25519.Sign(priv, SignedMessage(domain, body))
}

// Verify reports whether sig is pub's signature of body for domain. It
// returns false, without panicking, for keys or signatures of the wrong
// length and for invalid domains.
func Verify(pub ed25519.PublicKey, domain string, body, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || !validDomain(domain) {
		return false
	}
	return ed25519.Verify(pub, SignedMessage(domain, body), sig)
}

// RecordVersion returns the leading version field of an encoded record
// array, without decoding the rest. Readers check it before the record's
// shape, so a record of a newer format is reported as an unsupported
// version rather than as malformed. Errors wrap ErrMalformed (or
// ErrTooLarge/ErrNonCanonical from Unmarshal).
func RecordVersion(data []byte) (uint16, error) {
	var items []RawMessage
	if err := Unmarshal(data, &items); err != nil {
		return 0, err
	}
	if len(items) == 0 {
		return 0, fmt.Errorf("%w: empty record", ErrMalformed)
	}
	var v uint16
	if err := Unmarshal(items[0], &v); err != nil {
		return 0, fmt.Errorf("%w: version field: %w", ErrMalformed, err)
	}
	return v, nil
}
