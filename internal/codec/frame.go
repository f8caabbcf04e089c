package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frames carry one encoded message on a stream: a uvarint length followed
// by that many bytes. Every stream protocol of the node uses them, so that
// one bounded reader guards every message read from the network.

// ErrFrameTooLarge: a frame's declared length exceeds the reader's bound.
var ErrFrameTooLarge = errors.New("codec: frame too large")

// WriteFrame writes b as one frame.
func WriteFrame(w io.Writer, b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one frame of at most max bytes. A longer declared length
// fails with ErrFrameTooLarge before anything is allocated; a stream that
// ends inside a frame gives io.ErrUnexpectedEOF, one that ends before it
// io.EOF.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	br, ok := r.(io.ByteReader)
	if !ok {
		br = &byteReader{r: r}
	}
	n, err := readUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// byteReader reads single bytes from a reader without buffering beyond
// them, so that the frame body is still read from r afterwards.
type byteReader struct {
	r   io.Reader
	one [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.one[:]); err != nil {
		return 0, err
	}
	return b.one[0], nil
}

// readUvarint reads a minimal-length uvarint: a trailing zero byte (a
// longer encoding of a smaller number) is malformed, so every frame has one
// encoding.
func readUvarint(br io.ByteReader) (uint64, error) {
	var n uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := br.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if i > 0 && c == 0 {
			return 0, fmt.Errorf("%w: non-minimal frame length", ErrMalformed)
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, fmt.Errorf("%w: frame length overflows", ErrMalformed)
		}
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: frame length overflows", ErrMalformed)
}
