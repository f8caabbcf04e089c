package mimeidb

import (
	"github.com/peer-node/peer/internal/kv"
)

func (t *Tx) listKey(m meta, seq uint64) []byte { return cat(t.dataPrefix(m.id), u64(seq)) }

func (t *Tx) push(key []byte, left bool, values [][]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	for _, v := range values {
		if err := checkValue(v); err != nil {
			return 0, err
		}
	}
	m, ok, err := t.lookup(key, TypeList)
	if err != nil {
		return 0, err
	}
	if !ok {
		m = t.newMeta(TypeList)
	}
	for _, v := range values {
		if left {
			m.head--
			t.set(t.listKey(m, m.head), append([]byte{}, v...))
		} else {
			t.set(t.listKey(m, m.head+uint64(m.n)), append([]byte{}, v...))
		}
		m.n++
	}
	t.putMeta(key, m)
	return m.n, nil
}

// LPush inserts values at the head of the list at key, one after another
// (so the last ends up first), and returns the new length.
func (t *Tx) LPush(key []byte, values ...[]byte) (int64, error) { return t.push(key, true, values) }

// RPush appends values to the list at key and returns the new length.
func (t *Tx) RPush(key []byte, values ...[]byte) (int64, error) { return t.push(key, false, values) }

// pop removes up to count elements from one end of the list at key. ok is
// false when the key is missing.
func (t *Tx) pop(key []byte, left bool, count int64) ([][]byte, bool, error) {
	if err := t.check(true); err != nil {
		return nil, false, err
	}
	m, ok, err := t.lookup(key, TypeList)
	if err != nil || !ok {
		return nil, false, err
	}
	var out [][]byte
	for ; count > 0 && m.n > 0; count-- {
		seq := m.head + uint64(m.n) - 1
		if left {
			seq = m.head
		}
		k := t.listKey(m, seq)
		v, found, err := t.get(k)
		if err != nil {
			return nil, false, err
		}
		if !found {
			return nil, false, corrupt("list element %d missing", seq)
		}
		out = append(out, v)
		t.del(k)
		if left {
			m.head++
		}
		m.n--
	}
	t.putMeta(key, m)
	return out, true, nil
}

// LPop removes and returns the first element of the list at key.
func (t *Tx) LPop(key []byte) ([]byte, bool, error) {
	vs, ok, err := t.pop(key, true, 1)
	if err != nil || !ok {
		return nil, false, err
	}
	return vs[0], true, nil
}

// RPop removes and returns the last element of the list at key.
func (t *Tx) RPop(key []byte) ([]byte, bool, error) {
	vs, ok, err := t.pop(key, false, 1)
	if err != nil || !ok {
		return nil, false, err
	}
	return vs[0], true, nil
}

// LPopCount removes and returns up to count elements from the head.
func (t *Tx) LPopCount(key []byte, count int64) ([][]byte, bool, error) {
	return t.pop(key, true, count)
}

// RPopCount removes and returns up to count elements from the tail.
func (t *Tx) RPopCount(key []byte, count int64) ([][]byte, bool, error) {
	return t.pop(key, false, count)
}

// LLen returns the length of the list at key.
func (t *Tx) LLen(key []byte) (int64, error) { return t.length(key, TypeList) }

// rangeIndexes turns Redis start/stop indexes (negative ones count from
// the end) into a clamped [start, stop] range; ok is false if it is empty.
func rangeIndexes(start, stop, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= n {
		return 0, 0, false
	}
	if stop >= n {
		stop = n - 1
	}
	return start, stop, true
}

// LRange returns the elements start..stop (inclusive; negative indexes
// count from the end, out-of-range ones are clamped).
func (t *Tx) LRange(key []byte, start, stop int64) ([][]byte, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeList)
	if err != nil || !ok {
		return nil, err
	}
	start, stop, ok = rangeIndexes(start, stop, m.n)
	if !ok {
		return nil, nil
	}
	out := make([][]byte, 0, stop-start+1)
	err = t.iter(kv.IterOptions{
		Start: t.listKey(m, m.head+uint64(start)),
		End:   t.listKey(m, m.head+uint64(stop)+1),
	}, func(_, v []byte) (bool, error) {
		out = append(out, v)
		return true, nil
	})
	if err == nil && int64(len(out)) != stop-start+1 {
		err = corrupt("list %q has %d of %d elements", key, len(out), stop-start+1)
	}
	return out, err
}

// LIndex returns the element at index (negative counts from the end).
func (t *Tx) LIndex(key []byte, index int64) ([]byte, bool, error) {
	if err := t.check(false); err != nil {
		return nil, false, err
	}
	m, ok, err := t.lookup(key, TypeList)
	if err != nil || !ok {
		return nil, false, err
	}
	if index < 0 {
		index += m.n
	}
	if index < 0 || index >= m.n {
		return nil, false, nil
	}
	v, found, err := t.get(t.listKey(m, m.head+uint64(index)))
	if err == nil && !found {
		err = corrupt("list element missing")
	}
	return v, found, err
}

// LSet replaces the element at index. A missing key gives ErrNoSuchKey, an
// index outside the list ErrIndexOutOfRange.
func (t *Tx) LSet(key []byte, index int64, value []byte) error {
	if err := t.check(true); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	m, ok, err := t.lookup(key, TypeList)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSuchKey
	}
	if index < 0 {
		index += m.n
	}
	if index < 0 || index >= m.n {
		return ErrIndexOutOfRange
	}
	t.noteWrite(key)
	t.set(t.listKey(m, m.head+uint64(index)), append([]byte{}, value...))
	return nil
}
