package codec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	msgs := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), 70000)}
	for _, m := range msgs {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	raw := buf.Bytes()
	for name, r := range map[string]io.Reader{"plain": bytes.NewReader(raw), "bufio": bufio.NewReader(bytes.NewReader(raw)), "onebyte": &slow{bytes.NewReader(raw)}} {
		for i, m := range msgs {
			got, err := ReadFrame(r, 1<<20)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("%s: frame %d: %d bytes, %v", name, i, len(got), err)
			}
		}
		if _, err := ReadFrame(r, 1<<20); err != io.EOF {
			t.Fatalf("%s: after the last frame: %v, want io.EOF", name, err)
		}
	}
}

func TestFrameErrors(t *testing.T) {
	var big bytes.Buffer
	WriteFrame(&big, make([]byte, 1000))
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"too large", big.Bytes(), 999, ErrFrameTooLarge},
		{"huge length, nothing allocated", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 1 << 20, ErrFrameTooLarge},
		{"length overflow", bytes.Repeat([]byte{0xff}, 11), 1 << 20, ErrMalformed},
		{"truncated body", big.Bytes()[:500], 2000, io.ErrUnexpectedEOF},
		{"truncated length", []byte{0x80}, 10, io.ErrUnexpectedEOF},
		{"non-minimal length", []byte{0x81, 0x00, 'x'}, 10, ErrMalformed},
		{"empty", nil, 10, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

type slow struct{ r io.Reader }

func (s *slow) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return s.r.Read(p)
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x03, 'a', 'b', 'c'}, 10)
	f.Add([]byte{0xff, 0xff, 0x03}, 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = max & 0xffff
		b, err := ReadFrame(bytes.NewReader(in), max)
		if err == nil && len(b) > max {
			t.Fatalf("frame of %d bytes over the bound %d", len(b), max)
		}
	})
}
