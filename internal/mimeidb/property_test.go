package mimeidb

import (
	"cmp"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// model is a plain-Go model of the Redis keyspace used by the property test.
type model map[string]*mval

type mval struct {
	typ  Type
	str  string
	hash map[string]string
	list []string
	set  map[string]bool
	zset map[string]float64
}

func (m model) get(k string, typ Type) (*mval, error) {
	v := m[k]
	if v != nil && v.typ != typ {
		return nil, ErrWrongType
	}
	return v, nil
}

func (m model) create(k string, typ Type) (*mval, error) {
	v, err := m.get(k, typ)
	if err != nil || v != nil {
		return v, err
	}
	v = &mval{typ: typ, hash: map[string]string{}, set: map[string]bool{}, zset: map[string]float64{}}
	m[k] = v
	return v, nil
}

// cleanup drops an emptied collection.
func (m model) cleanup(k string) {
	v := m[k]
	if v == nil {
		return
	}
	if (v.typ == TypeHash && len(v.hash) == 0) || (v.typ == TypeList && len(v.list) == 0) ||
		(v.typ == TypeSet && len(v.set) == 0) || (v.typ == TypeZSet && len(v.zset) == 0) {
		delete(m, k)
	}
}

func bulk(s string) Reply { return BulkReply([]byte(s)) }

func strs(ss []string) Reply {
	r := ArrayReply()
	r.Array = []Reply{}
	for _, s := range ss {
		r.Array = append(r.Array, bulk(s))
	}
	return r
}

func (v *mval) zsorted() []ZMember {
	var zs []ZMember
	for mb, s := range v.zset {
		zs = append(zs, ZMember{[]byte(mb), s})
	}
	slices.SortFunc(zs, func(a, b ZMember) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return cmp.Compare(string(a.Member), string(b.Member))
	})
	return zs
}

func mInt(s string) (int64, error) {
	n, ok := parseInt([]byte(s))
	if !ok {
		return 0, ErrNotInteger
	}
	return n, nil
}

