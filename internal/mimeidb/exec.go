package mimeidb

import (
	"bytes"
	"context"
	"strings"
)

// command describes one command: Redis' arity convention (the name counts;
// negative means "at least"), whether it writes, and its implementation.
type command struct {
	arity int
	write bool
	run   func(t *Tx, a [][]byte) (Reply, error)
}

var commands map[string]command

func init() {
	commands = map[string]command{
		// keys and strings
		"get":    {2, false, func(t *Tx, a [][]byte) (Reply, error) { return optBulk(t.Get(a[1])) }},
		"set":    {-3, true, cmdSet},
		"del":    {-2, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.Del(a[1:]...)) }},
		"exists": {-2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.Exists(a[1:]...)) }},
		"type": {2, false, func(t *Tx, a [][]byte) (Reply, error) {
			typ, err := t.Type(a[1])
			return StatusReply(typ.String()), err
		}},
		"incr": {2, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.Incr(a[1])) }},
		"incrby": {3, true, func(t *Tx, a [][]byte) (Reply, error) {
			n, err := argInt(a[2])
			if err != nil {
				return Reply{}, err
			}
			return intReply(t.IncrBy(a[1], n))
		}},
		"strlen": {2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.StrLen(a[1])) }},
		"mget": {-2, false, func(t *Tx, a [][]byte) (Reply, error) {
			vs, err := t.MGet(a[1:]...)
			return bulkArray(vs), err
		}},
		"scan": {-2, false, cmdScan},

		// hashes
		"hset": {-4, true, func(t *Tx, a [][]byte) (Reply, error) {
			if len(a)%2 != 0 {
				return Reply{}, wrongArgs("hset")
			}
			return intReply(t.HSet(a[1], a[2:]...))
		}},
		"hget": {3, false, func(t *Tx, a [][]byte) (Reply, error) { return optBulk(t.HGet(a[1], a[2])) }},
		"hmget": {-3, false, func(t *Tx, a [][]byte) (Reply, error) {
			vs, err := t.HMGet(a[1], a[2:]...)
			return bulkArray(vs), err
		}},
		"hdel": {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.HDel(a[1], a[2:]...)) }},
		"hlen": {2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.HLen(a[1])) }},
		"hkeys": {2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetWhole(t, "hkeys", a[1], TypeHash, "fields", "HSCAN"); err != nil {
				return Reply{}, err
			}
			ks, err := t.HKeys(a[1])
			return bulkArray(ks), err
		}},
		"hgetall": {2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetWhole(t, "hgetall", a[1], TypeHash, "fields", "HSCAN"); err != nil {
				return Reply{}, err
			}
			fvs, err := t.HGetAll(a[1])
			return fvArray(fvs), err
		}},
		"hincrby": {4, true, func(t *Tx, a [][]byte) (Reply, error) {
			n, err := argInt(a[3])
			if err != nil {
				return Reply{}, err
			}
			return intReply(t.HIncrBy(a[1], a[2], n))
		}},
		"hscan": {-3, false, cmdHScan},
		"sscan": {-3, false, cmdSScan},
		"zscan": {-3, false, cmdZScan},

		// lists
		"lpush": {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.LPush(a[1], a[2:]...)) }},
		"rpush": {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.RPush(a[1], a[2:]...)) }},
		"lpop":  {-2, true, func(t *Tx, a [][]byte) (Reply, error) { return cmdPop(t, a, true) }},
		"rpop":  {-2, true, func(t *Tx, a [][]byte) (Reply, error) { return cmdPop(t, a, false) }},
		"lrange": {4, false, func(t *Tx, a [][]byte) (Reply, error) {
			start, stop, err := argInt2(a[2], a[3])
			if err != nil {
				return Reply{}, err
			}
			if err := budgetRange(t, "lrange", a[1], TypeList, start, stop, "elements", "a smaller range"); err != nil {
				return Reply{}, err
			}
			vs, err := t.LRange(a[1], start, stop)
			return bulkArray(vs), err
		}},
		"lindex": {3, false, func(t *Tx, a [][]byte) (Reply, error) {
			i, err := argInt(a[2])
			if err != nil {
				return Reply{}, err
			}
			return optBulk(t.LIndex(a[1], i))
		}},
		"llen": {2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.LLen(a[1])) }},
		"lset": {4, true, func(t *Tx, a [][]byte) (Reply, error) {
			i, err := argInt(a[2])
			if err != nil {
				return Reply{}, err
			}
			return OK, t.LSet(a[1], i, a[3])
		}},

		// sets
		"sadd":  {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.SAdd(a[1], a[2:]...)) }},
		"srem":  {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.SRem(a[1], a[2:]...)) }},
		"scard": {2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.SCard(a[1])) }},
		"smembers": {2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetWhole(t, "smembers", a[1], TypeSet, "members", "SSCAN"); err != nil {
				return Reply{}, err
			}
			vs, err := t.SMembers(a[1])
			return bulkArray(vs), err
		}},
		"sismember": {3, false, func(t *Tx, a [][]byte) (Reply, error) {
			ok, err := t.SIsMember(a[1], a[2])
			return boolReply(ok), err
		}},
		"sinter": {-2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetSets(t, "sinter", a[1:]); err != nil {
				return Reply{}, err
			}
			vs, err := t.SInter(a[1:]...)
			return bulkArray(vs), err
		}},
		"sunion": {-2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetSets(t, "sunion", a[1:]); err != nil {
				return Reply{}, err
			}
			vs, err := t.SUnion(a[1:]...)
			return bulkArray(vs), err
		}},
		"sdiff": {-2, false, func(t *Tx, a [][]byte) (Reply, error) {
			if err := budgetSets(t, "sdiff", a[1:]); err != nil {
				return Reply{}, err
			}
			vs, err := t.SDiff(a[1:]...)
			return bulkArray(vs), err
		}},

		// sorted sets
		"zadd": {-4, true, cmdZAdd},
		"zrem": {-3, true, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.ZRem(a[1], a[2:]...)) }},
		"zscore": {3, false, func(t *Tx, a [][]byte) (Reply, error) {
			f, ok, err := t.ZScore(a[1], a[2])
			if err != nil || !ok {
				return NilReply(), err
			}
			return FloatReply(f), nil
		}},
		"zrank": {3, false, func(t *Tx, a [][]byte) (Reply, error) {
			r, ok, err := t.ZRank(a[1], a[2])
			if err != nil || !ok {
				return NilReply(), err
			}
			return IntReply(r), nil
		}},
		"zcard": {2, false, func(t *Tx, a [][]byte) (Reply, error) { return intReply(t.ZCard(a[1])) }},
		"zcount": {4, false, func(t *Tx, a [][]byte) (Reply, error) {
			min, max, err := argBounds(a[2], a[3])
			if err != nil {
				return Reply{}, err
			}
			return intReply(t.ZCount(a[1], min, max))
		}},
		"zrange":        {-4, false, func(t *Tx, a [][]byte) (Reply, error) { return cmdZRange(t, a, false) }},
		"zrevrange":     {-4, false, func(t *Tx, a [][]byte) (Reply, error) { return cmdZRange(t, a, true) }},
		"zrangebyscore": {-4, false, cmdZRangeByScore},
		"zincrby": {4, true, func(t *Tx, a [][]byte) (Reply, error) {
			incr, err := ParseFloat(a[2])
			if err != nil {
				return Reply{}, err
			}
			f, err := t.ZIncrBy(a[1], incr, a[3])
			if err != nil {
				return Reply{}, err
			}
			return FloatReply(f), nil
		}},
		"zremrangebyscore": {4, true, func(t *Tx, a [][]byte) (Reply, error) {
			min, max, err := argBounds(a[2], a[3])
			if err != nil {
				return Reply{}, err
			}
			return intReply(t.ZRemRangeByScore(a[1], min, max))
		}},
	}
}

