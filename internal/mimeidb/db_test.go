package mimeidb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
)

func TestReplyForms(t *testing.T) {
	cases := []struct {
		r          Reply
		text, json string
	}{
		{NilReply(), "(nil)", "null"},
		{IntReply(3), "(integer) 3", "3"},
		{BulkReply([]byte("v")), `"v"`, `"v"`},
		{BulkReply([]byte("a\"b\n\x01")), `"a\"b\n\x01"`, `"a\"b\n\u0001"`},
		{BulkReply([]byte{0xff}), `"\xff"`, `{"base64":"/w=="}`},
		{FloatReply(1.5), `"1.5"`, `"1.5"`},
		{FloatReply(math.Inf(-1)), `"-inf"`, `"-inf"`},
		{OK, "OK", `{"status":"OK"}`},
		{ArrayReply(), "(empty array)", "[]"},
		{ArrayReply(BulkReply([]byte("a")), NilReply(), IntReply(2)), "1) \"a\"\n2) (nil)\n3) (integer) 2", `["a",null,2]`},
		{ArrayReply(BulkReply([]byte("0")), ArrayReply(BulkReply([]byte("k")), BulkReply([]byte("l")))),
			"1) \"0\"\n2) 1) \"k\"\n   2) \"l\"", `["0",["k","l"]]`},
	}
	for _, c := range cases {
		if got := c.r.String(); got != c.text {
			t.Errorf("String() = %q, want %q", got, c.text)
		}
		j, err := json.Marshal(c.r)
		if err != nil || string(j) != c.json {
			t.Errorf("JSON = %s, %v; want %s", j, err, c.json)
		}
	}
	ten := make([]Reply, 10)
	for i := range ten {
		ten[i] = IntReply(int64(i))
	}
	if got := ArrayReply(ten...).String(); !strings.HasPrefix(got, " 1) (integer) 0\n 2)") || !strings.Contains(got, "\n10) (integer) 9") {
		t.Errorf("wide array:\n%s", got)
	}
}

func TestFormatFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0", 1: "1", -2.5: "-2.5", 0.1: "0.1", 1e20: "1e+20", 123456789: "123456789",
		1e16: "10000000000000000", 1e17: "1e+17", 0.0001: "0.0001", 0.00001: "1e-05",
		math.Inf(1): "inf", 3.0000000000000004: "3.0000000000000004",
	} {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", false}, {"*", "abc", true}, {"", "", true}, {"", "a", false},
		{"a*", "abc", true}, {"a*", "bac", false}, {"*c", "abc", true}, {"a*c", "ac", true},
		{"?", "a", true}, {"?", "", false}, {"??", "a", false}, {"a?c", "abc", true},
		{"[abc]", "b", true}, {"[abc]", "d", false}, {"[^abc]", "d", true}, {"[^abc]", "a", false},
		{"[a-c]x", "bx", true}, {"[c-a]", "b", true}, {"[a-c]", "d", false},
		{`\*`, "*", true}, {`\*`, "a", false}, {`a\?`, "a?", true}, {`[\]]`, "]", true},
		{"h[ae]llo", "hello", true}, {"h[ae]llo", "hillo", false}, {"h*llo", "heeeello", true},
		{"[abc", "a", true}, {"a**", "a", true}, {"*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 60), false},
	}
	for _, c := range cases {
		if got := Match([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestTypedAPI(t *testing.T) {
	db := openDB(t, memkv.New(), "t")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Set([]byte("k"), []byte("v")))
	v, ok, err := db.Get([]byte("k"))
	if string(v) != "v" || !ok || err != nil {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
	if _, err := db.HSet([]byte("k"), []byte("f"), []byte("v")); !errors.Is(err, ErrWrongType) {
		t.Fatalf("HSet on string: %v", err)
	}
	if _, err := db.HSet([]byte("h"), []byte("f")); !errors.Is(err, ErrWrongArgs) {
		t.Fatalf("HSet odd: %v", err)
	}
	if _, err := db.ZAdd([]byte("z"), ZMember{[]byte("a"), math.NaN()}); !errors.Is(err, ErrNotFloat) {
		t.Fatalf("ZAdd NaN: %v", err)
	}
	if _, err := db.ZAdd([]byte("z"), ZMember{[]byte("a"), 2}, ZMember{[]byte("b"), 1}); err != nil {
		t.Fatal(err)
	}
	zs, err := db.ZRangeByScore([]byte("z"), NegInf, Inf, 0, -1)
	if err != nil || len(zs) != 2 || string(zs[0].Member) != "b" {
		t.Fatalf("ZRangeByScore = %v %v", zs, err)
	}
	typ, _ := db.Type([]byte("z"))
	if typ != TypeZSet || typ.String() != "zset" {
		t.Fatalf("Type = %v", typ)
	}
}

func TestSizeLimits(t *testing.T) {
	db := openDB(t, memkv.New(), "t")
	big := bytes.Repeat([]byte("k"), MaxKeyLen+1)
	if err := db.Set(big, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge key: %v", err)
	}
	if _, err := db.SAdd([]byte("s"), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge member: %v", err)
	}
	if err := db.Set([]byte("k"), make([]byte, MaxValueLen+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge value: %v", err)
	}
	// The largest key and member fit under the largest prefix.
	db2 := openDB(t, memkv.New(), strings.Repeat("p", MaxPrefixLen))
	maxKey := bytes.Repeat([]byte("k"), MaxKeyLen)
	if _, err := db2.ZAdd(maxKey, ZMember{maxKey, 1}); err != nil {
		t.Errorf("max key and member: %v", err)
	}
	if _, err := Open(memkv.New(), []byte{0, 1}); !errors.Is(err, ErrBadPrefix) {
		t.Errorf("reserved prefix: %v", err)
	}
}

func TestFormatVersion(t *testing.T) {
	s := memkv.New()
	openDB(t, s, "p/")
	if v, _ := s.Get([]byte("p/v")); string(v) != "1" {
		t.Fatalf("version key = %q", v)
	}
	s.Set([]byte("p/v"), []byte("2"))
	if _, err := Open(s, []byte("p/")); !errors.Is(err, ErrUnsupportedVersion) || !strings.Contains(err.Error(), `"2"`) {
		t.Fatalf("Open v2: %v", err)
	}
	if _, err := OpenReadOnly(s, []byte("p/")); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("OpenReadOnly v2: %v", err)
	}
}

// TestPrefixesIsolated: two databases sharing one store do not see each other.
func TestPrefixesIsolated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		a, b := openDB(t, s, "a/"), openDB(t, s, "b/")
		a.ExecStrings("HSET", "h", "f", "1")
		b.ExecStrings("SET", "h", "x")
		if r, _ := a.ExecStrings("HGET", "h", "f"); compact(r) != `"1"` {
			t.Errorf("a: %s", compact(r))
		}
		if r, _ := b.ExecStrings("SCAN", "0"); compact(r) != `["0" ["h"]]` {
			t.Errorf("b: %s", compact(r))
		}
		// Reopening keeps the data and the id counter.
		a2 := openDB(t, s, "a/")
		a2.ExecStrings("HSET", "h2", "f", "2")
		if r, _ := a2.ExecStrings("HGETALL", "h"); compact(r) != `["f" "1"]` {
			t.Errorf("reopened: %s", compact(r))
		}
	})
}

func TestView(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "v/")
		for _, c := range [][]string{{"SET", "s", "1"}, {"RPUSH", "l", "a", "b"}, {"ZADD", "z", "1", "m"}} {
			if _, err := db.ExecStrings(c...); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		db.ExecStrings("SET", "s", "2")
		v, err := OpenReadOnly(snap, []byte("v/"))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := v.ExecStrings("GET", "s"); err != nil || compact(r) != `"1"` {
			t.Errorf("view GET = %s %v", compact(r), err)
		}
		if r, _ := v.ExecStrings("LRANGE", "l", "0", "-1"); compact(r) != `["a" "b"]` {
			t.Errorf("view LRANGE = %s", compact(r))
		}
		if _, err := v.ExecStrings("SET", "s", "3"); !errors.Is(err, ErrReadOnly) {
			t.Errorf("view SET: %v", err)
		}
		if _, err := v.ZAdd([]byte("z"), ZMember{[]byte("x"), 1}); !errors.Is(err, ErrReadOnly) {
			t.Errorf("view ZAdd: %v", err)
		}
		d1, _ := v.Digest()
		db.ExecStrings("SET", "s", "1")
		d2, _ := db.Digest()
		if d1 != d2 {
			t.Errorf("view digest differs from equal live content")
		}
	})
}

func TestDigestIgnoresHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		a, b := openDB(t, s, "a/"), openDB(t, s, "b/")
		run := func(db *DB, cmds ...string) {
			for _, c := range cmds {
				if _, err := db.ExecStrings(splitArgs(c)...); err != nil {
					t.Fatalf("%s: %v", c, err)
				}
			}
		}
		run(a, "RPUSH l x y", "HSET h f 1 g 2", "ZADD z 1 a 2 b", "SADD s m n", "SET k v")
		run(b, "SET k old", "LPUSH l junk", "SET junk 1", "ZADD z 5 a 9 c", "RPUSH l x y", "LPOP l",
			"SADD s n m o", "SREM s o", "HSET h g 2", "HINCRBY h f 1", "ZREM z c", "ZINCRBY z -4 a",
			"ZADD z 2 b", "DEL junk", "SET k v", "HSET tmp a b", "DEL tmp")
		da, err := a.Digest()
		if err != nil {
			t.Fatal(err)
		}
		db, _ := b.Digest()
		if da != db {
			for _, d := range []*DB{a, b} {
				d.Dump(func(k []byte, typ Type, v any) error { t.Logf("%s %s %#v", k, typ, v); return nil })
			}
			t.Fatal("equal content, different digests")
		}
		run(b, "LSET l 0 X")
		if d, _ := b.Digest(); d == da {
			t.Fatal("different content, equal digests")
		}
		var keys []string
		a.Dump(func(k []byte, typ Type, v any) error {
			keys = append(keys, fmt.Sprintf("%s:%s", k, typ))
			return nil
		})
		if got := strings.Join(keys, " "); got != "h:hash k:string l:list s:set z:zset" {
			t.Errorf("Dump order: %s", got)
		}
	})
}

func TestTxReadsOwnWritesAndAborts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "x/")
		errBoom := errors.New("boom")
		err := db.Update(func(tx *Tx) error {
			tx.HSet([]byte("h"), []byte("a"), []byte("1"), []byte("b"), []byte("2"))
			tx.RPush([]byte("l"), []byte("x"))
			fvs, err := tx.HGetAll([]byte("h"))
			if err != nil || len(fvs) != 2 {
				t.Errorf("HGetAll in tx = %v %v", fvs, err)
			}
			if _, keys, _ := tx.Scan("0", ScanOptions{}); len(keys) != 2 {
				t.Errorf("Scan in tx = %q", keys)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatal(err)
		}
		if n, _ := db.Exists([]byte("h"), []byte("l")); n != 0 {
			t.Fatal("aborted transaction left writes")
		}
		// A failing command inside a single Exec applies nothing either.
		db.ExecStrings("SET", "a", "1")
		if _, err := db.ExecStrings("DEL", "a", string(bytes.Repeat([]byte("k"), MaxKeyLen+1))); err == nil {
			t.Fatal("expected error")
		}
		if n, _ := db.Exists([]byte("a")); n != 1 {
			t.Fatal("failed DEL partly applied")
		}
		// A Tx must not be used after Update returns.
		var kept *Tx
		db.Update(func(tx *Tx) error { kept = tx; return nil })
		if err := kept.Set([]byte("a"), nil); !errors.Is(err, ErrTxDone) {
			t.Fatalf("late use: %v", err)
		}
	})
}

