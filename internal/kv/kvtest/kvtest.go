// Package kvtest is the conformance suite every kv.Store backend (and every
// fake or wrapper) must pass. A backend's test calls Run with a function that
// opens a fresh, empty store.
//
// Only _test.go files may import it.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/peer-node/peer/internal/kv"
)

// Opener returns a fresh, empty store. The suite closes it (more than once,
// so Close must be idempotent); the opener may also register a cleanup that
// closes it.
type Opener func(t *testing.T) kv.Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store)
	}{
		{"GetSetOverwriteDelete", testGetSetDelete},
		{"InvalidKeysAndValues", testInvalid},
		{"SizeLimits", testSizeLimits},
		{"ReservedKeysHidden", testReservedHidden},
		{"Aliasing", testAliasing},
		{"IterOrderAndRanges", testIterRanges},
		{"IterRangesMatchModel", testIterModel},
		{"IterLifecycle", testIterLifecycle},
		{"Batch", testBatch},
		{"BatchDiscard", testBatchDiscard},
		{"BatchAtomicVisibility", testBatchAtomicVisibility},
		{"SnapshotIsolation", testSnapshot},
		{"IterConcurrentWrites", testIterConcurrentWrites},
		{"Closed", testClosed},
		{"Concurrency", testConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
	t.Run("Property", func(t *testing.T) { testProperty(t, open) })
}

// --- helpers ---------------------------------------------------------------

type kvPair struct{ k, v string }

// scan reads everything it yields, failing the test on an iterator error.
func scan(t testing.TB, r kv.Reader, opts kv.IterOptions) []kvPair {
	t.Helper()
	it := r.Iter(opts)
	var out []kvPair
	for it.Next() {
		out = append(out, kvPair{string(it.Key()), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterate %s: %v", fmtOpts(opts), err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("close iterator: %v", err)
	}
	return out
}

func keysOf(ps []kvPair) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.k
	}
	return out
}

func fmtOpts(o kv.IterOptions) string {
	return fmt.Sprintf("{Prefix:%q Start:%q End:%q Reverse:%v}", o.Prefix, o.Start, o.End, o.Reverse)
}

func mustSet(t testing.TB, w kv.Writer, k, v string) {
	t.Helper()
	if err := w.Set([]byte(k), []byte(v)); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func mustGet(t testing.TB, r kv.Reader, k string) string {
	t.Helper()
	v, err := r.Get([]byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return string(v)
}

func wantNotFound(t testing.TB, r kv.Reader, k string) {
	t.Helper()
	v, err := r.Get([]byte(k))
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", k, v, err)
	}
	ok, err := r.Has([]byte(k))
	if err != nil || ok {
		t.Fatalf("Has(%q) = %v, %v; want false, nil", k, ok, err)
	}
}

func wantValue(t testing.TB, r kv.Reader, k, want string) {
	t.Helper()
	if got := mustGet(t, r, k); got != want {
		t.Fatalf("Get(%q) = %q; want %q", k, got, want)
	}
	ok, err := r.Has([]byte(k))
	if err != nil || !ok {
		t.Fatalf("Has(%q) = %v, %v; want true, nil", k, ok, err)
	}
}

// --- tests -----------------------------------------------------------------

func testGetSetDelete(t *testing.T, s kv.Store) {
	wantNotFound(t, s, "a")
	mustSet(t, s, "a", "1")
	wantValue(t, s, "a", "1")
	mustSet(t, s, "a", "two")
	wantValue(t, s, "a", "two")
	mustSet(t, s, "b", "3")
	if err := s.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "a")
	wantValue(t, s, "b", "3")
	if err := s.Delete([]byte("never-set")); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	// A nil value is stored as an empty one and reads back non-nil.
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get([]byte("empty"))
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %#v, %v; want []byte{}, nil", v, err)
	}
	wantValue(t, s, "empty", "")
	// Binary keys and values round-trip.
	bk, bv := []byte{0x01, 0x00, 0xff}, []byte{0x00, 0xff, 0x00}
	if err := s.Set(bk, bv); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(bk); err != nil || !bytes.Equal(got, bv) {
		t.Fatalf("Get(binary) = %x, %v", got, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func testInvalid(t *testing.T, s kv.Store) {
	mustSet(t, s, "x", "kept")
	big := bytes.Repeat([]byte{'k'}, kv.MaxKeySize+1)
	keys := []struct {
		name string
		key  []byte
		want error
	}{
		{"nil", nil, kv.ErrEmptyKey},
		{"empty", []byte{}, kv.ErrEmptyKey},
		{"too large", big, kv.ErrKeyTooLarge},
		{"reserved 0x00", []byte{0x00}, kv.ErrReservedKey},
		{"reserved marker", []byte("\x00meta/format"), kv.ErrReservedKey},
	}
	ops := []struct {
		name string
		do   func(key []byte) error
	}{
		{"Get", func(k []byte) error { _, err := s.Get(k); return err }},
		{"Has", func(k []byte) error { _, err := s.Has(k); return err }},
		{"Set", func(k []byte) error { return s.Set(k, []byte("v")) }},
		{"Delete", func(k []byte) error { return s.Delete(k) }},
		{"Batch.Set", func(k []byte) error {
			b := s.NewBatch()
			defer b.Discard()
			err := b.Set(k, []byte("v"))
			if b.Len() != 0 {
				t.Errorf("Batch.Len = %d after a rejected Set", b.Len())
			}
			return err
		}},
		{"Batch.Delete", func(k []byte) error {
			b := s.NewBatch()
			defer b.Discard()
			err := b.Delete(k)
			if b.Len() != 0 {
				t.Errorf("Batch.Len = %d after a rejected Delete", b.Len())
			}
			return err
		}},
		{"Snapshot.Get", func(k []byte) error {
			sn, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Close()
			_, err = sn.Get(k)
			return err
		}},
		{"Snapshot.Has", func(k []byte) error {
			sn, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Close()
			_, err = sn.Has(k)
			return err
		}},
	}
	for _, op := range ops {
		for _, k := range keys {
			t.Run(op.name+"/"+k.name, func(t *testing.T) {
				if err := op.do(k.key); !errors.Is(err, k.want) {
					t.Fatalf("%s(%s key) = %v; want %v", op.name, k.name, err, k.want)
				}
			})
		}
	}
	bigVal := make([]byte, kv.MaxValueSize+1)
	if err := s.Set([]byte("x"), bigVal); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Fatalf("Set(oversize value) = %v; want ErrValueTooLarge", err)
	}
	b := s.NewBatch()
	if err := b.Set([]byte("x"), bigVal); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Fatalf("Batch.Set(oversize value) = %v; want ErrValueTooLarge", err)
	}
	if b.Len() != 0 {
		t.Fatalf("Batch.Len = %d after a rejected Set", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	// Nothing rejected reached the store.
	if got := keysOf(scan(t, s, kv.IterOptions{})); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("store holds %q after rejected writes; want [x]", got)
	}
	wantValue(t, s, "x", "kept")
}

func testSizeLimits(t *testing.T, s kv.Store) {
	key := bytes.Repeat([]byte{'k'}, kv.MaxKeySize)
	if err := s.Set(key, []byte("v")); err != nil {
		t.Fatalf("Set(key of MaxKeySize): %v", err)
	}
	if got, err := s.Get(key); err != nil || string(got) != "v" {
		t.Fatalf("Get(key of MaxKeySize) = %q, %v", got, err)
	}
	val := bytes.Repeat([]byte{0xa5}, kv.MaxValueSize)
	if err := s.Set([]byte("big"), val); err != nil {
		t.Fatalf("Set(value of MaxValueSize): %v", err)
	}
	got, err := s.Get([]byte("big"))
	if err != nil || !bytes.Equal(got, val) {
		t.Fatalf("Get(big) = %d bytes, %v; want %d bytes", len(got), err, len(val))
	}
}

func testReservedHidden(t *testing.T, s kv.Store) {
	mustSet(t, s, "\x01", "low")
	mustSet(t, s, "a", "1")
	for _, o := range []kv.IterOptions{
		{},
		{Reverse: true},
		{Start: []byte{0x00}},
		{Start: []byte{0x00}, Reverse: true},
		{End: []byte{0x01, 0x00}},
	} {
		for _, p := range scan(t, s, o) {
			if p.k[0] == kv.ReservedPrefix {
				t.Fatalf("iteration %s yielded reserved key %q", fmtOpts(o), p.k)
			}
		}
	}
	if got := scan(t, s, kv.IterOptions{Prefix: []byte{0x00}}); len(got) != 0 {
		t.Fatalf("prefix 0x00 yielded %q; want nothing", got)
	}
	if got := keysOf(scan(t, s, kv.IterOptions{})); !slices.Equal(got, []string{"\x01", "a"}) {
		t.Fatalf("full scan = %q", got)
	}
}

func testAliasing(t *testing.T, s kv.Store) {
	k, v := []byte("key"), []byte("value")
	if err := s.Set(k, v); err != nil {
		t.Fatal(err)
	}
	k[0], v[0] = 'X', 'X' // caller reuses its buffers
	wantValue(t, s, "key", "value")
	wantNotFound(t, s, "Xey")

	got, _ := s.Get([]byte("key"))
	got[0] = 'Z'
	wantValue(t, s, "key", "value")

	b := s.NewBatch()
	bk, bv := []byte("bkey"), []byte("bval")
	if err := b.Set(bk, bv); err != nil {
		t.Fatal(err)
	}
	dk := []byte("key")
	if err := b.Delete(dk); err != nil {
		t.Fatal(err)
	}
	bk[0], bv[0], dk[0] = 'X', 'X', 'X'
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "bkey", "bval")
	wantNotFound(t, s, "key")

	it := s.Iter(kv.IterOptions{})
	for it.Next() {
		it.Key()[0] = 'Q'
		if v := it.Value(); len(v) > 0 {
			v[0] = 'Q'
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "bkey", "bval")

	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	sv, _ := sn.Get([]byte("bkey"))
	sv[0] = 'Q'
	wantValue(t, sn, "bkey", "bval")
	sit := sn.Iter(kv.IterOptions{})
	for sit.Next() {
		sit.Key()[0] = 'Q'
		sit.Value()[0] = 'Q'
	}
	sit.Close()
	wantValue(t, sn, "bkey", "bval")
	wantValue(t, s, "bkey", "bval")
}

// iterKeys is the data set for the range tests; it crowds the edges of the
// byte range (0x01, 0xff runs) where prefix arithmetic goes wrong.
var iterKeys = []string{
	"\x01", "\x01\x00", "\x01\xff",
	"a", "ab", "ab\x00", "abc", "ab\xff", "ab\xff\xff", "ac",
	"b",
	"\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff", "\xff\xff\xff\x01",
}

func loadIterKeys(t *testing.T, w kv.Writer) {
	t.Helper()
	for _, k := range iterKeys {
		mustSet(t, w, k, "v:"+k)
	}
}

// modelSelect is the documented selection rule, written naively.
func modelSelect(keys []string, o kv.IterOptions) []string {
	var out []string
	for _, k := range keys {
		if k[0] == 0 || !strings.HasPrefix(k, string(o.Prefix)) {
			continue
		}
		if len(o.Start) > 0 && k < string(o.Start) {
			continue
		}
		if len(o.End) > 0 && k >= string(o.End) {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	if o.Reverse {
		slices.Reverse(out)
	}
	return out
}

func testIterRanges(t *testing.T, s kv.Store) {
	loadIterKeys(t, s)
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name string
		opts kv.IterOptions
		want []string
	}{
		{"all", kv.IterOptions{}, iterKeys},
		{"prefix a", kv.IterOptions{Prefix: b("a")}, []string{"a", "ab", "ab\x00", "abc", "ab\xff", "ab\xff\xff", "ac"}},
		{"prefix ab", kv.IterOptions{Prefix: b("ab")}, []string{"ab", "ab\x00", "abc", "ab\xff", "ab\xff\xff"}},
		{"prefix ab\\xff", kv.IterOptions{Prefix: b("ab\xff")}, []string{"ab\xff", "ab\xff\xff"}},
		{"prefix \\x01", kv.IterOptions{Prefix: b("\x01")}, []string{"\x01", "\x01\x00", "\x01\xff"}},
		{"prefix \\xff", kv.IterOptions{Prefix: b("\xff")}, []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff", "\xff\xff\xff\x01"}},
		{"prefix \\xff\\xff", kv.IterOptions{Prefix: b("\xff\xff")}, []string{"\xff\xff", "\xff\xff\x00", "\xff\xff\xff", "\xff\xff\xff\x01"}},
		{"prefix \\xfe", kv.IterOptions{Prefix: b("\xfe")}, []string{"\xfe\xff"}},
		{"prefix missing", kv.IterOptions{Prefix: b("zz")}, nil},
		{"start", kv.IterOptions{Start: b("ab\xff")}, []string{"ab\xff", "ab\xff\xff", "ac", "b", "\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff", "\xff\xff\xff\x01"}},
		{"end exclusive", kv.IterOptions{End: b("ab")}, []string{"\x01", "\x01\x00", "\x01\xff", "a"}},
		{"start end", kv.IterOptions{Start: b("ab\x00"), End: b("ab\xff\xff")}, []string{"ab\x00", "abc", "ab\xff"}},
		{"prefix start", kv.IterOptions{Prefix: b("ab"), Start: b("ab\x01")}, []string{"abc", "ab\xff", "ab\xff\xff"}},
		{"prefix end", kv.IterOptions{Prefix: b("ab"), End: b("ab\xff\xff")}, []string{"ab", "ab\x00", "abc", "ab\xff"}},
		{"prefix start below prefix", kv.IterOptions{Prefix: b("ab"), Start: b("a")}, []string{"ab", "ab\x00", "abc", "ab\xff", "ab\xff\xff"}},
		{"prefix end above prefix", kv.IterOptions{Prefix: b("ab"), End: b("b")}, []string{"ab", "ab\x00", "abc", "ab\xff", "ab\xff\xff"}},
		{"prefix range outside", kv.IterOptions{Prefix: b("ab"), Start: b("b")}, nil},
		{"start after end", kv.IterOptions{Start: b("b"), End: b("a")}, nil},
		{"start equals end", kv.IterOptions{Start: b("ab"), End: b("ab")}, nil},
		{"prefix \\xff with start", kv.IterOptions{Prefix: b("\xff\xff"), Start: b("\xff\xff\x01")}, []string{"\xff\xff\xff", "\xff\xff\xff\x01"}},
		{"start \\xff\\xff\\xff", kv.IterOptions{Start: b("\xff\xff\xff")}, []string{"\xff\xff\xff", "\xff\xff\xff\x01"}},
		{"empty slices unbounded", kv.IterOptions{Prefix: []byte{}, Start: []byte{}, End: []byte{}}, iterKeys},
	}
	for _, c := range cases {
		for _, rev := range []bool{false, true} {
			o := c.opts
			o.Reverse = rev
			want := slices.Clone(c.want)
			name := c.name
			if rev {
				slices.Reverse(want)
				name += "/reverse"
			}
			t.Run(name, func(t *testing.T) {
				got := scan(t, s, o)
				if !slices.Equal(keysOf(got), want) {
					t.Fatalf("%s: got %q; want %q", fmtOpts(o), keysOf(got), want)
				}
				for _, p := range got {
					if p.v != "v:"+p.k {
						t.Fatalf("key %q has value %q", p.k, p.v)
					}
				}
			})
		}
	}
}

// testIterModel checks every combination of a set of interesting bounds
// against the naive selection rule.
func testIterModel(t *testing.T, s kv.Store) {
	loadIterKeys(t, s)
	bounds := []string{"", "\x01", "\x01\x00", "a", "ab", "ab\xff", "ab\xff\xff", "b", "\xfe", "\xff", "\xff\xff", "\xff\xff\xff", "\xff\xff\xff\xff"}
	for _, p := range bounds {
		for _, st := range bounds {
			for _, e := range bounds {
				for _, rev := range []bool{false, true} {
					o := kv.IterOptions{Reverse: rev}
					if p != "" {
						o.Prefix = []byte(p)
					}
					if st != "" {
						o.Start = []byte(st)
					}
					if e != "" {
						o.End = []byte(e)
					}
					got := keysOf(scan(t, s, o))
					want := modelSelect(iterKeys, o)
					if !slices.Equal(got, want) {
						t.Fatalf("%s: got %q; want %q", fmtOpts(o), got, want)
					}
				}
			}
		}
	}
}

func testIterLifecycle(t *testing.T, s kv.Store) {
	it := s.Iter(kv.IterOptions{})
	if it.Next() {
		t.Fatal("Next on an empty store returned true")
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	mustSet(t, s, "a", "1")
	mustSet(t, s, "b", "2")
	it = s.Iter(kv.IterOptions{})
	if !it.Next() || string(it.Key()) != "a" || string(it.Value()) != "1" {
		t.Fatalf("first entry = %q=%q", it.Key(), it.Value())
	}
	// Key and Value may be called repeatedly and agree.
	if string(it.Value()) != "1" || string(it.Key()) != "a" {
		t.Fatal("repeated Key/Value changed")
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Fatal("Next after Close returned true")
	}
	// An abandoned, unexhausted iterator must not block writes or Close.
	_ = s.Iter(kv.IterOptions{Reverse: true}).Next()
	mustSet(t, s, "c", "3")
}

func testBatch(t *testing.T, s kv.Store) {
	mustSet(t, s, "old", "x")
	mustSet(t, s, "gone", "x")
	b := s.NewBatch()
	steps := []func() error{
		func() error { return b.Set([]byte("a"), []byte("1")) },
		func() error { return b.Set([]byte("b"), []byte("2")) },
		func() error { return b.Set([]byte("a"), []byte("1b")) }, // later op wins
		func() error { return b.Delete([]byte("gone")) },
		func() error { return b.Set([]byte("tmp"), []byte("t")) },
		func() error { return b.Delete([]byte("tmp")) }, // set then delete: absent
		func() error { return b.Delete([]byte("old")) },
		func() error { return b.Set([]byte("old"), []byte("new")) }, // delete then set: present
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if b.Len() != i+1 {
			t.Fatalf("Len = %d after %d ops", b.Len(), i+1)
		}
	}
	// Nothing is visible before Commit.
	wantNotFound(t, s, "a")
	wantValue(t, s, "gone", "x")
	wantValue(t, s, "old", "x")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	want := []kvPair{{"a", "1b"}, {"b", "2"}, {"old", "new"}}
	if got := scan(t, s, kv.IterOptions{}); !slices.Equal(got, want) {
		t.Fatalf("after commit: %q; want %q", got, want)
	}
	// The batch is finished.
	if err := b.Set([]byte("z"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Set after Commit = %v; want ErrClosed", err)
	}
	if err := b.Delete([]byte("a")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Delete after Commit = %v; want ErrClosed", err)
	}
	if err := b.Commit(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("second Commit = %v; want ErrClosed", err)
	}
	b.Discard() // no-op
	wantValue(t, s, "a", "1b")

	empty := s.NewBatch()
	if err := empty.Commit(); err != nil {
		t.Fatalf("empty Commit: %v", err)
	}

	// Many batches, larger ones.
	for round := 0; round < 3; round++ {
		b := s.NewBatch()
		for i := 0; i < 500; i++ {
			if err := b.Set(fmt.Appendf(nil, "bulk/%04d", i), fmt.Appendf(nil, "%d", round)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	got := scan(t, s, kv.IterOptions{Prefix: []byte("bulk/")})
	if len(got) != 500 || got[0].v != "2" || got[499].v != "2" {
		t.Fatalf("bulk: %d keys, first %q", len(got), got[0])
	}
}

func testBatchDiscard(t *testing.T, s kv.Store) {
	mustSet(t, s, "a", "1")
	b := s.NewBatch()
	mustSet(t, b, "a", "changed")
	mustSet(t, b, "b", "new")
	if err := b.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	b.Discard()
	b.Discard()
	if err := b.Commit(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Commit after Discard = %v; want ErrClosed", err)
	}
	if err := b.Set([]byte("c"), nil); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Set after Discard = %v; want ErrClosed", err)
	}
	if got := scan(t, s, kv.IterOptions{}); !slices.Equal(got, []kvPair{{"a", "1"}}) {
		t.Fatalf("after discard: %q", got)
	}
}

// testBatchAtomicVisibility commits batches that set every key of a group to
// the same round number while readers check that they never see a mix.
func testBatchAtomicVisibility(t *testing.T, s kv.Store) {
	const nkeys, rounds, readers = 20, 100, 4
	key := func(i int) []byte { return fmt.Appendf(nil, "g/%02d", i) }
	write := func(round int) error {
		b := s.NewBatch()
		for i := 0; i < nkeys; i++ {
			if err := b.Set(key(i), fmt.Appendf(nil, "%d", round)); err != nil {
				return err
			}
		}
		return b.Commit()
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, readers*2+1)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var vals []string
				if r%2 == 0 { // through a snapshot
					sn, err := s.Snapshot()
					if err != nil {
						errs <- err
						return
					}
					for i := 0; i < nkeys; i++ {
						v, err := sn.Get(key(i))
						if err != nil {
							errs <- err
							sn.Close()
							return
						}
						vals = append(vals, string(v))
					}
					sn.Close()
				} else { // through an iterator
					it := s.Iter(kv.IterOptions{Prefix: []byte("g/")})
					for it.Next() {
						vals = append(vals, string(it.Value()))
					}
					if err := it.Close(); err != nil {
						errs <- err
						return
					}
				}
				if len(vals) != nkeys {
					errs <- fmt.Errorf("reader saw %d keys; want %d", len(vals), nkeys)
					return
				}
				for _, v := range vals {
					if v != vals[0] {
						errs <- fmt.Errorf("reader saw a partial batch: %q", vals)
						return
					}
				}
			}
		}(r)
	}
	for round := 1; round <= rounds; round++ {
		if err := write(round); err != nil {
			errs <- err
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testSnapshot(t *testing.T, s kv.Store) {
	mustSet(t, s, "a", "1")
	mustSet(t, s, "b", "1")
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "a", "2")
	if err := s.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "c", "1")
	b := s.NewBatch()
	mustSet(t, b, "d", "1")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	wantValue(t, sn, "a", "1")
	wantValue(t, sn, "b", "1")
	wantNotFound(t, sn, "c")
	wantNotFound(t, sn, "d")
	if got := scan(t, sn, kv.IterOptions{}); !slices.Equal(got, []kvPair{{"a", "1"}, {"b", "1"}}) {
		t.Fatalf("snapshot scan = %q", got)
	}
	if got := scan(t, sn, kv.IterOptions{Reverse: true}); !slices.Equal(got, []kvPair{{"b", "1"}, {"a", "1"}}) {
		t.Fatalf("snapshot reverse scan = %q", got)
	}
	if got := scan(t, s, kv.IterOptions{}); !slices.Equal(got, []kvPair{{"a", "2"}, {"c", "1"}, {"d", "1"}}) {
		t.Fatalf("store scan = %q", got)
	}

	// An iterator opened on the snapshot, then the snapshot closed: the
	// iterator stops with ErrClosed.
	it := sn.Iter(kv.IterOptions{})
	if !it.Next() {
		t.Fatal("snapshot iterator empty")
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sn.Close(); err != nil {
		t.Fatalf("second snapshot Close: %v", err)
	}
	if it.Next() {
		t.Fatal("iterator of a closed snapshot advanced")
	}
	if err := it.Err(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("iterator of a closed snapshot: Err = %v; want ErrClosed", err)
	}
	it.Close()
	if _, err := sn.Get([]byte("a")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Get on closed snapshot = %v; want ErrClosed", err)
	}
	if _, err := sn.Has([]byte("a")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Has on closed snapshot = %v; want ErrClosed", err)
	}
	it = sn.Iter(kv.IterOptions{})
	if it.Next() || !errors.Is(it.Err(), kv.ErrClosed) {
		t.Fatalf("Iter on closed snapshot: Err = %v; want ErrClosed", it.Err())
	}
	it.Close()
	// The store is unaffected.
	wantValue(t, s, "a", "2")
}

func testIterConcurrentWrites(t *testing.T, s kv.Store) {
	const n = 200
	var want []kvPair
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k/%03d", i)
		mustSet(t, s, k, "orig")
		want = append(want, kvPair{k, "orig"})
	}
	for _, rev := range []bool{false, true} {
		it := s.Iter(kv.IterOptions{Prefix: []byte("k/"), Reverse: rev})
		var got []kvPair
		for i := 0; it.Next(); i++ {
			got = append(got, kvPair{string(it.Key()), string(it.Value())})
			if i == n/2 {
				// Rewrite the whole range in the middle of the scan: from
				// this goroutine and from another one.
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < n; j += 2 {
						s.Delete(fmt.Appendf(nil, "k/%03d", j))
					}
				}()
				for j := 1; j < n; j += 2 {
					mustSet(t, s, fmt.Sprintf("k/%03d", j), "changed")
					mustSet(t, s, fmt.Sprintf("k/%03d.5", j), "inserted")
				}
				wg.Wait()
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		w := slices.Clone(want)
		if rev {
			slices.Reverse(w)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("reverse=%v: iterator did not keep its point-in-time view: got %d entries, first %q", rev, len(got), got[:min(3, len(got))])
		}
		// Restore for the next round.
		b := s.NewBatch()
		for _, p := range scan(t, s, kv.IterOptions{Prefix: []byte("k/")}) {
			b.Delete([]byte(p.k))
		}
		for _, p := range want {
			b.Set([]byte(p.k), []byte(p.v))
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func testClosed(t *testing.T, s kv.Store) {
	mustSet(t, s, "a", "1")
	mustSet(t, s, "b", "2")
	openIt := s.Iter(kv.IterOptions{})
	if !openIt.Next() {
		t.Fatal("empty iterator")
	}
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snIt := sn.Iter(kv.IterOptions{})
	pending := s.NewBatch()
	mustSet(t, pending, "c", "3")

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, kv.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", what, err)
		}
	}
	_, err = s.Get([]byte("a"))
	check("Get", err)
	_, err = s.Has([]byte("a"))
	check("Has", err)
	check("Set", s.Set([]byte("a"), []byte("x")))
	check("Delete", s.Delete([]byte("a")))
	check("Sync", s.Sync())
	_, err = s.Snapshot()
	check("Snapshot", err)
	it := s.Iter(kv.IterOptions{})
	if it.Next() {
		t.Error("Iter after Close yielded a key")
	}
	check("Iter.Err", it.Err())
	it.Close()
	check("pending Batch.Commit", pending.Commit())
	b := s.NewBatch()
	b.Set([]byte("d"), nil)
	check("new Batch.Commit", b.Commit())

	if openIt.Next() {
		t.Error("iterator open across Close advanced")
	}
	check("open iterator Err", openIt.Err())
	check("open iterator Close", openIt.Close())
	if snIt.Next() {
		t.Error("snapshot iterator open across Close advanced")
	}
	check("open snapshot iterator Err", snIt.Err())
	snIt.Close()
	_, err = sn.Get([]byte("a"))
	check("Snapshot.Get", err)
	if err := sn.Close(); err != nil {
		t.Errorf("Snapshot.Close after store Close = %v; want nil", err)
	}
}

func testConcurrency(t *testing.T, s kv.Store) {
	const workers, ops = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fail := func(err error) { errs <- fmt.Errorf("worker %d: %w", w, err) }
			own := func(i int) []byte { return fmt.Appendf(nil, "w%d/%04d", w, i) }
			for i := 0; i < ops; i++ {
				shared := fmt.Appendf(nil, "shared/%d", i%10)
				switch i % 6 {
				case 0, 1:
					if err := s.Set(own(i), own(i)); err != nil {
						fail(err)
						return
					}
					if err := s.Set(shared, own(i)); err != nil {
						fail(err)
						return
					}
				case 2:
					v, err := s.Get(own(i - 1))
					if err != nil || !bytes.Equal(v, own(i-1)) {
						fail(fmt.Errorf("Get own key: %q, %v", v, err))
						return
					}
					if _, err := s.Get(shared); err != nil && !errors.Is(err, kv.ErrNotFound) {
						fail(err)
						return
					}
				case 3:
					b := s.NewBatch()
					b.Set(own(i), own(i))
					b.Delete(own(i - 3))
					b.Set(shared, own(i))
					if err := b.Commit(); err != nil {
						fail(err)
						return
					}
				case 4:
					it := s.Iter(kv.IterOptions{Prefix: fmt.Appendf(nil, "w%d/", w), Reverse: i%2 == 0})
					for it.Next() {
						if !bytes.Equal(it.Key(), it.Value()) {
							fail(fmt.Errorf("iter: key %q has value %q", it.Key(), it.Value()))
						}
					}
					if err := it.Close(); err != nil {
						fail(err)
						return
					}
				case 5:
					sn, err := s.Snapshot()
					if err != nil {
						fail(err)
						return
					}
					if _, err := sn.Has(own(i - 2)); err != nil {
						fail(err)
					}
					sn.Iter(kv.IterOptions{}).Close()
					sn.Close()
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each worker's own keys are exactly what it left.
	for w := 0; w < workers; w++ {
		var want []string
		for i := 0; i < ops; i++ {
			switch i % 6 {
			case 0, 1:
				want = append(want, fmt.Sprintf("w%d/%04d", w, i))
			case 3:
				want = append(want, fmt.Sprintf("w%d/%04d", w, i))
				want = slices.DeleteFunc(want, func(k string) bool { return k == fmt.Sprintf("w%d/%04d", w, i-3) })
			}
		}
		sort.Strings(want)
		got := keysOf(scan(t, s, kv.IterOptions{Prefix: fmt.Appendf(nil, "w%d/", w)}))
		if !slices.Equal(got, want) {
			t.Errorf("worker %d keys: got %d, want %d", w, len(got), len(want))
		}
	}
}