// apply runs one command against the model.
func (m model) apply(a []string) (Reply, error) {
	k := a[1]
	switch a[0] {
	case "GET":
		v, err := m.get(k, TypeString)
		if err != nil || v == nil {
			return NilReply(), err
		}
		return bulk(v.str), nil
	case "SET":
		m[k] = &mval{typ: TypeString, str: a[2]}
		return OK, nil
	case "DEL", "EXISTS":
		n := 0
		for _, key := range a[1:] {
			if m[key] != nil {
				n++
				if a[0] == "DEL" {
					delete(m, key)
				}
			}
		}
		return IntReply(int64(n)), nil
	case "TYPE":
		if v := m[k]; v != nil {
			return StatusReply(v.typ.String()), nil
		}
		return StatusReply("none"), nil
	case "INCRBY":
		by, err := mInt(a[2])
		if err != nil {
			return Reply{}, err
		}
		v, err := m.get(k, TypeString)
		if err != nil {
			return Reply{}, err
		}
		var cur int64
		if v != nil {
			if cur, err = mInt(v.str); err != nil {
				return Reply{}, err
			}
		}
		r, err := addInt(cur, by)
		if err != nil {
			return Reply{}, err
		}
		m[k] = &mval{typ: TypeString, str: strconv.FormatInt(r, 10)}
		return IntReply(r), nil
	case "STRLEN":
		v, err := m.get(k, TypeString)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return IntReply(int64(len(v.str))), nil
	case "MGET":
		r := ArrayReply()
		for _, key := range a[1:] {
			if v := m[key]; v != nil && v.typ == TypeString {
				r.Array = append(r.Array, bulk(v.str))
			} else {
				r.Array = append(r.Array, NilReply())
			}
		}
		return r, nil
	case "HSET":
		v, err := m.create(k, TypeHash)
		if err != nil {
			return Reply{}, err
		}
		_, had := v.hash[a[2]]
		v.hash[a[2]] = a[3]
		return boolReply(!had), nil
	case "HGET":
		v, err := m.get(k, TypeHash)
		if err != nil || v == nil {
			return NilReply(), err
		}
		if s, ok := v.hash[a[2]]; ok {
			return bulk(s), nil
		}
		return NilReply(), nil
	case "HDEL":
		v, err := m.get(k, TypeHash)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		_, had := v.hash[a[2]]
		delete(v.hash, a[2])
		m.cleanup(k)
		return boolReply(had), nil
	case "HLEN":
		v, err := m.get(k, TypeHash)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return IntReply(int64(len(v.hash))), nil
	case "HGETALL":
		v, err := m.get(k, TypeHash)
		if err != nil {
			return Reply{}, err
		}
		var out []string
		if v != nil {
			for _, f := range slices.Sorted(maps.Keys(v.hash)) {
				out = append(out, f, v.hash[f])
			}
		}
		return strs(out), nil
	case "HINCRBY":
		by, err := mInt(a[3])
		if err != nil {
			return Reply{}, err
		}
		v, err := m.get(k, TypeHash)
		if err != nil {
			return Reply{}, err
		}
		var cur int64
		if v != nil {
			if s, ok := v.hash[a[2]]; ok {
				if cur, err = mInt(s); err != nil {
					return Reply{}, err
				}
			}
		}
		r, err := addInt(cur, by)
		if err != nil {
			return Reply{}, err
		}
		v, _ = m.create(k, TypeHash)
		v.hash[a[2]] = strconv.FormatInt(r, 10)
		return IntReply(r), nil
	case "LPUSH", "RPUSH":
		v, err := m.create(k, TypeList)
		if err != nil {
			return Reply{}, err
		}
		if a[0] == "LPUSH" {
			v.list = append([]string{a[2]}, v.list...)
		} else {
			v.list = append(v.list, a[2])
		}
		return IntReply(int64(len(v.list))), nil
	case "LPOP", "RPOP":
		v, err := m.get(k, TypeList)
		if err != nil || v == nil {
			return NilReply(), err
		}
		var s string
		if a[0] == "LPOP" {
			s, v.list = v.list[0], v.list[1:]
		} else {
			s, v.list = v.list[len(v.list)-1], v.list[:len(v.list)-1]
		}
		m.cleanup(k)
		return bulk(s), nil
	case "LRANGE":
		start, _ := mInt(a[2])
		stop, _ := mInt(a[3])
		v, err := m.get(k, TypeList)
		if err != nil || v == nil {
			return strs(nil), err
		}
		n := int64(len(v.list))
		if start < 0 {
			start = max(start+n, 0)
		}
		if stop < 0 {
			stop += n
		}
		stop = min(stop, n-1)
		if start > stop {
			return strs(nil), nil
		}
		return strs(v.list[start : stop+1]), nil
	case "LINDEX", "LSET":
		i, _ := mInt(a[2])
		v, err := m.get(k, TypeList)
		if err != nil {
			return Reply{}, err
		}
		if v == nil {
			if a[0] == "LSET" {
				return Reply{}, ErrNoSuchKey
			}
			return NilReply(), nil
		}
		if i < 0 {
			i += int64(len(v.list))
		}
		if i < 0 || i >= int64(len(v.list)) {
			if a[0] == "LSET" {
				return Reply{}, ErrIndexOutOfRange
			}
			return NilReply(), nil
		}
		if a[0] == "LSET" {
			v.list[i] = a[3]
			return OK, nil
		}
		return bulk(v.list[i]), nil
	case "LLEN":
		v, err := m.get(k, TypeList)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return IntReply(int64(len(v.list))), nil
	case "SADD":
		v, err := m.create(k, TypeSet)
		if err != nil {
			return Reply{}, err
		}
		had := v.set[a[2]]
		v.set[a[2]] = true
		return boolReply(!had), nil
	case "SREM":
		v, err := m.get(k, TypeSet)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		had := v.set[a[2]]
		delete(v.set, a[2])
		m.cleanup(k)
		return boolReply(had), nil
	case "SCARD":
		v, err := m.get(k, TypeSet)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return IntReply(int64(len(v.set))), nil
	case "SISMEMBER":
		v, err := m.get(k, TypeSet)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return boolReply(v.set[a[2]]), nil
	case "SMEMBERS", "SINTER", "SUNION", "SDIFF":
		var sets []map[string]bool
		for _, key := range a[1:] {
			v, err := m.get(key, TypeSet)
			if err != nil {
				return Reply{}, err
			}
			if v == nil {
				sets = append(sets, nil)
			} else {
				sets = append(sets, v.set)
			}
		}
		res := map[string]bool{}
		for mb := range sets[0] {
			res[mb] = true
		}
		for _, s := range sets[1:] {
			for mb := range res {
				if (a[0] == "SINTER" && !s[mb]) || (a[0] == "SDIFF" && s[mb]) {
					delete(res, mb)
				}
			}
			if a[0] == "SUNION" {
				for mb := range s {
					res[mb] = true
				}
			}
		}
		return strs(slices.Sorted(maps.Keys(res))), nil
	case "ZADD", "ZINCRBY":
		f, err := ParseFloat([]byte(a[2]))
		if err != nil {
			return Reply{}, err
		}
		v, err := m.get(k, TypeZSet)
		if err != nil {
			return Reply{}, err
		}
		old, had := 0.0, false
		if v != nil {
			old, had = v.zset[a[3]]
		}
		if a[0] == "ZINCRBY" {
			f += old
			if math.IsNaN(f) {
				return Reply{}, ErrNaN
			}
		}
		v, _ = m.create(k, TypeZSet)
		v.zset[a[3]] = f
		if a[0] == "ZINCRBY" {
			return FloatReply(f), nil
		}
		return boolReply(!had), nil
	case "ZREM":
		v, err := m.get(k, TypeZSet)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		_, had := v.zset[a[2]]
		delete(v.zset, a[2])
		m.cleanup(k)
		return boolReply(had), nil
	case "ZSCORE", "ZRANK":
		v, err := m.get(k, TypeZSet)
		if err != nil || v == nil {
			return NilReply(), err
		}
		if _, ok := v.zset[a[2]]; !ok {
			return NilReply(), nil
		}
		if a[0] == "ZSCORE" {
			return FloatReply(v.zset[a[2]]), nil
		}
		i := slices.IndexFunc(v.zsorted(), func(z ZMember) bool { return string(z.Member) == a[2] })
		return IntReply(int64(i)), nil
	case "ZCARD":
		v, err := m.get(k, TypeZSet)
		if err != nil || v == nil {
			return IntReply(0), err
		}
		return IntReply(int64(len(v.zset))), nil
	case "ZRANGE", "ZREVRANGE":
		start, _ := mInt(a[2])
		stop, _ := mInt(a[3])
		v, err := m.get(k, TypeZSet)
		if err != nil || v == nil {
			return strs(nil), err
		}
		zs := v.zsorted()
		if a[0] == "ZREVRANGE" {
			slices.Reverse(zs)
		}
		n := int64(len(zs))
		if start < 0 {
			start = max(start+n, 0)
		}
		if stop < 0 {
			stop += n
		}
		stop = min(stop, n-1)
		if start > stop {
			return strs(nil), nil
		}
		return zArray(zs[start:stop+1], len(a) == 5), nil
	case "ZCOUNT", "ZRANGEBYSCORE", "ZREMRANGEBYSCORE":
		lo, _ := ParseScoreBound([]byte(a[2]))
		hi, _ := ParseScoreBound([]byte(a[3]))
		v, err := m.get(k, TypeZSet)
		if err != nil {
			return Reply{}, err
		}
		var in []ZMember
		if v != nil {
			for _, z := range v.zsorted() {
				if lo.aboveMin(z.Score) && hi.belowMax(z.Score) {
					in = append(in, z)
				}
			}
		}
		switch a[0] {
		case "ZRANGEBYSCORE":
			return zArray(in, len(a) == 5), nil
		case "ZREMRANGEBYSCORE":
			for _, z := range in {
				delete(v.zset, string(z.Member))
			}
			m.cleanup(k)
		}
		return IntReply(int64(len(in))), nil
	case "SCAN":
		return ArrayReply(bulk("0"), strs(slices.Sorted(maps.Keys(m)))), nil
	}
	panic("model: unknown command " + a[0])
}

