package mimeidb

import (
	"strconv"

	"github.com/peer-node/peer/internal/kv"
)

// FieldValue is one field of a hash.
type FieldValue struct {
	Field, Value []byte
}

// HSet sets field/value pairs in the hash at key and returns how many fields
// were new. fieldsAndValues must be a non-empty even list.
func (t *Tx) HSet(key []byte, fieldsAndValues ...[]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	if len(fieldsAndValues) == 0 || len(fieldsAndValues)%2 != 0 {
		return 0, wrongArgs("hset")
	}
	for i := 0; i < len(fieldsAndValues); i += 2 {
		if err := checkMember(fieldsAndValues[i]); err != nil {
			return 0, err
		}
		if err := checkValue(fieldsAndValues[i+1]); err != nil {
			return 0, err
		}
	}
	m, ok, err := t.lookup(key, TypeHash)
	if err != nil {
		return 0, err
	}
	if !ok {
		m = t.newMeta(TypeHash)
	}
	dp := t.dataPrefix(m.id)
	var added int64
	for i := 0; i < len(fieldsAndValues); i += 2 {
		k := cat(dp, fieldsAndValues[i])
		_, exists, err := t.get(k)
		if err != nil {
			return 0, err
		}
		if !exists {
			m.n++
			added++
		}
		t.set(k, append([]byte{}, fieldsAndValues[i+1]...))
	}
	t.putMeta(key, m)
	return added, nil
}

// HGet returns the value of field in the hash at key.
func (t *Tx) HGet(key, field []byte) ([]byte, bool, error) {
	vs, err := t.HMGet(key, field)
	if err != nil {
		return nil, false, err
	}
	return vs[0], vs[0] != nil, nil
}

// HMGet returns the values of fields (nil for missing ones).
func (t *Tx) HMGet(key []byte, fields ...[]byte) ([][]byte, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeHash)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(fields))
	if !ok {
		return out, nil
	}
	dp := t.dataPrefix(m.id)
	for i, f := range fields {
		v, found, err := t.get(cat(dp, f))
		if err != nil {
			return nil, err
		}
		if found {
			out[i] = append([]byte{}, v...)
		}
	}
	return out, nil
}

// HDel removes fields from the hash at key and returns how many existed.
func (t *Tx) HDel(key []byte, fields ...[]byte) (int64, error) {
	return t.removeMembers(key, TypeHash, fields)
}

// removeMembers deletes plain entries (hash fields, set members).
func (t *Tx) removeMembers(key []byte, typ Type, members [][]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	m, ok, err := t.lookup(key, typ)
	if err != nil || !ok {
		return 0, err
	}
	dp := t.dataPrefix(m.id)
	var n int64
	for _, f := range members {
		k := cat(dp, f)
		_, found, err := t.get(k)
		if err != nil {
			return 0, err
		}
		if found {
			t.del(k)
			m.n--
			n++
		}
	}
	if n > 0 {
		t.putMeta(key, m)
	}
	return n, nil
}

// length returns the length of the collection at key.
func (t *Tx) length(key []byte, typ Type) (int64, error) {
	if err := t.check(false); err != nil {
		return 0, err
	}
	m, _, err := t.lookup(key, typ)
	return m.n, err
}

// HLen returns the number of fields in the hash at key.
func (t *Tx) HLen(key []byte) (int64, error) { return t.length(key, TypeHash) }

// entries visits the entries of the collection at key in bytewise order of
// their suffix after the data prefix.
func (t *Tx) entries(m meta, sub []byte, fn func(suffix, v []byte) (bool, error)) error {
	dp := cat(t.dataPrefix(m.id), sub)
	return t.iter(kv.IterOptions{Prefix: dp}, func(k, v []byte) (bool, error) {
		return fn(k[len(dp):], v)
	})
}

// HGetAll returns the fields and values of the hash at key, by field.
func (t *Tx) HGetAll(key []byte) ([]FieldValue, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	m, ok, err := t.lookup(key, TypeHash)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]FieldValue, 0, m.n)
	err = t.entries(m, nil, func(f, v []byte) (bool, error) {
		out = append(out, FieldValue{f, v})
		return true, nil
	})
	return out, err
}

// HKeys returns the fields of the hash at key, in bytewise order.
func (t *Tx) HKeys(key []byte) ([][]byte, error) {
	fvs, err := t.HGetAll(key)
	out := make([][]byte, len(fvs))
	for i, fv := range fvs {
		out[i] = fv.Field
	}
	return out, err
}

// HIncrBy adds n to the integer in field of the hash at key.
func (t *Tx) HIncrBy(key, field []byte, n int64) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	if err := checkMember(field); err != nil {
		return 0, err
	}
	m, ok, err := t.lookup(key, TypeHash)
	if err != nil {
		return 0, err
	}
	if !ok {
		m = t.newMeta(TypeHash)
	}
	k := cat(t.dataPrefix(m.id), field)
	v, found, err := t.get(k)
	if err != nil {
		return 0, err
	}
	var cur int64
	if found {
		if cur, found = parseInt(v); !found {
			return 0, errHashNotInteger
		}
	} else {
		m.n++
	}
	r, err := addInt(cur, n)
	if err != nil {
		return 0, err
	}
	t.set(k, strconv.AppendInt(nil, r, 10))
	t.putMeta(key, m)
	return r, nil
}
