package mimeidb

import (
	"encoding/hex"

	"github.com/peer-node/peer/internal/kv"
)

// ScanOptions are SCAN's and HSCAN's MATCH and COUNT. A nil Match matches
// everything, as does "*" (a non-nil empty one only the empty name); Count is how many
// names one call examines (default 10).
type ScanOptions struct {
	Match []byte
	Count int
}

// Cursors are opaque: "0" starts a scan and is returned when it is
// complete; any other cursor is the hex encoding of the name to resume at,
// so a key present for the whole scan is returned exactly once however the
// database changes meanwhile.
func decodeCursor(c string) ([]byte, error) {
	if c == "0" {
		return nil, nil
	}
	b, err := hex.DecodeString(c)
	if err != nil || len(b) == 0 {
		return nil, ErrInvalidCursor
	}
	return b, nil
}

// scanRange visits names under prefix from cursor, examining up to count.
func (t *Tx) scanRange(prefix []byte, cursor string, opts ScanOptions, fn func(name, v []byte)) (string, error) {
	from, err := decodeCursor(cursor)
	if err != nil {
		return "", err
	}
	count := opts.Count
	if count <= 0 {
		count = 10
	}
	if MaxReplyElements > 0 && int64(count) > MaxReplyElements {
		count = int(MaxReplyElements) // COUNT is a hint: the reply budget caps it
	}
	next := "0"
	n := 0
	err = t.iter(kv.IterOptions{Prefix: prefix, Start: cat(prefix, from)}, func(k, v []byte) (bool, error) {
		name := k[len(prefix):]
		if n == count {
			next = hex.EncodeToString(name)
			if next == "" {
				next = "0" // unreachable: the empty name sorts first
			}
			return false, nil
		}
		n++
		if opts.Match == nil || string(opts.Match) == "*" || Match(opts.Match, name) {
			fn(name, v)
		}
		return true, nil
	})
	return next, err
}

// Scan returns the keys examined from cursor that match opts, and the
// cursor to continue from ("0" when done). Inside an Update transaction a
// Scan makes the commit conflict with any other commit.
func (t *Tx) Scan(cursor string, opts ScanOptions) (string, [][]byte, error) {
	if err := t.check(false); err != nil {
		return "", nil, err
	}
	if t.tracking {
		t.scanned = true
	}
	var keys [][]byte
	next, err := t.scanRange(t.sub(tagMeta), cursor, opts, func(name, _ []byte) {
		keys = append(keys, name)
	})
	if err != nil {
		return "", nil, err
	}
	return next, keys, nil
}

// HScan is Scan over the fields of the hash at key.
func (t *Tx) HScan(key []byte, cursor string, opts ScanOptions) (string, []FieldValue, error) {
	if err := t.check(false); err != nil {
		return "", nil, err
	}
	if _, err := decodeCursor(cursor); err != nil {
		return "", nil, err
	}
	m, ok, err := t.lookup(key, TypeHash)
	if err != nil || !ok {
		return "0", nil, err
	}
	var out []FieldValue
	next, err := t.scanRange(t.dataPrefix(m.id), cursor, opts, func(f, v []byte) {
		out = append(out, FieldValue{f, v})
	})
	if err != nil {
		return "", nil, err
	}
	return next, out, nil
}

// SScan is Scan over the members of the set at key, in bytewise order.
func (t *Tx) SScan(key []byte, cursor string, opts ScanOptions) (string, [][]byte, error) {
	if err := t.check(false); err != nil {
		return "", nil, err
	}
	if _, err := decodeCursor(cursor); err != nil {
		return "", nil, err
	}
	m, ok, err := t.lookup(key, TypeSet)
	if err != nil || !ok {
		return "0", nil, err
	}
	var out [][]byte
	next, err := t.scanRange(t.dataPrefix(m.id), cursor, opts, func(mb, _ []byte) {
		out = append(out, mb)
	})
	if err != nil {
		return "", nil, err
	}
	return next, out, nil
}

// ZScan is Scan over the members of the sorted set at key, in bytewise
// order of the member, with their scores.
func (t *Tx) ZScan(key []byte, cursor string, opts ScanOptions) (string, []ZMember, error) {
	if err := t.check(false); err != nil {
		return "", nil, err
	}
	if _, err := decodeCursor(cursor); err != nil {
		return "", nil, err
	}
	m, ok, err := t.lookup(key, TypeZSet)
	if err != nil || !ok {
		return "0", nil, err
	}
	var out []ZMember
	var bad error
	next, err := t.scanRange(cat(t.dataPrefix(m.id), []byte{zMember}), cursor, opts, func(mb, v []byte) {
		f, err := decodeScore(v)
		if err != nil && bad == nil {
			bad = err
		}
		out = append(out, ZMember{Member: mb, Score: f})
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return "", nil, err
	}
	return next, out, nil
}
