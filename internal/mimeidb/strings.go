package mimeidb

import (
	"bytes"
	"math"
	"strconv"
)

// parseInt parses a decimal int64 as Redis' string2ll does: an optional
// '-', no '+', no spaces, no leading zeros.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	d := b
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || d[0] < '1' || d[0] > '9' {
		return 0, false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func addInt(a, b int64) (int64, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, ErrOverflow
	}
	return a + b, nil
}

// Get returns the string stored at key; ok is false if the key is missing.
func (t *Tx) Get(key []byte) (value []byte, ok bool, err error) {
	if err := t.check(false); err != nil {
		return nil, false, err
	}
	m, ok, err := t.lookup(key, TypeString)
	if err != nil || !ok {
		return nil, false, err
	}
	return bytes.Clone(m.str), true, nil
}

// Set stores value at key, replacing a value of any type.
func (t *Tx) Set(key, value []byte) error {
	if err := t.check(true); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	m, ok, err := t.lookup(key, TypeNone)
	if err != nil {
		return err
	}
	if ok && m.typ != TypeString {
		if err := t.remove(key, m); err != nil {
			return err
		}
	}
	t.putMeta(key, meta{typ: TypeString, str: append([]byte{}, value...)})
	return nil
}

// Del removes the keys, of any type, and returns how many existed.
func (t *Tx) Del(keys ...[]byte) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		m, ok, err := t.lookup(k, TypeNone)
		if err != nil {
			return 0, err
		}
		if ok {
			if err := t.remove(k, m); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// Exists counts the given keys that exist (a key named twice counts twice).
func (t *Tx) Exists(keys ...[]byte) (int64, error) {
	if err := t.check(false); err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		_, ok, err := t.lookup(k, TypeNone)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Type returns the type of the value at key (TypeNone if missing).
func (t *Tx) Type(key []byte) (Type, error) {
	if err := t.check(false); err != nil {
		return TypeNone, err
	}
	m, ok, err := t.lookup(key, TypeNone)
	if err != nil || !ok {
		return TypeNone, err
	}
	return m.typ, nil
}

// Incr adds 1 to the integer at key (a missing key counts as 0).
func (t *Tx) Incr(key []byte) (int64, error) { return t.IncrBy(key, 1) }

// IncrBy adds n to the integer at key. A value that is not an integer gives
// ErrNotInteger, a result outside int64 ErrOverflow; neither changes it.
func (t *Tx) IncrBy(key []byte, n int64) (int64, error) {
	if err := t.check(true); err != nil {
		return 0, err
	}
	m, ok, err := t.lookup(key, TypeString)
	if err != nil {
		return 0, err
	}
	var cur int64
	if ok {
		if cur, ok = parseInt(m.str); !ok {
			return 0, ErrNotInteger
		}
	}
	v, err := addInt(cur, n)
	if err != nil {
		return 0, err
	}
	t.putMeta(key, meta{typ: TypeString, str: strconv.AppendInt(nil, v, 10)})
	return v, nil
}

// StrLen returns the length of the string at key (0 if missing).
func (t *Tx) StrLen(key []byte) (int64, error) {
	v, _, err := t.Get(key)
	return int64(len(v)), err
}

// MGet returns the strings at keys; missing keys and keys holding other
// types give nil entries.
func (t *Tx) MGet(keys ...[]byte) ([][]byte, error) {
	if err := t.check(false); err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		m, ok, err := t.lookup(k, TypeNone)
		if err != nil {
			return nil, err
		}
		if ok && m.typ == TypeString {
			out[i] = bytes.Clone(m.str)
			if out[i] == nil {
				out[i] = []byte{}
			}
		}
	}
	return out, nil
}
