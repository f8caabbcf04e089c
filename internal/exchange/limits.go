package exchange

import (
	"container/list"
	"time"
)

// maxIdleLimits bounds the rate buckets a limitTable keeps for keys no
// stream uses at the moment; beyond it the least recently used go. So a
// flood of throwaway peer IDs or addresses costs a bounded amount of
// memory: the buckets in use (one per key of a stream being served) plus
// this many. Forgetting a bucket forgives its debt, which gains the party
// behind it little: it must stay away while others cycle maxIdleLimits
// keys through the table, and its own streams keep its bucket fresh.
const maxIdleLimits = 4096

// limit is the bucket of one key and the streams holding it.
type limit struct {
	key    string
	bucket *bucket
	refs   int           // streams holding it
	idle   *list.Element // in limitTable.idle while refs == 0
}

// limitTable hands out one bucket per key, shared by every stream given
// that key, and forgets the buckets of idle keys: at once when they have
// refilled (a full bucket is what a new one would be), else when more
// than maxIdleLimits are idle, least recently used first. Not safe for
// concurrent use (the Server's mutex guards it).
type limitTable struct {
	rate    int64 // bytes per second of each bucket, > 0
	maxIdle int
	now     func() time.Time
	m       map[string]*limit
	idle    list.List // of *limit; front: most recently released
}

func newLimitTable(rate int64, now func() time.Time) *limitTable {
	return &limitTable{rate: rate, maxIdle: maxIdleLimits, now: now, m: map[string]*limit{}}
}

// acquire returns the limit of key, holding it for one stream.
func (t *limitTable) acquire(key string) *limit {
	l := t.m[key]
	if l == nil {
		b := newBucket(t.rate)
		b.now, b.last = t.now, t.now()
		l = &limit{key: key, bucket: b}
		t.m[key] = l
	} else if l.idle != nil {
		t.idle.Remove(l.idle)
		l.idle = nil
	}
	l.refs++
	t.trim()
	return l
}

// release lets go of l for one stream.
func (t *limitTable) release(l *limit) {
	if l.refs--; l.refs > 0 {
		return
	}
	if l.bucket.full() {
		delete(t.m, l.key)
		return
	}
	l.idle = t.idle.PushFront(l)
	t.trim()
}

// trim forgets idle buckets: the oldest while there are too many, and
// any at the old end that have refilled since.
func (t *limitTable) trim() {
	for e := t.idle.Back(); e != nil; e = t.idle.Back() {
		l := e.Value.(*limit)
		if t.idle.Len() <= t.maxIdle && !l.bucket.full() {
			return
		}
		t.idle.Remove(e)
		l.idle = nil
		delete(t.m, l.key)
	}
}

// len is how many buckets the table holds.
func (t *limitTable) len() int { return len(t.m) }
