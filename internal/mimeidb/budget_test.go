package mimeidb

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// setReplyBudget sets MaxReplyElements for one test (tests in this package
// do not run in parallel).
func setReplyBudget(t testing.TB, n int64) {
	old := MaxReplyElements
	MaxReplyElements = n
	t.Cleanup(func() { MaxReplyElements = old })
}

func fill(t testing.TB, db *DB, args ...string) {
	t.Helper()
	if _, err := db.ExecStrings(args...); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// numbered returns prefix0 … prefix(n-1), each preceded by pre (when pre is
// not "") so the result can follow HSET or ZADD.
func numbered(n int, pre, prefix string) []string {
	var out []string
	for i := range n {
		if pre == "#" {
			out = append(out, strconv.Itoa(i+1))
		} else if pre != "" {
			out = append(out, pre)
		}
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

func TestReplyBudget(t *testing.T) {
	setReplyBudget(t, 5)
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "b/")
		fill(t, db, append([]string{"HSET", "h"}, pairs(5)...)...)
		fill(t, db, append([]string{"HSET", "h6"}, pairs(6)...)...)
		fill(t, db, append([]string{"SADD", "s"}, numbered(5, "", "m")...)...)
		fill(t, db, append([]string{"SADD", "s6"}, numbered(6, "", "m")...)...)
		fill(t, db, append([]string{"SADD", "s3"}, numbered(3, "", "m")...)...)
		fill(t, db, append([]string{"RPUSH", "l"}, numbered(6, "", "e")...)...)
		fill(t, db, append([]string{"RPUSH", "p"}, numbered(6, "", "e")...)...)
		fill(t, db, append([]string{"ZADD", "z"}, numbered(6, "#", "m")...)...)

		tests := []struct {
			args string
			want int // elements in the reply array; -1: refused
		}{
			{"HGETALL h", 10},
			{"HGETALL h6", -1},
			{"HKEYS h", 5},
			{"HKEYS h6", -1},
			{"HGETALL missing", 0},
			{"SMEMBERS s", 5},
			{"SMEMBERS s6", -1},
			{"SINTER s s6", 5},
			{"SINTER s6 s6", -1},
			{"SINTER s6 missing", 0},
			{"SUNION s", 5},
			{"SUNION s s6", -1}, // an upper bound: the sum of the cardinalities
			{"SUNION s3 s3", 3},
			{"SDIFF s s6", 0},
			{"SDIFF s6 s", -1},
			{"LRANGE l 0 4", 5},
			{"LRANGE l 1 -1", 5},
			{"LRANGE l 0 -1", -1},
			{"LRANGE l -100 100", -1},
			{"LRANGE l 100 200", 0},
			{"ZRANGE z 0 4", 5},
			{"ZRANGE z 0 4 WITHSCORES", 10},
			{"ZRANGE z 0 -1", -1},
			{"ZREVRANGE z 1 5", 5},
			{"ZREVRANGE z 0 -1 WITHSCORES", -1},
			{"ZRANGEBYSCORE z 2 6", 5},
			{"ZRANGEBYSCORE z -inf +inf", -1},
			{"ZRANGEBYSCORE z -inf +inf LIMIT 0 5", 5},
			{"ZRANGEBYSCORE z -inf +inf LIMIT 1 -1", 5},
			{"ZRANGEBYSCORE z -inf +inf LIMIT 0 6", -1},
			{"HSCAN h6 0 COUNT 100", 10}, // COUNT is capped, not refused
			{"SSCAN s6 0 COUNT 100", 5},
			{"ZSCAN z 0 COUNT 100", 10},
			{"SCAN 0 COUNT 100", 5},
			{"LPOP p 6", -1},
			{"LLEN p", 6}, // the refused pop removed nothing
			{"RPOP p 5", 5},
		}
		for _, tc := range tests {
			t.Run(tc.args, func(t *testing.T) {
				r, err := db.ExecStrings(strings.Fields(tc.args)...)
				if tc.want < 0 {
					if !errors.Is(err, ErrReplyTooLarge) {
						t.Fatalf("err = %v, want ErrReplyTooLarge", err)
					}
					if msg := err.Error(); !strings.HasPrefix(msg, "ERR reply too large: ") || !strings.Contains(msg, "exceeds 5; use ") {
						t.Fatalf("message %q", msg)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := len(r.Array)
				if r.Kind == KindInt {
					got = int(r.Int)
				} else if len(r.Array) == 2 && r.Array[1].Kind == KindArray {
					got = len(r.Array[1].Array) // a SCAN reply: cursor, elements
				}
				if got != tc.want {
					t.Fatalf("reply %s has %d elements, want %d", compact(r), got, tc.want)
				}
			})
		}

		_, err := db.ExecStrings("HGETALL", "h6")
		if want := "ERR reply too large: HGETALL of 6 fields exceeds 5; use HSCAN"; err == nil || err.Error() != want {
			t.Errorf("HGETALL h6: %v, want %q", err, want)
		}
		// A wrong type is still reported as such, not as a large reply.
		if _, err := db.ExecStrings("HGETALL", "s6"); !errors.Is(err, ErrWrongType) {
			t.Errorf("HGETALL of a set: %v, want ErrWrongType", err)
		}
		if _, err := db.ExecStrings("SUNION", "s", "h"); !errors.Is(err, ErrWrongType) {
			t.Errorf("SUNION with a hash: %v, want ErrWrongType", err)
		}
	})
}

func pairs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "f"+strconv.Itoa(i), "v")
	}
	return out
}

