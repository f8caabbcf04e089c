package mimeidb

import (
	"errors"
	"fmt"
	"strings"
)

// MaxReplyElements is the reply budget of the command interface (Exec): a
// read command whose reply would hold more than this many elements of one
// collection — hash fields (HKEYS, HGETALL), set members (SMEMBERS, SINTER,
// SUNION, SDIFF), list elements (LRANGE, LPOP/RPOP with a count) or sorted
// set members (ZRANGE, ZREVRANGE, ZRANGEBYSCORE) — is refused with
// ErrReplyTooLarge before any of the reply is built, so one request cannot
// make the node hold a whole huge collection in memory. The count comes
// from the length kept in each collection's meta record (HLEN, SCARD, LLEN,
// ZCARD), clamped by the command's range; see docs/formats-db.md. SCAN and
// HSCAN clamp their COUNT to it instead (COUNT is a hint). Zero or less
// means no budget.
//
// It is read by every Exec; set it at start-up (the node does not change it
// while serving). The typed Go methods (Tx.HGetAll …) are not budgeted:
// their callers decide how much they hold.
var MaxReplyElements int64 = 100_000

// ErrReplyTooLarge: a command's reply would exceed MaxReplyElements. The
// wrapping error names the command, the count and the limit, and what to
// use instead (HSCAN, SSCAN, ZSCAN, a smaller range or LIMIT).
var ErrReplyTooLarge = errors.New("ERR reply too large")

// replyBudget refuses a reply of n elements (what, e.g. "fields") for cmd
// if it is over MaxReplyElements; hint says what to use instead.
func replyBudget(cmd string, n int64, what, hint string) error {
	limit := MaxReplyElements
	if limit <= 0 || n <= limit {
		return nil
	}
	return &redisError{fmt.Sprintf("ERR reply too large: %s of %d %s exceeds %d; use %s",
		strings.ToUpper(cmd), n, what, limit, hint), ErrReplyTooLarge}
}

// collectionLen returns the stored length of the collection at key (0 if
// it is missing), from its meta record: one point read, no scan.
func (t *Tx) collectionLen(key []byte, typ Type) (int64, error) {
	if err := t.check(false); err != nil {
		return 0, err
	}
	m, _, err := t.lookup(key, typ)
	return m.n, err
}

// budgetWhole checks a reply holding the whole collection at key.
func budgetWhole(t *Tx, cmd string, key []byte, typ Type, what, hint string) error {
	n, err := t.collectionLen(key, typ)
	if err != nil {
		return err
	}
	return replyBudget(cmd, n, what, hint)
}

// budgetRange checks a reply of the elements start..stop (Redis indexes)
// of the list or sorted set at key.
func budgetRange(t *Tx, cmd string, key []byte, typ Type, start, stop int64, what, hint string) error {
	n, err := t.collectionLen(key, typ)
	if err != nil {
		return err
	}
	if n <= MaxReplyElements || MaxReplyElements <= 0 {
		return nil
	}
	start, stop, ok := rangeIndexes(start, stop, n)
	if !ok {
		return nil
	}
	return replyBudget(cmd, stop-start+1, what, hint)
}

// budgetSets checks SINTER, SUNION and SDIFF by an upper bound of their
// reply from the stored cardinalities: the smallest set for SINTER, the
// first for SDIFF, the sum for SUNION. Every key is looked up, so a wrong
// type is still reported first, as the command itself would.
func budgetSets(t *Tx, cmd string, keys [][]byte) error {
	ms, oks, err := t.sets(keys)
	if err != nil || len(ms) == 0 {
		return err
	}
	var bound int64
	switch cmd {
	case "sinter":
		bound = ms[0].n
		for i, m := range ms {
			if !oks[i] {
				return nil // the intersection is empty
			}
			bound = min(bound, m.n)
		}
	case "sdiff":
		bound = ms[0].n
	default: // sunion: a key named twice counts once
		seen := make(map[string]bool, len(keys))
		for i, m := range ms {
			if !seen[string(keys[i])] {
				seen[string(keys[i])] = true
				bound += m.n
			}
		}
	}
	return replyBudget(cmd, bound, "members (at most)", "SSCAN on each set")
}

// budgetByScore checks ZRANGEBYSCORE. The stored cardinality, less the
// offset and clamped by the LIMIT count, bounds the reply; when that bound
// is over the budget the members in the score range are counted, stopping
// one past the budget (no reply is built, but this walks up to
// offset+MaxReplyElements+1 index entries: a score range has no stored
// count).
func budgetByScore(t *Tx, key []byte, lo, hi ScoreBound, offset, count int64) error {
	limit := MaxReplyElements
	if limit <= 0 || offset < 0 || count == 0 {
		return nil
	}
	if err := t.check(false); err != nil {
		return err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return err
	}
	bound := max(m.n-offset, 0)
	if count > 0 {
		bound = min(bound, count)
	}
	if bound <= limit {
		return nil
	}
	var n int64
	skip := offset
	err = t.zbyscore(m, lo, hi, func(ZMember) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		n++
		return n <= limit, nil
	})
	if err != nil {
		return err
	}
	if n > limit {
		return &redisError{fmt.Sprintf("ERR reply too large: ZRANGEBYSCORE of more than %d members exceeds %d; use LIMIT offset count or ZSCAN",
			limit, limit), ErrReplyTooLarge}
	}
	return nil
}
