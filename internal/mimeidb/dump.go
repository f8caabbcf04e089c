package mimeidb

import (
	"encoding/binary"
	"math"

	"github.com/peer-node/peer/internal/kv"
	"github.com/zeebo/blake3"
)

// Dump calls fn for every key in bytewise key order with its type and
// value: []byte for a string, []FieldValue (by field) for a hash, [][]byte
// for a list (in order) and a set (bytewise), []ZMember (by score, then
// member) for a sorted set. It reads a consistent snapshot.
func (db *DB) Dump(fn func(key []byte, typ Type, value any) error) error {
	return db.View(func(tx *Tx) error { return tx.Dump(fn) })
}

// Digest hashes the database's logical content (see Tx.Digest).
func (db *DB) Digest() ([32]byte, error) {
	var d [32]byte
	err := db.View(func(tx *Tx) (err error) { d, err = tx.Digest(); return })
	return d, err
}

// Dump is DB.Dump over what this Tx sees.
func (t *Tx) Dump(fn func(key []byte, typ Type, value any) error) error {
	if err := t.check(false); err != nil {
		return err
	}
	if t.tracking {
		t.scanned = true
	}
	mp := t.sub(tagMeta)
	return t.iter(kv.IterOptions{Prefix: mp}, func(k, v []byte) (bool, error) {
		key := k[len(mp):]
		m, err := decodeMeta(v)
		if err != nil {
			return false, err
		}
		var val any
		switch m.typ {
		case TypeString:
			val = m.str
		case TypeHash:
			val, err = t.HGetAll(key)
		case TypeList:
			val, err = t.LRange(key, 0, -1)
		case TypeSet:
			val, err = t.members(m)
		case TypeZSet:
			val, err = t.ZRange(key, 0, -1)
		}
		if err != nil {
			return false, err
		}
		return true, fn(key, m.typ, val)
	})
}

// digestDomain starts the canonical serialisation hashed by Digest.
const digestDomain = "peer mimeidb digest v1\n"

// Digest returns the BLAKE3 hash of a canonical serialisation of the
// logical content (docs/formats-db.md): keys in bytewise order, each as
// length-prefixed key, type byte and its elements in the order Dump gives.
// Two databases with equal content have equal digests whatever their
// history or storage layout.
func (t *Tx) Digest() ([32]byte, error) {
	h := blake3.New()
	h.Write([]byte(digestDomain))
	var buf []byte
	bytesField := func(b []byte) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(b)))
		h.Write(buf)
		h.Write(b)
	}
	count := func(n int) {
		buf = binary.AppendUvarint(buf[:0], uint64(n))
		h.Write(buf)
	}
	err := t.Dump(func(key []byte, typ Type, value any) error {
		bytesField(key)
		h.Write([]byte{byte(typ)})
		switch v := value.(type) {
		case []byte:
			bytesField(v)
		case [][]byte:
			count(len(v))
			for _, e := range v {
				bytesField(e)
			}
		case []FieldValue:
			count(len(v))
			for _, fv := range v {
				bytesField(fv.Field)
				bytesField(fv.Value)
			}
		case []ZMember:
			count(len(v))
			for _, zm := range v {
				bytesField(zm.Member)
				h.Write(binary.BigEndian.AppendUint64(buf[:0], math.Float64bits(zm.Score)))
			}
		}
		return nil
	})
	var d [32]byte
	if err != nil {
		return d, err
	}
	copy(d[:], h.Sum(nil))
	return d, nil
}
