package mimeidb

import (
	"bytes"
	"errors"
	"slices"

	"github.com/peer-node/peer/internal/kv"
)

// Tx is a view of the database inside one atomic unit of work: a single
// command run by a DB method, a transaction run by DB.Update, or a read-only
// View. It has every typed command method. Reads see the Tx's own writes.
// A Tx belongs to one goroutine and must not be used after the function it
// was passed to returns.
type Tx struct {
	prefix   []byte
	r        kv.Reader
	db       *DB // nil for views
	readOnly bool
	done     bool

	w        map[string]wop // buffered writes, by kv key
	tracking bool           // record the user keys read, for conflict checks
	reads    map[string]struct{}
	written  map[string]struct{}
	scanned  bool
	newIDs   bool
}

type wop struct {
	val []byte
	del bool
}

func newTx(db *DB, prefix []byte, r kv.Reader, readOnly bool) *Tx {
	return &Tx{prefix: prefix, r: r, db: db, readOnly: readOnly}
}

func (t *Tx) check(write bool) error {
	if t.done {
		return ErrTxDone
	}
	if write && t.readOnly {
		return ErrReadOnly
	}
	return nil
}

func (t *Tx) noteRead(key []byte) {
	if t.tracking {
		if t.reads == nil {
			t.reads = map[string]struct{}{}
		}
		t.reads[string(key)] = struct{}{}
	}
}

func (t *Tx) noteWrite(key []byte) {
	if t.written == nil {
		t.written = map[string]struct{}{}
	}
	t.written[string(key)] = struct{}{}
}

// get reads a kv key through the write buffer.
func (t *Tx) get(k []byte) ([]byte, bool, error) {
	if op, ok := t.w[string(k)]; ok {
		if op.del {
			return nil, false, nil
		}
		return op.val, true, nil
	}
	v, err := t.r.Get(k)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (t *Tx) set(k, v []byte) {
	if t.w == nil {
		t.w = map[string]wop{}
	}
	t.w[string(k)] = wop{val: v}
}

func (t *Tx) del(k []byte) {
	if t.w == nil {
		t.w = map[string]wop{}
	}
	t.w[string(k)] = wop{del: true}
}

// iter visits the kv keys selected by opts, merging the write buffer over
// the underlying reader. fn gets copies it may keep; it returns false to stop.
func (t *Tx) iter(opts kv.IterOptions, fn func(k, v []byte) (bool, error)) error {
	lower, upper, ok := opts.Bounds()
	if !ok {
		return nil
	}
	var over []string
	for k := range t.w {
		if k >= string(lower) && (upper == nil || k < string(upper)) {
			over = append(over, k)
		}
	}
	slices.Sort(over)
	if opts.Reverse {
		slices.Reverse(over)
	}
	it := t.r.Iter(opts)
	defer it.Close()
	has := it.Next()
	i := 0
	for {
		var k, v []byte
		if has && i < len(over) {
			c := bytes.Compare(it.Key(), []byte(over[i]))
			if opts.Reverse {
				c = -c
			}
			if c < 0 {
				k, v = bytes.Clone(it.Key()), bytes.Clone(it.Value())
				has = it.Next()
			} else {
				if c == 0 {
					has = it.Next()
				}
				op := t.w[over[i]]
				k, i = []byte(over[i]), i+1
				if op.del {
					continue
				}
				v = op.val
			}
		} else if has {
			k, v = bytes.Clone(it.Key()), bytes.Clone(it.Value())
			has = it.Next()
		} else if i < len(over) {
			op := t.w[over[i]]
			k, i = []byte(over[i]), i+1
			if op.del {
				continue
			}
			v = op.val
		} else {
			break
		}
		if v == nil {
			v = []byte{}
		}
		cont, err := fn(k, v)
		if err != nil || !cont {
			return err
		}
	}
	return it.Err()
}

// lookup returns the meta record of key. With want != TypeNone an existing
// key of another type gives ErrWrongType.
func (t *Tx) lookup(key []byte, want Type) (meta, bool, error) {
	if err := checkKey(key); err != nil {
		return meta{}, false, err
	}
	t.noteRead(key)
	b, ok, err := t.get(t.metaKey(key))
	if err != nil || !ok {
		return meta{}, false, err
	}
	m, err := decodeMeta(b)
	if err != nil {
		return meta{}, false, err
	}
	if want != TypeNone && m.typ != want {
		return meta{}, false, ErrWrongType
	}
	return m, true, nil
}

// newMeta starts an empty collection of type typ with a fresh id.
func (t *Tx) newMeta(typ Type) meta {
	m := meta{typ: typ, id: t.db.allocID()}
	t.newIDs = true
	if typ == TypeList {
		m.head = listOrigin
	}
	return m
}

// putMeta stores m for key, or removes the key when its collection is empty.
func (t *Tx) putMeta(key []byte, m meta) {
	t.noteWrite(key)
	if m.typ != TypeString && m.n == 0 {
		t.del(t.metaKey(key))
		return
	}
	t.set(t.metaKey(key), m.encode())
}

// remove deletes key and all its entries.
func (t *Tx) remove(key []byte, m meta) error {
	t.noteWrite(key)
	t.del(t.metaKey(key))
	if m.typ == TypeString {
		return nil
	}
	return t.iter(kv.IterOptions{Prefix: t.dataPrefix(m.id)}, func(k, _ []byte) (bool, error) {
		t.del(k)
		return true, nil
	})
}

func checkKey(k []byte) error {
	if len(k) > MaxKeyLen {
		return tooLarge("key", len(k), MaxKeyLen)
	}
	return nil
}

func checkMember(k []byte) error {
	if len(k) > MaxKeyLen {
		return tooLarge("field or member", len(k), MaxKeyLen)
	}
	return nil
}

func checkValue(v []byte) error {
	if len(v) > MaxValueLen {
		return tooLarge("value", len(v), MaxValueLen)
	}
	return nil
}