// IsWrite reports whether the named command changes the database; ok is
// false for unknown commands.
func IsWrite(name string) (write, ok bool) {
	c, ok := commands[strings.ToLower(name)]
	return c.write, ok
}

func lookupCommand(args [][]byte) (command, error) {
	if len(args) == 0 {
		return command{}, unknownCommand("")
	}
	name := strings.ToLower(string(args[0]))
	c, ok := commands[name]
	if !ok {
		return command{}, unknownCommand(string(args[0]))
	}
	if (c.arity > 0 && len(args) != c.arity) || (c.arity < 0 && len(args) < -c.arity) {
		return command{}, wrongArgs(name)
	}
	return c, nil
}

// Exec runs one command, given as a Redis argument vector (the command name
// first, case-insensitive), atomically.
func (db *DB) Exec(ctx context.Context, args ...[]byte) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, err
	}
	c, err := lookupCommand(args)
	if err != nil {
		return Reply{}, err
	}
	var r Reply
	run := func(t *Tx) (err error) {
		r, err = c.run(t, args)
		return err
	}
	if c.write {
		err = db.write(run)
	} else {
		err = db.read(run)
	}
	if err != nil {
		return Reply{}, err
	}
	return r, nil
}

// ExecStrings is Exec with string arguments.
func (db *DB) ExecStrings(args ...string) (Reply, error) {
	return db.Exec(context.Background(), stringArgs(args)...)
}

