package mimeidb

import (
	"bytes"
	"slices"
)

// SAdd adds members to the set at key and returns how many were new.
func (t *Tx) SAdd(key []byte, members ...[]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	for _, mb := range members {
		if err := checkMember(mb); err != nil {
			return 0, err
		}
	}
	m, ok, err := t.lookup(key, TypeSet)
	if err != nil {
		return 0, err
	}
	if !ok {
		m = t.newMeta(TypeSet)
	}
	dp := t.dataPrefix(m.id)
	var added int64
	for _, mb := range members {
		k := cat(dp, mb)
		_, found, err := t.get(k)
		if err != nil {
			return 0, err
		}
		if !found {
			t.set(k, []byte{})
			m.n++
			added++
		}
	}
	t.putMeta(key, m)
	return added, nil
}

// SRem removes members from the set at key and returns how many existed.
func (t *Tx) SRem(key []byte, members ...[]byte) (int64, error) {
	return t.removeMembers(key, TypeSet, members)
}

// SCard returns the size of the set at key.
func (t *Tx) SCard(key []byte) (int64, error) { return t.length(key, TypeSet) }

// SIsMember reports whether member is in the set at key.
func (t *Tx) SIsMember(key, member []byte) (bool, error) {
	if err := t.check(false); err != nil {
		return false, err
	}
	m, ok, err := t.lookup(key, TypeSet)
	if err != nil || !ok {
		return false, err
	}
	_, found, err := t.get(cat(t.dataPrefix(m.id), member))
	return found, err
}

func (t *Tx) members(m meta) ([][]byte, error) {
	out := make([][]byte, 0, m.n)
	err := t.entries(m, nil, func(mb, _ []byte) (bool, error) {
		out = append(out, mb)
		return true, nil
	})
	return out, err
}

// SMembers returns the members of the set at key, in bytewise order.
func (t *Tx) SMembers(key []byte) ([][]byte, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeSet)
	if err != nil || !ok {
		return nil, err
	}
	return t.members(m)
}

// sets looks up every key (so any wrong type is reported, as in Redis 7)
// and returns their metas; missing keys have ok false.
func (t *Tx) sets(keys [][]byte) ([]meta, []bool, error) {
	if err := t.check(false); err != nil {
		return nil, nil, err
	}
	ms := make([]meta, len(keys))
	oks := make([]bool, len(keys))
	for i, k := range keys {
		var err error
		if ms[i], oks[i], err = t.lookup(k, TypeSet); err != nil {
			return nil, nil, err
		}
	}
	return ms, oks, nil
}

func (t *Tx) inSet(m meta, mb []byte) (bool, error) {
	_, found, err := t.get(cat(t.dataPrefix(m.id), mb))
	return found, err
}

// SInter returns the intersection of the sets at keys (empty if any is
// missing), in bytewise order.
func (t *Tx) SInter(keys ...[]byte) ([][]byte, error) {
	ms, oks, err := t.sets(keys)
	if err != nil || len(ms) == 0 || slices.Contains(oks, false) {
		return nil, err
	}
	small := 0
	for i, m := range ms {
		if m.n < ms[small].n {
			small = i
		}
	}
	cand, err := t.members(ms[small])
	if err != nil {
		return nil, err
	}
	var out [][]byte
outer:
	for _, mb := range cand {
		for i, m := range ms {
			if i == small {
				continue
			}
			in, err := t.inSet(m, mb)
			if err != nil {
				return nil, err
			}
			if !in {
				continue outer
			}
		}
		out = append(out, mb)
	}
	return out, nil
}

// SUnion returns the union of the sets at keys, in bytewise order.
func (t *Tx) SUnion(keys ...[]byte) ([][]byte, error) {
	ms, oks, err := t.sets(keys)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out [][]byte
	for i, m := range ms {
		if !oks[i] {
			continue
		}
		mbs, err := t.members(m)
		if err != nil {
			return nil, err
		}
		for _, mb := range mbs {
			if !seen[string(mb)] {
				seen[string(mb)] = true
				out = append(out, mb)
			}
		}
	}
	slices.SortFunc(out, func(a, b []byte) int { return bytes.Compare(a, b) })
	return out, nil
}

// SDiff returns the members of the first set that are in none of the
// others, in bytewise order.
func (t *Tx) SDiff(keys ...[]byte) ([][]byte, error) {
	ms, oks, err := t.sets(keys)
	if err != nil || len(ms) == 0 || !oks[0] {
		return nil, err
	}
	first, err := t.members(ms[0])
	if err != nil {
		return nil, err
	}
	var out [][]byte
outer:
	for _, mb := range first {
		for i := 1; i < len(ms); i++ {
			if !oks[i] {
				continue
			}
			in, err := t.inSet(ms[i], mb)
			if err != nil {
				return nil, err
			}
			if in {
				continue outer
			}
		}
		out = append(out, mb)
	}
	return out, nil
}
