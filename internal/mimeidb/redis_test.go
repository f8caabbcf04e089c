package mimeidb

import (
	"errors"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/kv"
)

// redisStep is one command and the reply Redis gives. The expectations
// follow Redis 7.2 (RESP2, as redis-cli shows it), written from its
// documentation and source; where this package deliberately differs (SCAN
// cursors, bytewise order of hash fields and set members, which Redis
// leaves unspecified) the expectation is ours and docs/formats-db.md says
// so.
type redisStep struct {
	cmd  string // split on spaces; '' is the empty argument
	want string // compact reply (see compact); ignored when err is set
	err  error  // expected sentinel
	msg  string // if set, the exact error message
}

var redisTable = []struct {
	name  string
	steps []redisStep
}{
	{"strings", []redisStep{
		{cmd: "GET k", want: "nil"},
		{cmd: "SET k v", want: "+OK"},
		{cmd: "GET k", want: `"v"`},
		{cmd: "STRLEN k", want: ":1"},
		{cmd: "STRLEN nokey", want: ":0"},
		{cmd: "SET k v2 NX", want: "nil"},
		{cmd: "SET k2 v XX", want: "nil"},
		{cmd: "SET k v3 XX", want: "+OK"},
		{cmd: "GET k", want: `"v3"`},
		{cmd: "SET k v EX 10", err: ErrSyntax},
		{cmd: "SET k v NX XX", err: ErrSyntax},
		{cmd: "MGET k nokey k", want: `["v3" nil "v3"]`},
		{cmd: "TYPE k", want: "+string"},
		{cmd: "TYPE nokey", want: "+none"},
		{cmd: "EXISTS k k nokey", want: ":2"},
		{cmd: "DEL k nokey", want: ":1"},
		{cmd: "EXISTS k", want: ":0"},
	}},
	{"empty keys and values", []redisStep{
		{cmd: "SET '' ''", want: "+OK"},
		{cmd: "GET ''", want: `""`},
		{cmd: "EXISTS ''", want: ":1"},
		{cmd: "STRLEN ''", want: ":0"},
		{cmd: "HSET h '' ''", want: ":1"},
		{cmd: "HGET h ''", want: `""`},
		{cmd: "HGETALL h", want: `["" ""]`},
		{cmd: "RPUSH l '' x", want: ":2"},
		{cmd: "LRANGE l 0 -1", want: `["" "x"]`},
		{cmd: "SADD s ''", want: ":1"},
		{cmd: "SMEMBERS s", want: `[""]`},
		{cmd: "ZADD z 1 ''", want: ":1"},
		{cmd: "ZRANGE z 0 -1 WITHSCORES", want: `["" "1"]`},
		{cmd: "DEL '' h l s z", want: ":5"},
		{cmd: "SCAN 0", want: `["0" []]`},
	}},
	{"incr", []redisStep{
		{cmd: "INCR c", want: ":1"},
		{cmd: "INCR c", want: ":2"},
		{cmd: "INCRBY c 10", want: ":12"},
		{cmd: "INCRBY c -20", want: ":-8"},
		{cmd: "GET c", want: `"-8"`},
		{cmd: "SET m 9223372036854775807", want: "+OK"},
		{cmd: "INCR m", err: ErrOverflow, msg: "ERR increment or decrement would overflow"},
		{cmd: "GET m", want: `"9223372036854775807"`},
		{cmd: "SET m -9223372036854775808", want: "+OK"},
		{cmd: "INCRBY m -1", err: ErrOverflow},
		{cmd: "INCRBY m 9223372036854775807", want: ":-1"},
		{cmd: "SET s abc", want: "+OK"},
		{cmd: "INCR s", err: ErrNotInteger, msg: "ERR value is not an integer or out of range"},
		{cmd: "GET s", want: `"abc"`},
		{cmd: "SET s +1", want: "+OK"},
		{cmd: "INCR s", err: ErrNotInteger},
		{cmd: "SET s 01", want: "+OK"},
		{cmd: "INCR s", err: ErrNotInteger},
		{cmd: "SET s 9223372036854775808", want: "+OK"},
		{cmd: "INCR s", err: ErrNotInteger},
		{cmd: "INCRBY c abc", err: ErrNotInteger},
		{cmd: "INCRBY c 1.5", err: ErrNotInteger},
		{cmd: "HSET h f v", want: ":1"},
		{cmd: "INCR h", err: ErrWrongType},
	}},
	{"wrong types", []redisStep{
		{cmd: "RPUSH l a", want: ":1"},
		{cmd: "GET l", err: ErrWrongType, msg: "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{cmd: "STRLEN l", err: ErrWrongType},
		{cmd: "HGET l f", err: ErrWrongType},
		{cmd: "HSET l f v", err: ErrWrongType},
		{cmd: "SADD l m", err: ErrWrongType},
		{cmd: "SISMEMBER l m", err: ErrWrongType},
		{cmd: "ZADD l 1 m", err: ErrWrongType},
		{cmd: "ZRANGE l 0 -1", err: ErrWrongType},
		{cmd: "SET s v", want: "+OK"},
		{cmd: "LPUSH s a", err: ErrWrongType},
		{cmd: "LRANGE s 0 -1", err: ErrWrongType},
		{cmd: "SMEMBERS s", err: ErrWrongType},
		{cmd: "HGETALL s", err: ErrWrongType},
		{cmd: "ZSCORE s m", err: ErrWrongType},
		{cmd: "MGET s l", want: `["v" nil]`},
		{cmd: "SET l x", want: "+OK"}, // SET overwrites any type
		{cmd: "TYPE l", want: "+string"},
		{cmd: "GET l", want: `"x"`},
		{cmd: "LLEN l", err: ErrWrongType},
	}},
	{"hashes", []redisStep{
		{cmd: "HSET h f1 v1 f2 v2", want: ":2"},
		{cmd: "HSET h f1 x", want: ":0"},
		{cmd: "HSET h f", err: ErrWrongArgs, msg: "ERR wrong number of arguments for 'hset' command"},
		{cmd: "HSET h f v g", err: ErrWrongArgs},
		{cmd: "HGET h f1", want: `"x"`},
		{cmd: "HGET h nope", want: "nil"},
		{cmd: "HGET nokey f", want: "nil"},
		{cmd: "HMGET h f1 nope f2", want: `["x" nil "v2"]`},
		{cmd: "HMGET nokey a", want: `[nil]`},
		{cmd: "HLEN h", want: ":2"},
		{cmd: "HLEN nokey", want: ":0"},
		{cmd: "HKEYS h", want: `["f1" "f2"]`},
		{cmd: "HGETALL h", want: `["f1" "x" "f2" "v2"]`},
		{cmd: "HGETALL nokey", want: `[]`},
		{cmd: "TYPE h", want: "+hash"},
		{cmd: "HINCRBY h c 5", want: ":5"},
		{cmd: "HINCRBY h c -2", want: ":3"},
		{cmd: "HINCRBY h f1 1", err: ErrNotInteger, msg: "ERR hash value is not an integer"},
		{cmd: "HINCRBY h c x", err: ErrNotInteger},
		{cmd: "HSET h big 9223372036854775807", want: ":1"},
		{cmd: "HINCRBY h big 1", err: ErrOverflow},
		{cmd: "HGET h big", want: `"9223372036854775807"`},
		{cmd: "HSCAN h 0", want: `["0" ["big" "9223372036854775807" "c" "3" "f1" "x" "f2" "v2"]]`},
		{cmd: "HSCAN h 0 MATCH f* COUNT 100", want: `["0" ["f1" "x" "f2" "v2"]]`},
		{cmd: "HSCAN h 0 COUNT 2", want: `["6631" ["big" "9223372036854775807" "c" "3"]]`},
		{cmd: "HSCAN h 6631 COUNT 2", want: `["0" ["f1" "x" "f2" "v2"]]`},
		{cmd: "HSCAN nokey 0", want: `["0" []]`},
		{cmd: "HSCAN h xyz", err: ErrInvalidCursor},
		{cmd: "HDEL h f1 nope", want: ":1"},
		{cmd: "HDEL h f2 c big", want: ":3"},
		{cmd: "EXISTS h", want: ":0"}, // an emptied hash disappears
		{cmd: "TYPE h", want: "+none"},
	}},
	{"lists", []redisStep{
		{cmd: "RPUSH l a b c", want: ":3"},
		{cmd: "LPUSH l z y", want: ":5"},
		{cmd: "LRANGE l 0 -1", want: `["y" "z" "a" "b" "c"]`},
		{cmd: "LRANGE l -2 -1", want: `["b" "c"]`},
		{cmd: "LRANGE l -100 1", want: `["y" "z"]`},
		{cmd: "LRANGE l 3 100", want: `["b" "c"]`},
		{cmd: "LRANGE l -100 100", want: `["y" "z" "a" "b" "c"]`},
		{cmd: "LRANGE l 4 2", want: `[]`},
		{cmd: "LRANGE l 5 10", want: `[]`},
		{cmd: "LRANGE l -1 -2", want: `[]`},
		{cmd: "LRANGE l -100 -6", want: `[]`},
		{cmd: "LRANGE nokey 0 -1", want: `[]`},
		{cmd: "LRANGE l a 1", err: ErrNotInteger},
		{cmd: "LINDEX l 0", want: `"y"`},
		{cmd: "LINDEX l -1", want: `"c"`},
		{cmd: "LINDEX l 5", want: "nil"},
		{cmd: "LINDEX l -6", want: "nil"},
		{cmd: "LINDEX nokey 0", want: "nil"},
		{cmd: "LLEN l", want: ":5"},
		{cmd: "LLEN nokey", want: ":0"},
		{cmd: "TYPE l", want: "+list"},
		{cmd: "LSET l 0 Y", want: "+OK"},
		{cmd: "LSET l -1 C", want: "+OK"},
		{cmd: "LSET l 5 x", err: ErrIndexOutOfRange, msg: "ERR index out of range"},
		{cmd: "LSET l -6 x", err: ErrIndexOutOfRange},
		{cmd: "LSET nokey 0 x", err: ErrNoSuchKey, msg: "ERR no such key"},
		{cmd: "LPOP l", want: `"Y"`},
		{cmd: "RPOP l", want: `"C"`},
		{cmd: "LPOP l 2", want: `["z" "a"]`},
		{cmd: "LPOP l 0", want: `[]`},
		{cmd: "LPOP l -1", err: ErrNotInteger},
		{cmd: "RPOP l 5", want: `["b"]`},
		{cmd: "EXISTS l", want: ":0"},
		{cmd: "LPOP l", want: "nil"},
		{cmd: "LPOP l 1", want: "nil"},
		{cmd: "RPOP l", want: "nil"},
		{cmd: "LPOP l 1 2", err: ErrWrongArgs},
		{cmd: "RPUSH l x", want: ":1"},
		{cmd: "LRANGE l 0 -1", want: `["x"]`},
	}},
	{"sets", []redisStep{
		{cmd: "SADD s a b c a", want: ":3"},
		{cmd: "SADD s a", want: ":0"},
		{cmd: "SCARD s", want: ":3"},
		{cmd: "SCARD nokey", want: ":0"},
		{cmd: "SISMEMBER s a", want: ":1"},
		{cmd: "SISMEMBER s z", want: ":0"},
		{cmd: "SISMEMBER nokey a", want: ":0"},
		{cmd: "SMEMBERS s", want: `["a" "b" "c"]`},
		{cmd: "SMEMBERS nokey", want: `[]`},
		{cmd: "TYPE s", want: "+set"},
		{cmd: "SADD t b c d", want: ":3"},
		{cmd: "SINTER s t", want: `["b" "c"]`},
		{cmd: "SINTER s", want: `["a" "b" "c"]`},
		{cmd: "SINTER s nokey", want: `[]`},
		{cmd: "SINTER nokey s", want: `[]`},
		{cmd: "SUNION s t", want: `["a" "b" "c" "d"]`},
		{cmd: "SUNION s nokey", want: `["a" "b" "c"]`},
		{cmd: "SDIFF s t", want: `["a"]`},
		{cmd: "SDIFF t s", want: `["d"]`},
		{cmd: "SDIFF s nokey", want: `["a" "b" "c"]`},
		{cmd: "SDIFF nokey s", want: `[]`},
		{cmd: "SET str v", want: "+OK"},
		{cmd: "SINTER s str", err: ErrWrongType},
		{cmd: "SINTER nokey str", err: ErrWrongType},
		{cmd: "SUNION s str", err: ErrWrongType},
		{cmd: "SDIFF s str", err: ErrWrongType},
		{cmd: "SREM s a z", want: ":1"},
		{cmd: "SREM s b c", want: ":2"},
		{cmd: "EXISTS s", want: ":0"},
		{cmd: "SREM s b", want: ":0"},
	}},
	{"sorted sets", []redisStep{
		{cmd: "ZADD z 1 b 1 a 2 c 1 aa", want: ":4"},
		{cmd: "ZRANGE z 0 -1", want: `["a" "aa" "b" "c"]`}, // ties by member
		{cmd: "ZRANGE z 0 -1 WITHSCORES", want: `["a" "1" "aa" "1" "b" "1" "c" "2"]`},
		{cmd: "ZRANGE z -2 -1", want: `["b" "c"]`},
		{cmd: "ZRANGE z 2 100", want: `["b" "c"]`},
		{cmd: "ZRANGE z 3 1", want: `[]`},
		{cmd: "ZRANGE z 0 1 FOO", err: ErrSyntax},
		{cmd: "ZREVRANGE z 0 1", want: `["c" "b"]`},
		{cmd: "ZREVRANGE z 0 -1 WITHSCORES", want: `["c" "2" "b" "1" "aa" "1" "a" "1"]`},
		{cmd: "ZRANGE nokey 0 -1", want: `[]`},
		{cmd: "ZADD z 1.5 a", want: ":0"},
		{cmd: "ZSCORE z a", want: `"1.5"`},
		{cmd: "ZSCORE z nope", want: "nil"},
		{cmd: "ZSCORE nokey a", want: "nil"},
		{cmd: "ZRANK z aa", want: ":0"},
		{cmd: "ZRANK z a", want: ":2"},
		{cmd: "ZRANK z nope", want: "nil"},
		{cmd: "ZCARD z", want: ":4"},
		{cmd: "ZCARD nokey", want: ":0"},
		{cmd: "TYPE z", want: "+zset"},
		{cmd: "ZCOUNT z -inf +inf", want: ":4"},
		{cmd: "ZCOUNT z 1 1", want: ":2"},
		{cmd: "ZCOUNT z (1 2", want: ":2"},
		{cmd: "ZCOUNT z (1 (2", want: ":1"},
		{cmd: "ZCOUNT z 2 1", want: ":0"},
		{cmd: "ZCOUNT z abc 1", err: ErrNotFloat, msg: "ERR min or max is not a float"},
		{cmd: "ZRANGEBYSCORE z 1 1", want: `["aa" "b"]`},
		{cmd: "ZRANGEBYSCORE z (1 +inf WITHSCORES", want: `["a" "1.5" "c" "2"]`},
		{cmd: "ZRANGEBYSCORE z -inf +inf LIMIT 1 2", want: `["b" "a"]`},
		{cmd: "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 3 -1", want: `["c" "2"]`},
		{cmd: "ZRANGEBYSCORE z 3 1", want: `[]`},
		{cmd: "ZRANGEBYSCORE z 1", err: ErrWrongArgs},
		{cmd: "ZRANGEBYSCORE z 1 2 LIMIT 1", err: ErrSyntax},
		{cmd: "ZINCRBY z 2 aa", want: `"3"`},
		{cmd: "ZINCRBY z 1 new", want: `"1"`},
		{cmd: "ZINCRBY z x new", err: ErrNotFloat},
		{cmd: "ZADD z +inf x", want: ":1"},
		{cmd: "ZINCRBY z -inf x", err: ErrNaN, msg: "ERR resulting score is not a number (NaN)"},
		{cmd: "ZSCORE z x", want: `"inf"`},
		{cmd: "ZADD z nan y", err: ErrNotFloat, msg: "ERR value is not a valid float"},
		{cmd: "ZADD z abc y", err: ErrNotFloat},
		{cmd: "ZADD z 1", err: ErrWrongArgs},
		{cmd: "ZADD z 1 a 2", err: ErrSyntax},
		{cmd: "ZADD z NX 100 a", want: ":0"},
		{cmd: "ZSCORE z a", want: `"1.5"`},
		{cmd: "ZADD z XX 5 newer", want: ":0"},
		{cmd: "ZSCORE z newer", want: "nil"},
		{cmd: "ZADD z CH 7 a 1 q", want: ":2"},
		{cmd: "ZADD z NX XX 1 a", err: ErrSyntax},
		{cmd: "ZREM z a nope", want: ":1"},
		{cmd: "ZRANGE z 0 -1 WITHSCORES", want: `["b" "1" "new" "1" "q" "1" "c" "2" "aa" "3" "x" "inf"]`},
		{cmd: "ZREMRANGEBYSCORE z -inf (2", want: ":3"},
		{cmd: "ZREMRANGEBYSCORE z (2 2", want: ":0"},
		{cmd: "ZREMRANGEBYSCORE z 2 +inf", want: ":3"},
		{cmd: "EXISTS z", want: ":0"},
		{cmd: "ZADD n -1 b -1 a 0 c -2.5 d", want: ":4"},
		{cmd: "ZRANGE n 0 -1", want: `["d" "a" "b" "c"]`},
		{cmd: "ZRANGEBYSCORE n -1 0", want: `["a" "b" "c"]`},
		{cmd: "ZADD f 0.1 a 1e20 b 123456789 c 1e-5 d", want: ":4"},
		{cmd: "ZSCORE f a", want: `"0.1"`},
		{cmd: "ZSCORE f b", want: `"1e+20"`},
		{cmd: "ZSCORE f c", want: `"123456789"`},
		{cmd: "ZSCORE f d", want: `"1e-05"`},
	}},
	{"scan", []redisStep{
		{cmd: "SET a 1", want: "+OK"},
		{cmd: "HSET b f v", want: ":1"},
		{cmd: "RPUSH c x", want: ":1"},
		{cmd: "SADD ab m", want: ":1"},
		{cmd: "SCAN 0 COUNT 100", want: `["0" ["a" "ab" "b" "c"]]`},
		{cmd: "SCAN 0", want: `["0" ["a" "ab" "b" "c"]]`},
		{cmd: "SCAN 0 MATCH a*", want: `["0" ["a" "ab"]]`},
		{cmd: "SCAN 0 MATCH ? COUNT 100", want: `["0" ["a" "b" "c"]]`},
		{cmd: "SCAN 0 MATCH [^a]", want: `["0" ["b" "c"]]`},
		{cmd: "SCAN 0 COUNT 2", want: `["62" ["a" "ab"]]`},
		{cmd: "SCAN 62 COUNT 2", want: `["0" ["b" "c"]]`},
		{cmd: "SCAN zz", err: ErrInvalidCursor, msg: "ERR invalid cursor"},
		{cmd: "SCAN 0 COUNT 0", err: ErrSyntax},
		{cmd: "SCAN 0 COUNT x", err: ErrNotInteger},
		{cmd: "SCAN 0 MATCH", err: ErrSyntax},
		{cmd: "SCAN 0 FOO bar", err: ErrSyntax},
	}},
	{"command errors", []redisStep{
		{cmd: "NOSUCH a", err: ErrUnknownCommand, msg: "ERR unknown command 'NOSUCH'"},
		{cmd: "GET", err: ErrWrongArgs, msg: "ERR wrong number of arguments for 'get' command"},
		{cmd: "GET a b", err: ErrWrongArgs},
		{cmd: "get a", want: "nil"},
		{cmd: "LSET l 0", err: ErrWrongArgs},
		{cmd: "DEL", err: ErrWrongArgs},
	}},
}

func runRedisTable(t *testing.T, exec func(args ...string) (Reply, error)) {
	for _, tc := range redisTable {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range tc.steps {
				r, err := exec(append([]string{"FLUSHTAG:" + tc.name}, splitArgs(st.cmd)...)...)
				switch {
				case st.err != nil:
					if !errors.Is(err, st.err) {
						t.Errorf("%s: err = %v, want %v", st.cmd, err, st.err)
					} else if st.msg != "" && err.Error() != st.msg {
						t.Errorf("%s: message %q, want %q", st.cmd, err.Error(), st.msg)
					}
				case err != nil:
					t.Errorf("%s: unexpected error %v", st.cmd, err)
				case compact(r) != st.want:
					t.Errorf("%s = %s, want %s", st.cmd, compact(r), st.want)
				}
			}
		})
	}
}

func TestRedisBehaviour(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		dbs := map[string]*DB{}
		runRedisTable(t, func(args ...string) (Reply, error) {
			// each table group gets its own database under its own prefix
			tag := args[0]
			db := dbs[tag]
			if db == nil {
				db = openDB(t, s, "db/"+strings.TrimPrefix(tag, "FLUSHTAG:")+"/")
				dbs[tag] = db
			}
			return db.ExecStrings(args[1:]...)
		})
	})
}

// TestRedisBehaviourInTx runs the same table with every command inside its
// own Update transaction, through Tx.Exec.
func TestRedisBehaviourInTx(t *testing.T) {
	s := backends[0].open(t)
	dbs := map[string]*DB{}
	runRedisTable(t, func(args ...string) (Reply, error) {
		db := dbs[args[0]]
		if db == nil {
			db = openDB(t, s, "tx/"+args[0]+"/")
			dbs[args[0]] = db
		}
		var r Reply
		err := db.Update(func(tx *Tx) (err error) {
			r, err = tx.ExecStrings(args[1:]...)
			return err
		})
		return r, err
	})
}