// TestReplyBudgetCheap shows a refused reply is decided from the stored
// length alone: refusing HGETALL of a 2,000-field hash allocates a small,
// fixed amount, while building the reply allocates per field.
func TestReplyBudgetCheap(t *testing.T) {
	s := memkv.New()
	t.Cleanup(func() { s.Close() })
	db := openDB(t, s, "c/")
	fill(t, db, append([]string{"HSET", "h"}, pairs(2000)...)...)
	fill(t, db, append([]string{"RPUSH", "l"}, numbered(2000, "", "e")...)...)

	for _, args := range [][]string{{"HGETALL", "h"}, {"LRANGE", "l", "0", "-1"}} {
		setReplyBudget(t, 0)
		built := testing.AllocsPerRun(5, func() {
			if _, err := db.ExecStrings(args...); err != nil {
				t.Fatal(err)
			}
		})
		setReplyBudget(t, 100)
		refused := testing.AllocsPerRun(20, func() {
			if _, err := db.ExecStrings(args...); !errors.Is(err, ErrReplyTooLarge) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Logf("%v: %.0f allocations built, %.0f refused", args, built, refused)
		if built < 2000 || refused > 100 {
			t.Errorf("%v: %.0f allocations to build, %.0f to refuse; want >= 2000 and <= 100", args, built, refused)
		}
	}
}

// TestSScanZScan: paging a set and a sorted set with a small COUNT returns
// every member once, in bytewise order, with the scores for ZSCAN.
func TestSScanZScan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		db := openDB(t, s, "p/")
		fill(t, db, append([]string{"SADD", "s"}, numbered(7, "", "m")...)...)
		fill(t, db, append([]string{"ZADD", "z"}, numbered(7, "#", "m")...)...)
		for _, tc := range []struct{ cmd, want string }{
			{"SSCAN", "m0 m1 m2 m3 m4 m5 m6"},
			{"ZSCAN", "m0 1 m1 2 m2 3 m3 4 m4 5 m5 6 m6 7"},
		} {
			var got []string
			cursor := "0"
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("%s does not finish", tc.cmd)
				}
				key := map[string]string{"SSCAN": "s", "ZSCAN": "z"}[tc.cmd]
				r, err := db.ExecStrings(tc.cmd, key, cursor, "COUNT", "3")
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range r.Array[1].Array {
					if e.Kind == KindFloat {
						got = append(got, FormatFloat(e.Float))
					} else {
						got = append(got, string(e.Bulk))
					}
				}
				if cursor = string(r.Array[0].Bulk); cursor == "0" {
					break
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("%s: %q, want %q", tc.cmd, g, tc.want)
			}
		}
		if _, err := db.ExecStrings("SSCAN", "z", "0"); !errors.Is(err, ErrWrongType) {
			t.Errorf("SSCAN of a zset: %v, want ErrWrongType", err)
		}
		if r, err := db.ExecStrings("ZSCAN", "missing", "0"); err != nil || compact(r) != `["0" []]` {
			t.Errorf("ZSCAN of a missing key: %s, %v", compact(r), err)
		}
	})
}