func TestTxConflict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "x/")
		db.Set([]byte("a"), []byte("1"))
		err := db.Update(func(tx *Tx) error {
			v, _, _ := tx.Get([]byte("a"))
			db.Set([]byte("a"), []byte("changed")) // someone else commits
			return tx.Set([]byte("b"), v)
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if n, _ := db.Exists([]byte("b")); n != 0 {
			t.Fatal("conflicting commit applied")
		}
		// Writes to keys the tx did not read do not conflict.
		err = db.Update(func(tx *Tx) error {
			tx.Get([]byte("a"))
			db.Set([]byte("other"), []byte("x"))
			return tx.Set([]byte("b"), []byte("1"))
		})
		if err != nil {
			t.Fatal(err)
		}
		// A scan conflicts with any commit.
		err = db.Update(func(tx *Tx) error {
			tx.Scan("0", ScanOptions{})
			db.Set([]byte("new"), []byte("x"))
			return tx.Set([]byte("c"), []byte("1"))
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("scan: err = %v", err)
		}
		// Deleting a key the tx read also conflicts.
		err = db.Update(func(tx *Tx) error {
			tx.Get([]byte("a"))
			db.Del([]byte("a"))
			return tx.Set([]byte("a2"), []byte("1"))
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("delete: err = %v", err)
		}
	})
}

func TestConcurrentIncr(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "c/")
		const workers, each = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					// read-modify-write by hand, so only the conflict check keeps it exact
					err := db.UpdateRetry(1000, func(tx *Tx) error {
						v, _, err := tx.Get([]byte("n"))
						if err != nil {
							return err
						}
						n, _ := parseInt(v)
						if len(v) == 0 {
							n = 0
						}
						if err := tx.Set([]byte("n"), fmt.Appendf(nil, "%d", n+1)); err != nil {
							return err
						}
						_, err = tx.HIncrBy([]byte("h"), []byte("f"), 1)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					if _, err := db.Incr([]byte("plain")); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, c := range [][]string{{"GET", "n"}, {"HGET", "h", "f"}, {"GET", "plain"}} {
			if r, _ := db.ExecStrings(c...); string(r.Bulk) != fmt.Sprint(workers*each) {
				t.Errorf("%v = %s, want %d", c, compact(r), workers*each)
			}
		}
	})
}

// TestViewConcurrent reads one View from many goroutines (run with -race).
func TestViewConcurrent(t *testing.T) {
	s := memkv.New()
	db := openDB(t, s, "v/")
	for i := 0; i < 20; i++ {
		db.ExecStrings("ZADD", "z", fmt.Sprint(i), fmt.Sprint("m", i))
		db.ExecStrings("SET", fmt.Sprint("k", i), "v")
	}
	v, err := OpenReadOnly(s, []byte("v/"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, _, err := v.Scan("0", ScanOptions{Count: 100}); err != nil {
					t.Error(err)
				}
				if _, err := v.ExecStrings("ZRANGEBYSCORE", "z", "5", "(10"); err != nil {
					t.Error(err)
				}
				if _, err := v.Digest(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestLastModBounded: the record of recent commits that conflict checks
// use is kept only while some other transaction could conflict with them:
// transactions one after another leave it empty, and once a long
// transaction ends the commits it alone could have met are dropped.
func TestLastModBounded(t *testing.T) {
	db := openDB(t, memkv.New(), "d")
	size := func() int { db.mu.RLock(); defer db.mu.RUnlock(); return len(db.lastMod) }
	for i := range 2_000 {
		if err := db.Update(func(tx *Tx) error { return tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
	}
	if n := size(); n != 0 {
		t.Fatalf("after 2,000 transactions one at a time, %d keys remembered", n)
	}

	// A long transaction reads "watched"; others commit 2,000 keys and
	// "watched" meanwhile: it must conflict, so those are remembered.
	hold, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.Update(func(tx *Tx) error {
			if _, _, err := tx.Get([]byte("watched")); err != nil {
				return err
			}
			close(hold)
			<-release
			return tx.Set([]byte("other"), []byte("x"))
		})
	}()
	<-hold
	for i := range 2_000 {
		if err := db.Update(func(tx *Tx) error { return tx.Set(fmt.Appendf(nil, "m%d", i), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Set([]byte("watched"), []byte("changed")); err != nil {
		t.Fatal(err)
	}
	if n := size(); n < 2_000 {
		t.Fatalf("with a transaction running, only %d keys remembered", n)
	}
	close(release)
	if err := <-errc; !errors.Is(err, ErrConflict) {
		t.Fatalf("long transaction = %v, want ErrConflict", err)
	}
	if n := size(); n != 0 {
		t.Fatalf("after the long transaction ended, %d keys remembered", n)
	}
}