// Exec runs one command inside the transaction (or on the view).
func (t *Tx) Exec(ctx context.Context, args ...[]byte) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, err
	}
	c, err := lookupCommand(args)
	if err != nil {
		return Reply{}, err
	}
	if err := t.check(c.write); err != nil {
		return Reply{}, err
	}
	r, err := c.run(t, args)
	if err != nil {
		return Reply{}, err
	}
	return r, nil
}

// ExecStrings is Exec with string arguments.
func (t *Tx) ExecStrings(args ...string) (Reply, error) {
	return t.Exec(context.Background(), stringArgs(args)...)
}

func stringArgs(args []string) [][]byte {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return b
}

func intReply(n int64, err error) (Reply, error) { return IntReply(n), err }

func boolReply(ok bool) Reply {
	if ok {
		return IntReply(1)
	}
	return IntReply(0)
}

func optBulk(v []byte, ok bool, err error) (Reply, error) {
	if err != nil || !ok {
		return NilReply(), err
	}
	return BulkReply(v), nil
}

func fvArray(fvs []FieldValue) Reply {
	r := Reply{Kind: KindArray, Array: make([]Reply, 0, 2*len(fvs))}
	for _, fv := range fvs {
		r.Array = append(r.Array, BulkReply(fv.Field), BulkReply(fv.Value))
	}
	return r
}

func zArray(zs []ZMember, withScores bool) Reply {
	r := Reply{Kind: KindArray, Array: make([]Reply, 0, len(zs))}
	for _, z := range zs {
		r.Array = append(r.Array, BulkReply(z.Member))
		if withScores {
			r.Array = append(r.Array, FloatReply(z.Score))
		}
	}
	return r
}

func argInt(b []byte) (int64, error) {
	n, ok := parseInt(b)
	if !ok {
		return 0, ErrNotInteger
	}
	return n, nil
}

func argInt2(a, b []byte) (int64, int64, error) {
	x, err := argInt(a)
	if err != nil {
		return 0, 0, err
	}
	y, err := argInt(b)
	return x, y, err
}

func argBounds(a, b []byte) (ScoreBound, ScoreBound, error) {
	min, err := ParseScoreBound(a)
	if err != nil {
		return min, min, err
	}
	max, err := ParseScoreBound(b)
	return min, max, err
}

func is(a []byte, word string) bool { return strings.EqualFold(string(a), word) }

// SET key value [NX|XX]
func cmdSet(t *Tx, a [][]byte) (Reply, error) {
	var nx, xx bool
	for _, o := range a[3:] {
		switch {
		case is(o, "nx") && !xx:
			nx = true
		case is(o, "xx") && !nx:
			xx = true
		default:
			return Reply{}, ErrSyntax
		}
	}
	if nx || xx {
		n, err := t.Exists(a[1])
		if err != nil {
			return Reply{}, err
		}
		if (nx && n > 0) || (xx && n == 0) {
			return NilReply(), nil
		}
	}
	return OK, t.Set(a[1], a[2])
}

// parseScanOpts parses [MATCH pattern] [COUNT n].
func parseScanOpts(a [][]byte) (ScanOptions, error) {
	var o ScanOptions
	for i := 0; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return o, ErrSyntax
		}
		switch {
		case is(a[i], "match"):
			o.Match = bytes.Clone(a[i+1])
			if o.Match == nil {
				o.Match = []byte{}
			}
		case is(a[i], "count"):
			n, err := argInt(a[i+1])
			if err != nil {
				return o, err
			}
			if n < 1 {
				return o, ErrSyntax
			}
			o.Count = int(min(n, 1<<30))
		default:
			return o, ErrSyntax
		}
	}
	return o, nil
}

func cmdScan(t *Tx, a [][]byte) (Reply, error) {
	if _, err := decodeCursor(string(a[1])); err != nil {
		return Reply{}, err
	}
	o, err := parseScanOpts(a[2:])
	if err != nil {
		return Reply{}, err
	}
	next, keys, err := t.Scan(string(a[1]), o)
	if err != nil {
		return Reply{}, err
	}
	return ArrayReply(BulkReply([]byte(next)), bulkArray(keys)), nil
}

func cmdHScan(t *Tx, a [][]byte) (Reply, error) {
	if _, err := decodeCursor(string(a[2])); err != nil {
		return Reply{}, err
	}
	o, err := parseScanOpts(a[3:])
	if err != nil {
		return Reply{}, err
	}
	next, fvs, err := t.HScan(a[1], string(a[2]), o)
	if err != nil {
		return Reply{}, err
	}
	return ArrayReply(BulkReply([]byte(next)), fvArray(fvs)), nil
}

