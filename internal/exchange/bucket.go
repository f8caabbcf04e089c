package exchange

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket of bytes: it refills at rate bytes per second up
// to burst. A take larger than what is there drives it into debt and waits
// for the debt to be repaid, so a block larger than burst is still sent, at
// the rate. Safe for concurrent use.
type bucket struct {
	rate  float64 // bytes per second, > 0
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
	taken  int64 // bytes taken, ever
}

// newBucket returns a full bucket holding a quarter second of rate (at
// least 64 KiB).
func newBucket(rate int64) *bucket {
	burst := float64(rate) / 4
	if burst < 64<<10 {
		burst = 64 << 10
	}
	return &bucket{rate: float64(rate), burst: burst, tokens: burst, last: time.Now(), now: time.Now}
}

// delay takes n tokens and says how long the caller must wait before using
// them.
func (b *bucket) delay(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
	b.tokens -= float64(n)
	b.taken += int64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// full reports whether the bucket has refilled to burst, so that it
// holds nothing a fresh one would not.
func (b *bucket) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens+b.now().Sub(b.last).Seconds()*b.rate >= b.burst
}

// bytes is how many bytes were ever taken from the bucket.
func (b *bucket) bytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.taken
}

// wait takes n tokens and waits until they are paid for or ctx ends.
func (b *bucket) wait(ctx context.Context, n int) error {
	d := b.delay(n)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
