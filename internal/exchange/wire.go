package exchange

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/bufpool"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/netport"
)

// ProtoBlocks is the protocol ID of the block exchange. The version is in
// the ID: an incompatible change to the messages gets a new ID, and
// multistream negotiation picks one both sides speak.
const ProtoBlocks netport.ProtocolID = "/peer/blocks/1.0.0"

// Wire limits. Readers check them before allocating or decoding.
const (
	// MaxMiMei bounds Want.MiMei, in bytes.
	MaxMiMei = 128
	// MaxWantCIDs bounds the CIDs of one Want.
	MaxWantCIDs = 256
	// MaxWantFrame bounds the frame of one Want: 256 CIDs of at most
	// cid.MaxEncodedLen bytes each, the MiMei and CBOR headers fit.
	MaxWantFrame = 24 << 10
	// MaxBlockFrame bounds the frame of one Block: the largest block and
	// room for its CID and the CBOR headers.
	MaxBlockFrame = blockstore.MaxBlockSize + 1<<10
)

// Block statuses.
const (
	StatusOK      = 0 // Data is the block
	StatusMissing = 1 // the server does not have the block
	StatusDenied  = 2 // the server has it, or may have it, but will not give it to this peer
)

// Errors callers branch on.
var (
	// ErrMalformed: a message is not a valid encoding, breaks a limit, or
	// does not answer what was asked.
	ErrMalformed = errors.New("exchange: malformed message")
	// ErrUnavailable: a block was missing or denied at every provider.
	ErrUnavailable = errors.New("exchange: block not available from any provider")
	// ErrNoProviders: blocks remain to fetch and no provider is left.
	ErrNoProviders = errors.New("exchange: no provider left")
)

// Want asks for blocks. A client sends any number of Wants on one stream;
// the server answers each CID with one Block, in order.
type Want struct {
	_ struct{} `cbor:",toarray"`
	// MiMei names the object the blocks belong to, for the server's access
	// check; empty if the client has none to offer.
	MiMei string
	// CIDs are binary CIDs, 1 to MaxWantCIDs of them, each at most once:
	// a Want naming a CID twice is malformed (the server would otherwise
	// do, and log, the same work again for every copy).
	CIDs [][]byte
}

// Block answers one CID of a Want.
//
// On the wire it is the deterministic CBOR array [CID, Data, Status], as
// codec.Marshal would encode it; it is encoded and decoded by hand here
// because a block may be larger than codec.MaxRecordSize.
type Block struct {
	CID    []byte
	Data   []byte // the block when Status is StatusOK; empty otherwise
	Status uint8
}

// EncodeWant encodes w and checks the limits a reader applies.
func EncodeWant(w *Want) ([]byte, error) {
	if err := checkWant(w); err != nil {
		return nil, err
	}
	b, err := codec.Marshal(w)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxWantFrame {
		return nil, fmt.Errorf("%w: want of %d bytes", ErrMalformed, len(b))
	}
	return b, nil
}

// ParseWant decodes one Want strictly and checks its limits and CIDs.
func ParseWant(b []byte) (*Want, error) {
	if len(b) > MaxWantFrame {
		return nil, fmt.Errorf("%w: want of %d bytes", ErrMalformed, len(b))
	}
	var w Want
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: want: %w", ErrMalformed, err)
	}
	if err := checkWant(&w); err != nil {
		return nil, err
	}
	return &w, nil
}

func checkWant(w *Want) error {
	switch {
	case len(w.MiMei) > MaxMiMei:
		return fmt.Errorf("%w: MiMei of %d bytes", ErrMalformed, len(w.MiMei))
	case len(w.CIDs) == 0 || len(w.CIDs) > MaxWantCIDs:
		return fmt.Errorf("%w: want of %d CIDs", ErrMalformed, len(w.CIDs))
	}
	seen := make(map[string]struct{}, len(w.CIDs))
	for i, c := range w.CIDs {
		if _, err := cid.Cast(c); err != nil {
			return fmt.Errorf("%w: want CID %d: %w", ErrMalformed, i, err)
		}
		if _, dup := seen[string(c)]; dup {
			return fmt.Errorf("%w: want CID %d repeats an earlier one", ErrMalformed, i)
		}
		seen[string(c)] = struct{}{}
	}
	return nil
}