func genCommand(t *rapid.T) []string {
	key := rapid.SampledFrom([]string{"a", "b", "c", ""}).Draw(t, "key")
	field := rapid.SampledFrom([]string{"f", "g", "", "h\x00"}).Draw(t, "field")
	val := rapid.SampledFrom([]string{"", "1", "x", "-2", "9223372036854775807", "-9223372036854775808"}).Draw(t, "val")
	num := rapid.SampledFrom([]string{"-3", "-1", "0", "1", "2", "100", "-100", "9223372036854775807", "x"}).Draw(t, "num")
	idx := rapid.SampledFrom([]string{"-3", "-1", "0", "1", "2", "100", "-100"}).Draw(t, "idx")
	idx2 := rapid.SampledFrom([]string{"-3", "-1", "0", "1", "2", "100", "-100"}).Draw(t, "idx2")
	score := rapid.SampledFrom([]string{"-1", "0", "1", "1.5", "inf", "-inf", "2"}).Draw(t, "score")
	bound := func(l string) string {
		return rapid.SampledFrom([]string{"-inf", "+inf", "0", "1", "(1", "1.5", "(2", "-1"}).Draw(t, l)
	}
	key2 := rapid.SampledFrom([]string{"a", "b", "c", ""}).Draw(t, "key2")
	ws := rapid.Bool().Draw(t, "withscores")
	zr := func(name string) []string {
		c := []string{name, key, idx, idx2}
		if ws {
			c = append(c, "WITHSCORES")
		}
		return c
	}
	cmds := [][]string{
		{"GET", key}, {"SET", key, val}, {"DEL", key, key2}, {"EXISTS", key, key2}, {"TYPE", key},
		{"INCRBY", key, num}, {"STRLEN", key}, {"MGET", key, key2},
		{"HSET", key, field, val}, {"HGET", key, field}, {"HDEL", key, field}, {"HLEN", key},
		{"HGETALL", key}, {"HINCRBY", key, field, num},
		{"LPUSH", key, val}, {"RPUSH", key, val}, {"LPOP", key}, {"RPOP", key},
		{"LRANGE", key, idx, idx2}, {"LINDEX", key, idx}, {"LLEN", key}, {"LSET", key, idx, val},
		{"SADD", key, field}, {"SREM", key, field}, {"SCARD", key}, {"SISMEMBER", key, field},
		{"SMEMBERS", key}, {"SINTER", key, key2}, {"SUNION", key, key2}, {"SDIFF", key, key2},
		{"ZADD", key, score, field}, {"ZINCRBY", key, score, field}, {"ZREM", key, field},
		{"ZSCORE", key, field}, {"ZRANK", key, field}, {"ZCARD", key},
		zr("ZRANGE"), zr("ZREVRANGE"), {"ZCOUNT", key, bound("lo"), bound("hi")},
		{"ZRANGEBYSCORE", key, bound("lo2"), bound("hi2")}, {"ZREMRANGEBYSCORE", key, bound("lo3"), bound("hi3")},
		{"SCAN", "0", "COUNT", "1000"},
	}
	return rapid.SampledFrom(cmds).Draw(t, "cmd")
}

