package packstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
)

// On-disk layout. docs/formats-blocks.md is the normative description; keep
// the two in step.
const (
	// FormatVersion is the pack file format (and index layout) this build
	// writes and reads.
	FormatVersion = 1
	// RecordVersion is the record layout version inside a pack.
	RecordVersion = 1

	packMagic      = "PEERPACK"
	packHeaderSize = 16 // magic(8) version(4, BE) reserved(4, zero)

	recordMagic     = "PBLK"
	recordFixedSize = 10 // magic(4) version(1) cidLen(1) dataLen(4, BE)
	// MaxRecordHeaderSize bounds a record header: fixed part plus the
	// longest CID accepted.
	MaxRecordHeaderSize = recordFixedSize + cid.MaxEncodedLen
)

// Index keys, in the kv.Store given to Open.
var (
	blockPrefix = []byte("blk/")     // + binary CID -> location (16 bytes)
	packPrefix  = []byte("blkpack/") // + pack ID (4 bytes BE) -> pack counters (40 bytes)
	formatKey   = []byte("blkmeta/format")
)

// ErrBadRecord says bytes in a pack are not a valid record header.
var ErrBadRecord = errors.New("bad pack record")

// encodePackHeader returns the 16-byte file header of a pack.
func encodePackHeader() []byte {
	h := make([]byte, packHeaderSize)
	copy(h, packMagic)
	binary.BigEndian.PutUint32(h[8:], FormatVersion)
	return h
}

// checkPackHeader validates a pack file header.
func checkPackHeader(h []byte, name string) error {
	if len(h) < packHeaderSize || string(h[:8]) != packMagic {
		return fmt.Errorf("%w: %s is not a pack file (bad magic)", blockstore.ErrUnsupportedFormat, name)
	}
	if v := binary.BigEndian.Uint32(h[8:]); v != FormatVersion {
		return fmt.Errorf("%w: %s has pack format version %d (this build reads %d)", blockstore.ErrUnsupportedFormat, name, v, FormatVersion)
	}
	return nil
}

// RecordHeader is the decoded header of one block record in a pack.
type RecordHeader struct {
	CID     cid.CID
	DataLen int // bytes of block data following the header
	Len     int // bytes of the header itself
}

// appendRecordHeader appends the header of a record for (c, dataLen) to dst.
func appendRecordHeader(dst []byte, cb []byte, dataLen int) []byte {
	dst = append(dst, recordMagic...)
	dst = append(dst, RecordVersion, byte(len(cb)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(dataLen))
	return append(dst, cb...)
}

// DecodeRecordHeader decodes the record header at the start of b. It
// allocates nothing proportional to the input and rejects a data length over
// blockstore.MaxBlockSize, so a corrupt length never drives a large
// allocation. b may be longer than the header.
func DecodeRecordHeader(b []byte) (RecordHeader, error) {
	var h RecordHeader
	if len(b) < recordFixedSize {
		return h, fmt.Errorf("%w: short header (%d bytes)", ErrBadRecord, len(b))
	}
	if string(b[:4]) != recordMagic {
		return h, fmt.Errorf("%w: bad magic", ErrBadRecord)
	}
	if b[4] != RecordVersion {
		return h, fmt.Errorf("%w: record version %d (this build reads %d)", blockstore.ErrUnsupportedFormat, b[4], RecordVersion)
	}
	cl := int(b[5])
	if cl == 0 || cl > cid.MaxEncodedLen {
		return h, fmt.Errorf("%w: CID length %d", ErrBadRecord, cl)
	}
	dl := binary.BigEndian.Uint32(b[6:10])
	if dl > blockstore.MaxBlockSize {
		return h, fmt.Errorf("%w: data length %d exceeds %d", ErrBadRecord, dl, blockstore.MaxBlockSize)
	}
	if len(b) < recordFixedSize+cl {
		return h, fmt.Errorf("%w: short header (%d bytes, CID needs %d)", ErrBadRecord, len(b), recordFixedSize+cl)
	}
	c, err := cid.Cast(b[recordFixedSize : recordFixedSize+cl])
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	h.CID, h.DataLen, h.Len = c, int(dl), recordFixedSize+cl
	return h, nil
}

// location says where a block's record is: pack, offset of the record
// header, data length. The header length follows from the CID.
type location struct {
	pack    uint32
	off     int64
	dataLen int
}

const locationSize = 16 // pack(4) offset(8) dataLen(4), all BE

func (l location) encode() []byte {
	b := make([]byte, locationSize)
	binary.BigEndian.PutUint32(b, l.pack)
	binary.BigEndian.PutUint64(b[4:], uint64(l.off))
	binary.BigEndian.PutUint32(b[12:], uint32(l.dataLen))
	return b
}

func decodeLocation(b []byte) (location, error) {
	if len(b) != locationSize {
		return location{}, fmt.Errorf("%w: index value of %d bytes", blockstore.ErrUnsupportedFormat, len(b))
	}
	return location{
		pack:    binary.BigEndian.Uint32(b),
		off:     int64(binary.BigEndian.Uint64(b[4:])),
		dataLen: int(binary.BigEndian.Uint32(b[12:])),
	}, nil
}

// packStats are the per-pack counters kept in the index.
type packStats struct {
	end       int64 // committed length of the pack file: header + every indexed or dead record
	count     int64 // live records
	liveRec   int64 // bytes of live records (headers + data)
	liveData  int64 // bytes of live block data
	deadBytes int64 // bytes of deleted or moved records
	punched   int64 // of deadBytes, those given back to the file system as holes
}

// packStatsSize is the size of encoded counters; packStatsSizeV1 that of
// counters written before holes were punched (no punched field).
const (
	packStatsSize   = 48
	packStatsSizeV1 = 40
)

func (p packStats) encode() []byte {
	b := make([]byte, packStatsSize)
	binary.BigEndian.PutUint64(b, uint64(p.end))
	binary.BigEndian.PutUint64(b[8:], uint64(p.count))
	binary.BigEndian.PutUint64(b[16:], uint64(p.liveRec))
	binary.BigEndian.PutUint64(b[24:], uint64(p.liveData))
	binary.BigEndian.PutUint64(b[32:], uint64(p.deadBytes))
	binary.BigEndian.PutUint64(b[40:], uint64(p.punched))
	return b
}

func decodePackStats(b []byte) (packStats, error) {
	if len(b) != packStatsSize && len(b) != packStatsSizeV1 {
		return packStats{}, fmt.Errorf("%w: pack counters of %d bytes", blockstore.ErrUnsupportedFormat, len(b))
	}
	p := packStats{
		end:       int64(binary.BigEndian.Uint64(b)),
		count:     int64(binary.BigEndian.Uint64(b[8:])),
		liveRec:   int64(binary.BigEndian.Uint64(b[16:])),
		liveData:  int64(binary.BigEndian.Uint64(b[24:])),
		deadBytes: int64(binary.BigEndian.Uint64(b[32:])),
	}
	if len(b) == packStatsSize {
		p.punched = int64(binary.BigEndian.Uint64(b[40:]))
	}
	return p, nil
}

func blockKey(c cid.CID) []byte {
	cb := c.Bytes()
	k := make([]byte, 0, len(blockPrefix)+len(cb))
	return append(append(k, blockPrefix...), cb...)
}

func packKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), packPrefix...), id)
}

func packName(id uint32) string { return fmt.Sprintf("%08d.pack", id) }
