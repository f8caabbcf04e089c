package chunker

import (
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"sync/atomic"

	"github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc"
	"github.com/zeebo/blake3"
)

// This file reproduces the parameters go-cdc-chunkers v1.1.0's
// "fastcdc-v1.0.0" derives in FastCDC.Setup: the two masks and the Gear
// table. TestMatchesLibrary checks the result against the library.

// normalLevel is the library's FastCDC normalisation level.
const normalLevel = 2

// masks returns the library's maskS (used before Avg) and maskL (from Avg
// on). For its own historical defaults (2 KiB, 8 KiB, 64 KiB) the library
// uses fixed masks; otherwise it spreads log2(Avg)±normalLevel one-bits
// evenly over the word from the top.
func masks(minSize, avg, maxSize int) (maskS, maskL uint64) {
	if minSize == 2<<10 && avg == 8<<10 && maxSize == 64<<10 {
		return 0x0003590703530000, 0x0000d90003530000
	}
	b := bits.TrailingZeros(uint(avg)) // Avg is a power of two
	return spacedMask(b + normalLevel), spacedMask(b - normalLevel)
}

// spacedMask is the library's generateSpacedMask(ones, 64).
func spacedMask(ones int) uint64 {
	if ones >= 64 {
		return ^uint64(0)
	}
	if ones <= 0 {
		return 0
	}
	step := 64 / ones
	var m uint64
	for i := range ones {
		m |= 1 << (63 - i*step)
	}
	return m
}

// keyedGear caches the table for the last key used, as BLAKE3(key) and the
// table (the library keeps a process-wide cache the same way): a writer uses
// one key, and deriving a table costs a 2 KiB keyed hash per New otherwise.
var keyedGear atomic.Pointer[keyedTable]

type keyedTable struct {
	id    [32]byte
	table *[256]uint64
}

// gearTable returns the library's static Gear table for a nil key, and for
// a key the library's keyed table: the BLAKE3 keyed hash (XOF) of the static
// table's entries as little-endian words, read back as 256 words.
func gearTable(key []byte) (*[256]uint64, error) {
	if key == nil {
		return &fastcdc.G, nil
	}
	id := blake3.Sum256(key)
	if k := keyedGear.Load(); k != nil && subtle.ConstantTimeCompare(k.id[:], id[:]) == 1 {
		return k.table, nil
	}
	h, err := blake3.NewKeyed(key)
	if err != nil {
		return nil, err
	}
	var in [8 * 256]byte
	for i, g := range fastcdc.G {
		binary.LittleEndian.PutUint64(in[8*i:], g)
	}
	h.Write(in[:])
	var out [8 * 256]byte
	if _, err := h.Digest().Read(out[:]); err != nil {
		return nil, err
	}
	t := new([256]uint64)
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(out[8*i:])
	}
	keyedGear.Store(&keyedTable{id: id, table: t})
	return t, nil
}