// ReadWant reads and parses one Want frame. io.EOF means the client closed
// the stream between messages.
func ReadWant(r io.Reader) (*Want, error) {
	b, err := codec.ReadFrame(r, MaxWantFrame)
	if err != nil {
		return nil, err
	}
	return ParseWant(b)
}

// WriteWant writes one Want frame.
func WriteWant(w io.Writer, want *Want) error {
	b, err := EncodeWant(want)
	if err != nil {
		return err
	}
	return codec.WriteFrame(w, b)
}

// CBOR major types used by Block.
const (
	cborBytes = 2 << 5
	cborArray = 4 << 5
)

// appendBytesHeader appends the shortest CBOR byte-string header for n.
func appendBytesHeader(b []byte, n int) []byte {
	switch {
	case n < 24:
		return append(b, cborBytes|byte(n))
	case n <= 0xff:
		return append(b, cborBytes|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, cborBytes|25), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, cborBytes|26), uint32(n))
	}
}

func checkBlock(blk *Block) error {
	switch {
	case blk.Status > StatusDenied:
		return fmt.Errorf("%w: block status %d", ErrMalformed, blk.Status)
	case blk.Status != StatusOK && len(blk.Data) != 0:
		return fmt.Errorf("%w: data with status %d", ErrMalformed, blk.Status)
	case len(blk.Data) > blockstore.MaxBlockSize:
		return fmt.Errorf("%w: block of %d bytes", ErrMalformed, len(blk.Data))
	}
	if _, err := cid.Cast(blk.CID); err != nil {
		return fmt.Errorf("%w: block CID: %w", ErrMalformed, err)
	}
	return nil
}

// blockHeader returns the encoding of blk up to, not including, its data,
// and the byte that follows the data (the status).
func blockHeader(blk *Block) []byte {
	h := make([]byte, 0, 16+len(blk.CID))
	h = append(h, cborArray|3)
	h = appendBytesHeader(h, len(blk.CID))
	h = append(h, blk.CID...)
	return appendBytesHeader(h, len(blk.Data))
}

// EncodeBlock encodes blk; the result is what codec.Marshal gives for the
// same fields in a `cbor:",toarray"` struct.
func EncodeBlock(blk *Block) ([]byte, error) {
	if err := checkBlock(blk); err != nil {
		return nil, err
	}
	h := blockHeader(blk)
	b := make([]byte, 0, len(h)+len(blk.Data)+1)
	b = append(append(append(b, h...), blk.Data...), blk.Status)
	return b, nil
}