var sentinels = []error{ErrWrongType, ErrOverflow, ErrNotInteger, ErrNotFloat, ErrNaN, ErrNoSuchKey,
	ErrIndexOutOfRange, ErrSyntax, ErrWrongArgs}

func sentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// dumpModel renders the model as Dump would, for comparison.
func dumpCompact(db *DB) (string, error) {
	var out []Reply
	err := db.Dump(func(k []byte, typ Type, v any) error {
		out = append(out, BulkReply(k), StatusReply(typ.String()))
		switch v := v.(type) {
		case []byte:
			out = append(out, BulkReply(v))
		case [][]byte:
			out = append(out, bulkArray(v))
		case []FieldValue:
			out = append(out, fvArray(v))
		case []ZMember:
			out = append(out, zArray(v, true))
		}
		return nil
	})
	return compact(ArrayReply(out...)), err
}

func (m model) dumpCompact() string {
	var out []Reply
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		out = append(out, bulk(k), StatusReply(v.typ.String()))
		switch v.typ {
		case TypeString:
			out = append(out, bulk(v.str))
		case TypeHash:
			var fv []FieldValue
			for _, f := range slices.Sorted(maps.Keys(v.hash)) {
				fv = append(fv, FieldValue{[]byte(f), []byte(v.hash[f])})
			}
			out = append(out, fvArray(fv))
		case TypeList:
			out = append(out, strs(v.list))
		case TypeSet:
			out = append(out, strs(slices.Sorted(maps.Keys(v.set))))
		case TypeZSet:
			out = append(out, zArray(v.zsorted(), true))
		}
	}
	return compact(ArrayReply(out...))
}

