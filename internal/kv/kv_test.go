package kv

import (
	"bytes"
	"errors"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{'a', 0xfe, 0xff, 0xff}, []byte{'a', 0xff}},
		{[]byte{0xff}, nil},
		{[]byte{0xff, 0xff, 0xff}, nil},
		{[]byte{0x00}, []byte{0x01}},
	}
	for _, c := range cases {
		in := bytes.Clone(c.in)
		if got := PrefixEnd(in); !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x; want %x", c.in, got, c.want)
		}
		if !bytes.Equal(in, c.in) {
			t.Errorf("PrefixEnd modified its argument: %x", in)
		}
	}
}

func TestBounds(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name         string
		o            IterOptions
		lower, upper []byte
		ok           bool
	}{
		{"all", IterOptions{}, b("\x01"), nil, true},
		{"prefix", IterOptions{Prefix: b("ab")}, b("ab"), b("ac"), true},
		{"prefix 0xff", IterOptions{Prefix: b("\xff")}, b("\xff"), nil, true},
		{"start inside", IterOptions{Prefix: b("ab"), Start: b("abc")}, b("abc"), b("ac"), true},
		{"end inside", IterOptions{Prefix: b("ab"), End: b("abc")}, b("ab"), b("abc"), true},
		{"start below", IterOptions{Prefix: b("ab"), Start: b("a")}, b("ab"), b("ac"), true},
		{"end above", IterOptions{Prefix: b("ab"), End: b("z")}, b("ab"), b("ac"), true},
		{"reserved prefix", IterOptions{Prefix: b("\x00m")}, nil, nil, false},
		{"reserved start", IterOptions{Start: b("\x00")}, b("\x01"), nil, true},
		{"empty range", IterOptions{Start: b("b"), End: b("b")}, nil, nil, false},
		{"inverted", IterOptions{Start: b("c"), End: b("b")}, nil, nil, false},
	}
	for _, c := range cases {
		lower, upper, ok := c.o.Bounds()
		if ok != c.ok || !bytes.Equal(lower, c.lower) || !bytes.Equal(upper, c.upper) || (upper == nil) != (c.upper == nil) {
			t.Errorf("%s: Bounds() = %q, %q, %v; want %q, %q, %v", c.name, lower, upper, ok, c.lower, c.upper, c.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		key  []byte
		want error
	}{
		{nil, ErrEmptyKey},
		{[]byte{0}, ErrReservedKey},
		{[]byte{1}, nil},
		{make([]byte, MaxKeySize+1), ErrKeyTooLarge},
		{bytes.Repeat([]byte{1}, MaxKeySize), nil},
	} {
		if err := CheckKey(c.key); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("CheckKey(%d bytes) = %v; want %v", len(c.key), err, c.want)
		}
	}
	if err := CheckValue(make([]byte, MaxValueSize+1)); !errors.Is(err, ErrValueTooLarge) {
		t.Errorf("CheckValue(oversize) = %v", err)
	}
	if err := CheckValue(nil); err != nil {
		t.Errorf("CheckValue(nil) = %v", err)
	}
}
