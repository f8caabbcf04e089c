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
	d := newDigester()
	if err := t.Dump(d.add); err != nil {
		return [32]byte{}, err
	}
	return d.sum(), nil
}

// digester computes Digest incrementally from keys given in Dump order. It
// is the one implementation of the digest serialisation: Tx.Digest, Export
// (for its trailer) and ReadExport (to check it) all use it.
type digester struct {
	h   *blake3.Hasher
	buf []byte
}

func newDigester() *digester { return newDomainDigester(digestDomain) }

// newDomainDigester starts a digest under another domain string (see
// ValueDigest).
func newDomainDigester(domain string) *digester {
	d := &digester{h: blake3.New()}
	d.h.Write([]byte(domain))
	return d
}

// add hashes one key; it has Dump's callback signature and never fails.
func (d *digester) add(key []byte, typ Type, value any) error {
	d.bytesField(key)
	d.h.Write([]byte{byte(typ)})
	d.value(value)
	return nil
}

func (d *digester) sum() [32]byte {
	var s [32]byte
	d.h.Sum(s[:0])
	return s
}

func (d *digester) bytesField(b []byte) {
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(b)))
	d.h.Write(d.buf)
	d.h.Write(b)
}

func (d *digester) count(n int) {
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(n))
	d.h.Write(d.buf)
}

// value hashes a value of one of Dump's shapes (the type byte is the
// caller's).
func (d *digester) value(value any) {
	switch v := value.(type) {
	case []byte:
		d.bytesField(v)
	case [][]byte:
		d.count(len(v))
		for _, e := range v {
			d.bytesField(e)
		}
	case []FieldValue:
		d.count(len(v))
		for _, fv := range v {
			d.bytesField(fv.Field)
			d.bytesField(fv.Value)
		}
	case []ZMember:
		d.count(len(v))
		for _, zm := range v {
			d.bytesField(zm.Member)
			d.h.Write(binary.BigEndian.AppendUint64(d.buf[:0], math.Float64bits(zm.Score)))
		}
	}
}