// WriteBlock writes one Block frame without copying its data.
func WriteBlock(w io.Writer, blk *Block) error {
	if err := checkBlock(blk); err != nil {
		return err
	}
	h := blockHeader(blk)
	n := len(h) + len(blk.Data) + 1
	var pre [binary.MaxVarintLen64]byte
	m := binary.PutUvarint(pre[:], uint64(n))
	for _, part := range [][]byte{pre[:m], h, blk.Data, {blk.Status}} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// ParseBlock decodes one Block strictly: the one canonical encoding, a
// known status, data only with StatusOK, a CID we accept. Data aliases b.
func ParseBlock(b []byte) (*Block, error) {
	bad := func(what string) (*Block, error) {
		return nil, fmt.Errorf("%w: block: %s", ErrMalformed, what)
	}
	if len(b) > MaxBlockFrame {
		return bad(fmt.Sprintf("%d bytes", len(b)))
	}
	if len(b) < 1 || b[0] != cborArray|3 {
		return bad("not an array of 3")
	}
	rest := b[1:]
	var blk Block
	var err error
	if blk.CID, rest, err = readBytes(rest, cid.MaxEncodedLen); err != nil {
		return bad("CID: " + err.Error())
	}
	if blk.Data, rest, err = readBytes(rest, blockstore.MaxBlockSize); err != nil {
		return bad("data: " + err.Error())
	}
	if len(rest) != 1 || rest[0] >= 24 {
		return bad("status is not one small unsigned integer at the end")
	}
	blk.Status = rest[0]
	if len(blk.Data) == 0 {
		blk.Data = nil
	}
	if err := checkBlock(&blk); err != nil {
		return nil, err
	}
	return &blk, nil
}

// readBytes reads one canonical CBOR byte string of at most max bytes.
func readBytes(b []byte, max int) (val, rest []byte, err error) {
	if len(b) < 1 || b[0]&0xe0 != cborBytes {
		return nil, nil, errors.New("not a byte string")
	}
	info := b[0] & 0x1f
	b = b[1:]
	var n uint64
	switch {
	case info < 24:
		n = uint64(info)
	case info == 24 && len(b) >= 1:
		n, b = uint64(b[0]), b[1:]
		if n < 24 {
			return nil, nil, errors.New("non-minimal length")
		}
	case info == 25 && len(b) >= 2:
		n, b = uint64(binary.BigEndian.Uint16(b)), b[2:]
		if n <= 0xff {
			return nil, nil, errors.New("non-minimal length")
		}
	case info == 26 && len(b) >= 4:
		n, b = uint64(binary.BigEndian.Uint32(b)), b[4:]
		if n <= 0xffff {
			return nil, nil, errors.New("non-minimal length")
		}
	default:
		return nil, nil, errors.New("bad or truncated length")
	}
	if n > uint64(max) {
		return nil, nil, fmt.Errorf("%d bytes, limit %d", n, max)
	}
	if n > uint64(len(b)) {
		return nil, nil, errors.New("truncated")
	}
	return b[:n:n], b[n:], nil
}

// ReadBlock reads and parses one Block frame.
func ReadBlock(r io.Reader) (*Block, error) {
	b, err := codec.ReadFrame(r, MaxBlockFrame)
	if err != nil {
		return nil, err
	}
	return ParseBlock(b)
}

// readBlockFrame reads one Block frame like ReadBlock, into a buffer from
// the block buffer pool: Data aliases *buf, which the caller gives back
// with putBuf once it is done with the block.
func readBlockFrame(r *bufio.Reader) (blk *Block, buf *[]byte, err error) {
	n, err := readFrameLen(r)
	if err != nil {
		return nil, nil, err
	}
	if n > MaxBlockFrame {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", codec.ErrFrameTooLarge, n, MaxBlockFrame)
	}
	buf = getBuf(int(n))
	if _, err := io.ReadFull(r, *buf); err != nil {
		putBuf(buf)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	if blk, err = ParseBlock(*buf); err != nil {
		putBuf(buf)
		return nil, nil, err
	}
	return blk, buf, nil
}

// readFrameLen reads a frame length with the rules of codec.ReadFrame: a
// minimal uvarint; io.EOF only before its first byte.
func readFrameLen(r io.ByteReader) (uint64, error) {
	var n uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if i > 0 && c == 0 {
			return 0, fmt.Errorf("%w: non-minimal frame length", codec.ErrMalformed)
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break
		}
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: frame length overflows", codec.ErrMalformed)
}

// getBuf returns a buffer of length n from the block buffer pool (size
// classes, so that blocks of any size reuse buffers: a fetch does not
// allocate, and the runtime zero, a fresh buffer for every block).
func getBuf(n int) *[]byte { return bufpool.Get(n) }

func putBuf(b *[]byte) { bufpool.Put(b) }

// newReader buffers a stream for frame reading (ReadFrame wants a
// ByteReader to read lengths cheaply).
func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }
