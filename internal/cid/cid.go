// Package cid names blocks by their content: CIDv1 with a BLAKE3-256
// multihash. Leaf chunks of files use the raw codec; structural nodes (file
// trees, directories, version records) use dag-cbor.
//
// It is a leaf package (go-cid, go-multihash and BLAKE3 only); any layer may
// import it.
package cid

import (
	"errors"
	"fmt"

	gocid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

// CID is a content identifier. The zero value is Undef. CIDs are comparable
// and may be used as map keys.
type CID = gocid.Cid

// Undef is the zero CID.
var Undef = gocid.Undef

// Codecs of the blocks we make.
const (
	Raw     = gocid.Raw     // 0x55: a chunk of file bytes
	DagCBOR = gocid.DagCBOR // 0x71: a node in our deterministic CBOR (codec package)
)

// HashCode is the multihash code of BLAKE3 and HashLen its digest length.
const (
	HashCode = mh.BLAKE3
	HashLen  = 32
)

// MaxEncodedLen bounds the binary form of a CID we accept from outside.
const MaxEncodedLen = 64

// ErrIntegrity says a block's bytes do not hash to its CID.
var ErrIntegrity = errors.New("integrity error")

// ErrBadCID says bytes or text are not a CID we accept.
var ErrBadCID = errors.New("bad CID")

// Sum returns the CID of data under codec.
func Sum(codec uint64, data []byte) CID {
	d := blake3.Sum256(data)
	return FromDigest(codec, d)
}

// FromDigest builds a CID from a BLAKE3-256 digest.
func FromDigest(codec uint64, digest [HashLen]byte) CID {
	buf, err := mh.Encode(digest[:], HashCode)
	if err != nil {
		panic(err) // cannot happen: the code and length are fixed
	}
	return gocid.NewCidV1(codec, buf)
}

// Check reports whether c is a CID we produce: CIDv1, a known codec, a
// 32-byte BLAKE3 multihash.
func Check(c CID) error {
	if !c.Defined() {
		return fmt.Errorf("%w: undefined", ErrBadCID)
	}
	p := c.Prefix()
	if p.Version != 1 || (p.Codec != Raw && p.Codec != DagCBOR) || p.MhType != HashCode || p.MhLength != HashLen {
		return fmt.Errorf("%w: %s: want CIDv1, raw or dag-cbor, blake3-256", ErrBadCID, c)
	}
	return nil
}

// Verify checks that data hashes to c. The error wraps ErrIntegrity and names
// the CID.
func Verify(c CID, data []byte) error {
	if err := Check(c); err != nil {
		return err
	}
	if Sum(c.Prefix().Codec, data) != c {
		return fmt.Errorf("%w: block %s: content does not match its hash", ErrIntegrity, c)
	}
	return nil
}

// Cast parses a binary CID, strictly: it must be one we produce and use all
// of b.
func Cast(b []byte) (CID, error) {
	if len(b) > MaxEncodedLen {
		return Undef, fmt.Errorf("%w: %d bytes", ErrBadCID, len(b))
	}
	c, err := gocid.Cast(b)
	if err != nil {
		return Undef, fmt.Errorf("%w: %v", ErrBadCID, err)
	}
	return c, Check(c)
}

// Parse parses the text form of a CID (multibase, "bafk…"), strictly.
func Parse(s string) (CID, error) {
	if len(s) > 2*MaxEncodedLen {
		return Undef, fmt.Errorf("%w: too long", ErrBadCID)
	}
	c, err := gocid.Decode(s)
	if err != nil {
		return Undef, fmt.Errorf("%w: %q: %v", ErrBadCID, s, err)
	}
	return c, Check(c)
}

// Digest returns the BLAKE3 digest inside c.
func Digest(c CID) ([HashLen]byte, error) {
	var d [HashLen]byte
	dec, err := mh.Decode(c.Hash())
	if err != nil || dec.Code != HashCode || len(dec.Digest) != HashLen {
		return d, fmt.Errorf("%w: %s", ErrBadCID, c)
	}
	copy(d[:], dec.Digest)
	return d, nil
}
