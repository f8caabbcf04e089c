// Package bufpool recycles the large byte buffers that blocks pass through
// on their way between the network and the block store (a block read to be
// served, a block sealed or opened, a block read from a stream), so that
// moving a gigabyte does not allocate, zero and collect a gigabyte.
//
// Buffers are kept in size classes (powers of two from 64 KiB up to
// MaxSize), so blocks of any size reuse buffers of their class instead of
// dropping every buffer that happens to be too small. Larger requests are
// allocated and not kept.
//
// Leaf package: it imports only the standard library; the block store,
// the sharing engine and the block exchange use it.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 16 // smallest class: 64 KiB
	maxShift = 23 // largest class: 8 MiB
	// MaxSize is the largest buffer kept for reuse.
	MaxSize = 1 << maxShift
)

var classes [maxShift - minShift + 1]sync.Pool

// class returns the index of the smallest class holding n bytes, or -1.
func class(n int) int {
	if n > MaxSize {
		return -1
	}
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a buffer of length n (its contents are not zeroed). Give it
// back with Put once nothing refers to it any more.
func Get(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, _ := classes[c].Get().(*[]byte); b != nil {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(c+minShift))
	return &b
}

// Put gives a buffer back. Buffers not from Get are accepted if their
// capacity is exactly a class size; others are left to the collector.
func Put(b *[]byte) {
	if b == nil {
		return
	}
	n := cap(*b)
	c := class(n)
	if c < 0 || n != 1<<(c+minShift) {
		return
	}
	*b = (*b)[:0]
	classes[c].Put(b)
}