func (m model) clone() model {
	c := model{}
	for k, v := range m {
		nv := *v
		nv.hash = maps.Clone(v.hash)
		nv.set = maps.Clone(v.set)
		nv.zset = maps.Clone(v.zset)
		nv.list = slices.Clone(v.list)
		c[k] = &nv
	}
	return c
}

// TestPropertyAgainstModel applies random command sequences to the
// database and to the model, comparing every reply and the final content.
// Some commands run inside Update transactions, some of which abort.
func TestPropertyAgainstModel(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			n := 0
			rapid.Check(t, func(rt *rapid.T) {
				n++
				db := openDB(t, store, "prop/"+strconv.Itoa(n)+"/")
				m := model{}
				steps := rapid.IntRange(1, 60).Draw(rt, "steps")
				for i := 0; i < steps; i++ {
					cmd := genCommand(rt)
					mode := rapid.IntRange(0, 9).Draw(rt, "mode") // 0: in tx, 1: in aborted tx, else plain
					saved := m.clone()
					want, wantErr := m.apply(cmd)
					var got Reply
					var err error
					switch mode {
					case 0, 1:
						errAbort := errors.New("abort")
						err = db.Update(func(tx *Tx) (err error) {
							got, err = tx.ExecStrings(cmd...)
							if err == nil && mode == 1 {
								return errAbort
							}
							return err
						})
						if errors.Is(err, errAbort) {
							err = nil
							m = saved
						}
					default:
						got, err = db.ExecStrings(cmd...)
					}
					if wantErr != nil || err != nil {
						if sentinel(err) != sentinel(wantErr) {
							rt.Fatalf("%q: err = %v, model %v", cmd, err, wantErr)
						}
						m = saved
						continue
					}
					if compact(got) != compact(want) {
						rt.Fatalf("%q = %s, model %s", cmd, compact(got), compact(want))
					}
				}
				got, err := dumpCompact(db)
				if err != nil {
					rt.Fatal(err)
				}
				if want := m.dumpCompact(); got != want {
					rt.Fatalf("final content\n got %s\nwant %s", got, want)
				}
				// Rebuilding the content in a fresh database gives the same digest.
				fresh := openDB(t, store, "fresh/"+strconv.Itoa(n)+"/")
				if err := db.Dump(func(k []byte, typ Type, v any) error { return restore(fresh, k, typ, v) }); err != nil {
					rt.Fatal(err)
				}
				d1, _ := db.Digest()
				d2, _ := fresh.Digest()
				if d1 != d2 {
					rt.Fatal("digest of a rebuilt copy differs")
				}
			})
		})
	}
}

// restore writes one dumped key into db.
func restore(db *DB, k []byte, typ Type, v any) error {
	var err error
	switch typ {
	case TypeString:
		err = db.Set(k, v.([]byte))
	case TypeList:
		_, err = db.RPush(k, v.([][]byte)...)
	case TypeSet:
		_, err = db.SAdd(k, v.([][]byte)...)
	case TypeHash:
		for _, fv := range v.([]FieldValue) {
			if _, err = db.HSet(k, fv.Field, fv.Value); err != nil {
				break
			}
		}
	case TypeZSet:
		_, err = db.ZAdd(k, v.([]ZMember)...)
	}
	return err
}
