package mimeidb

import (
	"math"
	"strconv"
	"strings"

	"github.com/peer-node/peer/internal/kv"
)

// ZMember is a sorted-set member with its score.
type ZMember struct {
	Member []byte
	Score  float64
}

// ZAddOptions are ZADD's flags: NX (only add new members), XX (only update
// existing ones), CH (count changed members, not only added ones).
type ZAddOptions struct {
	NX, XX, CH bool
}

// ScoreBound is one end of a score range: "1.5", "(1.5" (exclusive),
// "-inf", "+inf".
type ScoreBound struct {
	Value     float64
	Exclusive bool
}

// Inf and NegInf are the unbounded ends of a score range.
var (
	Inf    = ScoreBound{Value: math.Inf(1)}
	NegInf = ScoreBound{Value: math.Inf(-1)}
)

// ParseFloat parses a score as Redis does: decimal or hexadecimal floats,
// "inf"/"+inf"/"-inf" in any case; NaN, spaces and out-of-range values are
// refused with ErrNotFloat.
func ParseFloat(b []byte) (float64, error) {
	s := string(b)
	switch strings.ToLower(s) {
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsRune(s, '_') {
		return 0, ErrNotFloat
	}
	return f, nil
}

// ParseScoreBound parses a ZRANGEBYSCORE-style bound.
func ParseScoreBound(b []byte) (ScoreBound, error) {
	var sb ScoreBound
	if len(b) > 0 && b[0] == '(' {
		sb.Exclusive = true
		b = b[1:]
	}
	f, err := ParseFloat(b)
	if err != nil {
		return sb, errMinMaxNotFloat
	}
	sb.Value = f
	return sb, nil
}

func (sb ScoreBound) aboveMin(f float64) bool {
	return f > sb.Value || (!sb.Exclusive && f == sb.Value)
}

func (sb ScoreBound) belowMax(f float64) bool {
	return f < sb.Value || (!sb.Exclusive && f == sb.Value)
}

func (t *Tx) zMemberKey(m meta, member []byte) []byte {
	return cat(t.dataPrefix(m.id), []byte{zMember}, member)
}

func (t *Tx) zIndexKey(m meta, score float64, member []byte) []byte {
	return cat(t.dataPrefix(m.id), []byte{zScore}, sortableScore(score), member)
}

func (t *Tx) zScore(m meta, member []byte) (float64, bool, error) {
	b, found, err := t.get(t.zMemberKey(m, member))
	if err != nil || !found {
		return 0, false, err
	}
	f, err := decodeScore(b)
	return f, err == nil, err
}

func (t *Tx) zPut(m meta, member []byte, old float64, had bool, score float64) {
	if had {
		t.del(t.zIndexKey(m, old, member))
	}
	t.set(t.zIndexKey(m, score, member), []byte{})
	t.set(t.zMemberKey(m, member), scoreBytes(score))
}

// ZAdd adds members with their scores to the sorted set at key, updating
// the scores of existing ones, and returns how many were new.
func (t *Tx) ZAdd(key []byte, members ...ZMember) (int64, error) {
	return t.ZAddOpts(key, ZAddOptions{}, members...)
}

// ZAddOpts is ZAdd with ZADD's NX, XX and CH flags.
func (t *Tx) ZAddOpts(key []byte, opts ZAddOptions, members ...ZMember) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	if opts.NX && opts.XX {
		return 0, errNXXX
	}
	for _, zm := range members {
		if err := checkMember(zm.Member); err != nil {
			return 0, err
		}
		if math.IsNaN(zm.Score) {
			return 0, ErrNotFloat
		}
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil {
		return 0, err
	}
	if !ok {
		if opts.XX {
			return 0, nil
		}
		m = t.newMeta(TypeZSet)
	}
	var added, changed int64
	for _, zm := range members {
		old, had, err := t.zScore(m, zm.Member)
		if err != nil {
			return 0, err
		}
		switch {
		case had && !opts.NX && old != zm.Score:
			t.zPut(m, zm.Member, old, true, zm.Score)
			changed++
		case !had && !opts.XX:
			t.zPut(m, zm.Member, 0, false, zm.Score)
			m.n++
			added++
			changed++
		}
	}
	t.putMeta(key, m)
	if opts.CH {
		return changed, nil
	}
	return added, nil
}

// ZIncrBy adds incr to the score of member (0 if absent) and returns the
// new score; a NaN result (inf + -inf) gives ErrNaN and changes nothing.
func (t *Tx) ZIncrBy(key []byte, incr float64, member []byte) (float64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	if err := checkMember(member); err != nil {
		return 0, err
	}
	if math.IsNaN(incr) {
		return 0, ErrNotFloat
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil {
		return 0, err
	}
	if !ok {
		m = t.newMeta(TypeZSet)
	}
	old, had, err := t.zScore(m, member)
	if err != nil {
		return 0, err
	}
	score := old + incr
	if math.IsNaN(score) {
		return 0, ErrNaN
	}
	if !had {
		m.n++
	}
	t.zPut(m, member, old, had, score)
	t.putMeta(key, m)
	return score, nil
}

// ZRem removes members from the sorted set at key and returns how many
// existed.
func (t *Tx) ZRem(key []byte, members ...[]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return 0, err
	}
	var n int64
	for _, mb := range members {
		old, had, err := t.zScore(m, mb)
		if err != nil {
			return 0, err
		}
		if had {
			t.del(t.zIndexKey(m, old, mb))
			t.del(t.zMemberKey(m, mb))
			m.n--
			n++
		}
	}
	if n > 0 {
		t.putMeta(key, m)
	}
	return n, nil
}

// ZScore returns the score of member in the sorted set at key.
func (t *Tx) ZScore(key, member []byte) (float64, bool, error) {
	if err := t.check(false); err != nil {
		return 0, false, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return 0, false, err
	}
	return t.zScore(m, member)
}

// ZCard returns the size of the sorted set at key.
func (t *Tx) ZCard(key []byte) (int64, error) { return t.length(key, TypeZSet) }

// zwalk visits the members of a sorted set in (score, member) order, or
// the reverse, starting at the lowest score not below from (or the highest
// not above it when reverse).
func (t *Tx) zwalk(m meta, reverse bool, from *float64, fn func(ZMember) (bool, error)) error {
	ip := cat(t.dataPrefix(m.id), []byte{zScore})
	opts := kv.IterOptions{Prefix: ip, Reverse: reverse}
	if from != nil {
		if reverse {
			opts.End = prefixEnd(cat(ip, sortableScore(*from)))
		} else {
			opts.Start = cat(ip, sortableScore(*from))
		}
	}
	return t.iter(opts, func(k, _ []byte) (bool, error) {
		rest := k[len(ip):]
		if len(rest) < 8 {
			return false, corrupt("bad sorted set index entry")
		}
		member := rest[8:]
		f, found, err := t.zScore(m, member)
		if err == nil && !found {
			err = corrupt("sorted set index names a missing member")
		}
		if err != nil {
			return false, err
		}
		return fn(ZMember{Member: member, Score: f})
	})
}

// ZRank returns the 0-based rank of member by ascending (score, member).
func (t *Tx) ZRank(key, member []byte) (int64, bool, error) {
	if err := t.check(false); err != nil {
		return 0, false, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return 0, false, err
	}
	if _, had, err := t.zScore(m, member); err != nil || !had {
		return 0, false, err
	}
	var rank int64
	found := false
	err = t.zwalk(m, false, nil, func(zm ZMember) (bool, error) {
		if string(zm.Member) == string(member) {
			found = true
			return false, nil
		}
		rank++
		return true, nil
	})
	return rank, found, err
}

// zrangeIdx returns members start..stop by rank (ascending or descending).
func (t *Tx) zrangeIdx(key []byte, start, stop int64, reverse bool) ([]ZMember, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return nil, err
	}
	start, stop, ok = rangeIndexes(start, stop, m.n)
	if !ok {
		return nil, nil
	}
	var out []ZMember
	var i int64
	err = t.zwalk(m, reverse, nil, func(zm ZMember) (bool, error) {
		if i >= start {
			out = append(out, zm)
		}
		i++
		return i <= stop, nil
	})
	return out, err
}