// LPOP/RPOP key [count]
func cmdPop(t *Tx, a [][]byte, left bool) (Reply, error) {
	if len(a) > 3 {
		return Reply{}, wrongArgs(string(bytes.ToLower(a[0])))
	}
	if len(a) == 2 {
		vs, ok, err := t.pop(a[1], left, 1)
		if err != nil || !ok || len(vs) == 0 {
			return NilReply(), err
		}
		return BulkReply(vs[0]), nil
	}
	n, err := argInt(a[2])
	if err != nil || n < 0 {
		return Reply{}, errNotPositive
	}
	name := "rpop"
	if left {
		name = "lpop"
	}
	if n > 0 {
		if err := budgetRange(t, name, a[1], TypeList, 0, n-1, "elements", "a smaller count"); err != nil {
			return Reply{}, err
		}
	}
	vs, ok, err := t.pop(a[1], left, n)
	if err != nil || !ok {
		return NilReply(), err
	}
	return bulkArray(vs), nil
}

// ZADD key [NX|XX] [CH] score member [score member ...]
func cmdZAdd(t *Tx, a [][]byte) (Reply, error) {
	var o ZAddOptions
	i := 2
	for ; i < len(a); i++ {
		switch {
		case is(a[i], "nx"):
			o.NX = true
		case is(a[i], "xx"):
			o.XX = true
		case is(a[i], "ch"):
			o.CH = true
		default:
			goto pairs
		}
	}
pairs:
	rest := a[i:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		return Reply{}, ErrSyntax
	}
	if o.NX && o.XX {
		return Reply{}, errNXXX
	}
	zs := make([]ZMember, 0, len(rest)/2)
	for j := 0; j < len(rest); j += 2 {
		f, err := ParseFloat(rest[j])
		if err != nil {
			return Reply{}, err
		}
		zs = append(zs, ZMember{Member: rest[j+1], Score: f})
	}
	return intReply(t.ZAddOpts(a[1], o, zs...))
}

// ZRANGE/ZREVRANGE key start stop [WITHSCORES]
func cmdZRange(t *Tx, a [][]byte, reverse bool) (Reply, error) {
	withScores := false
	if len(a) == 5 && is(a[4], "withscores") {
		withScores = true
	} else if len(a) != 4 {
		return Reply{}, ErrSyntax
	}
	start, stop, err := argInt2(a[2], a[3])
	if err != nil {
		return Reply{}, err
	}
	cmd := "zrange"
	if reverse {
		cmd = "zrevrange"
	}
	if err := budgetRange(t, cmd, a[1], TypeZSet, start, stop, "members", "ZSCAN or a smaller range"); err != nil {
		return Reply{}, err
	}
	zs, err := t.zrangeIdx(a[1], start, stop, reverse)
	return zArray(zs, withScores), err
}

// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
func cmdZRangeByScore(t *Tx, a [][]byte) (Reply, error) {
	min, max, err := argBounds(a[2], a[3])
	if err != nil {
		return Reply{}, err
	}
	withScores := false
	offset, count := int64(0), int64(-1)
	for i := 4; i < len(a); i++ {
		switch {
		case is(a[i], "withscores"):
			withScores = true
		case is(a[i], "limit") && i+2 < len(a):
			if offset, count, err = argInt2(a[i+1], a[i+2]); err != nil {
				return Reply{}, err
			}
			i += 2
		default:
			return Reply{}, ErrSyntax
		}
	}
	if err := budgetByScore(t, a[1], min, max, offset, count); err != nil {
		return Reply{}, err
	}
	zs, err := t.ZRangeByScore(a[1], min, max, offset, count)
	return zArray(zs, withScores), err
}

func cmdSScan(t *Tx, a [][]byte) (Reply, error) {
	if _, err := decodeCursor(string(a[2])); err != nil {
		return Reply{}, err
	}
	o, err := parseScanOpts(a[3:])
	if err != nil {
		return Reply{}, err
	}
	next, ms, err := t.SScan(a[1], string(a[2]), o)
	if err != nil {
		return Reply{}, err
	}
	return ArrayReply(BulkReply([]byte(next)), bulkArray(ms)), nil
}

func cmdZScan(t *Tx, a [][]byte) (Reply, error) {
	if _, err := decodeCursor(string(a[2])); err != nil {
		return Reply{}, err
	}
	o, err := parseScanOpts(a[3:])
	if err != nil {
		return Reply{}, err
	}
	next, zs, err := t.ZScan(a[1], string(a[2]), o)
	if err != nil {
		return Reply{}, err
	}
	return ArrayReply(BulkReply([]byte(next)), zArray(zs, true)), nil
}