// ZRange returns the members ranked start..stop (inclusive, negative
// indexes from the end) in ascending (score, member) order.
func (t *Tx) ZRange(key []byte, start, stop int64) ([]ZMember, error) {
	return t.zrangeIdx(key, start, stop, false)
}

// ZRevRange is ZRange in descending order.
func (t *Tx) ZRevRange(key []byte, start, stop int64) ([]ZMember, error) {
	return t.zrangeIdx(key, start, stop, true)
}

// zbyscore visits the members with min <= score <= max in ascending order.
func (t *Tx) zbyscore(m meta, min, max ScoreBound, fn func(ZMember) (bool, error)) error {
	from := min.Value
	return t.zwalk(m, false, &from, func(zm ZMember) (bool, error) {
		if !max.belowMax(zm.Score) {
			return false, nil
		}
		if !min.aboveMin(zm.Score) {
			return true, nil
		}
		return fn(zm)
	})
}

// ZRangeByScore returns the members with scores between min and max in
// ascending order, skipping offset of them and returning at most count
// (count < 0: all), as ZRANGEBYSCORE ... LIMIT offset count.
func (t *Tx) ZRangeByScore(key []byte, min, max ScoreBound, offset, count int64) ([]ZMember, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok || offset < 0 || count == 0 {
		return nil, err
	}
	var out []ZMember
	err = t.zbyscore(m, min, max, func(zm ZMember) (bool, error) {
		if offset > 0 {
			offset--
			return true, nil
		}
		out = append(out, zm)
		return count < 0 || int64(len(out)) < count, nil
	})
	return out, err
}

// ZCount counts the members with scores between min and max.
func (t *Tx) ZCount(key []byte, min, max ScoreBound) (int64, error) {
	zs, err := t.ZRangeByScore(key, min, max, 0, -1)
	return int64(len(zs)), err
}

// ZRemRangeByScore removes the members with scores between min and max and
// returns how many there were.
func (t *Tx) ZRemRangeByScore(key []byte, min, max ScoreBound) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	zs, err := t.ZRangeByScore(key, min, max, 0, -1)
	if err != nil || len(zs) == 0 {
		return 0, err
	}
	mbs := make([][]byte, len(zs))
	for i, zm := range zs {
		mbs[i] = zm.Member
	}
	return t.ZRem(key, mbs...)
}
