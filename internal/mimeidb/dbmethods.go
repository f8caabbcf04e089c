// The single-command forms of the typed Tx methods: each runs one command
// atomically (writes under the commit lock, reads under a shared lock).

package mimeidb

// HSet is the single-command form of Tx.HSet, applied atomically.
func (db *DB) HSet(key []byte, fieldsAndValues ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.HSet(key, fieldsAndValues...)
		return err
	})
	return r0, err
}

// HGet is the single-command form of Tx.HGet, applied atomically.
func (db *DB) HGet(key, field []byte) ([]byte, bool, error) {
	var r0 []byte
	var r1 bool
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.HGet(key, field)
		return err
	})
	return r0, r1, err
}

// HMGet is the single-command form of Tx.HMGet, applied atomically.
func (db *DB) HMGet(key []byte, fields ...[]byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.HMGet(key, fields...)
		return err
	})
	return r0, err
}

// HDel is the single-command form of Tx.HDel, applied atomically.
func (db *DB) HDel(key []byte, fields ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.HDel(key, fields...)
		return err
	})
	return r0, err
}

// HLen is the single-command form of Tx.HLen, applied atomically.
func (db *DB) HLen(key []byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.HLen(key)
		return err
	})
	return r0, err
}

// HGetAll is the single-command form of Tx.HGetAll, applied atomically.
func (db *DB) HGetAll(key []byte) ([]FieldValue, error) {
	var r0 []FieldValue
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.HGetAll(key)
		return err
	})
	return r0, err
}

// HKeys is the single-command form of Tx.HKeys, applied atomically.
func (db *DB) HKeys(key []byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.HKeys(key)
		return err
	})
	return r0, err
}

// HIncrBy is the single-command form of Tx.HIncrBy, applied atomically.
func (db *DB) HIncrBy(key, field []byte, n int64) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.HIncrBy(key, field, n)
		return err
	})
	return r0, err
}

// LPush is the single-command form of Tx.LPush, applied atomically.
func (db *DB) LPush(key []byte, values ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.LPush(key, values...)
		return err
	})
	return r0, err
}

// RPush is the single-command form of Tx.RPush, applied atomically.
func (db *DB) RPush(key []byte, values ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.RPush(key, values...)
		return err
	})
	return r0, err
}

// LPop is the single-command form of Tx.LPop, applied atomically.
func (db *DB) LPop(key []byte) ([]byte, bool, error) {
	var r0 []byte
	var r1 bool
	err := db.write(func(t *Tx) (err error) {
		r0, r1, err = t.LPop(key)
		return err
	})
	return r0, r1, err
}

// RPop is the single-command form of Tx.RPop, applied atomically.
func (db *DB) RPop(key []byte) ([]byte, bool, error) {
	var r0 []byte
	var r1 bool
	err := db.write(func(t *Tx) (err error) {
		r0, r1, err = t.RPop(key)
		return err
	})
	return r0, r1, err
}

// LPopCount is the single-command form of Tx.LPopCount, applied atomically.
func (db *DB) LPopCount(key []byte, count int64) ([][]byte, bool, error) {
	var r0 [][]byte
	var r1 bool
	err := db.write(func(t *Tx) (err error) {
		r0, r1, err = t.LPopCount(key, count)
		return err
	})
	return r0, r1, err
}

// RPopCount is the single-command form of Tx.RPopCount, applied atomically.
func (db *DB) RPopCount(key []byte, count int64) ([][]byte, bool, error) {
	var r0 [][]byte
	var r1 bool
	err := db.write(func(t *Tx) (err error) {
		r0, r1, err = t.RPopCount(key, count)
		return err
	})
	return r0, r1, err
}

// LLen is the single-command form of Tx.LLen, applied atomically.
func (db *DB) LLen(key []byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.LLen(key)
		return err
	})
	return r0, err
}

// LRange is the single-command form of Tx.LRange, applied atomically.
func (db *DB) LRange(key []byte, start, stop int64) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.LRange(key, start, stop)
		return err
	})
	return r0, err
}

// LIndex is the single-command form of Tx.LIndex, applied atomically.
func (db *DB) LIndex(key []byte, index int64) ([]byte, bool, error) {
	var r0 []byte
	var r1 bool
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.LIndex(key, index)
		return err
	})
	return r0, r1, err
}

// LSet is the single-command form of Tx.LSet, applied atomically.
func (db *DB) LSet(key []byte, index int64, value []byte) error {
	return db.write(func(t *Tx) error { return t.LSet(key, index, value) })
}

// Scan is the single-command form of Tx.Scan, applied atomically.
func (db *DB) Scan(cursor string, opts ScanOptions) (string, [][]byte, error) {
	var r0 string
	var r1 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.Scan(cursor, opts)
		return err
	})
	return r0, r1, err
}

// HScan is the single-command form of Tx.HScan, applied atomically.
func (db *DB) HScan(key []byte, cursor string, opts ScanOptions) (string, []FieldValue, error) {
	var r0 string
	var r1 []FieldValue
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.HScan(key, cursor, opts)
		return err
	})
	return r0, r1, err
}

// SAdd is the single-command form of Tx.SAdd, applied atomically.
func (db *DB) SAdd(key []byte, members ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.SAdd(key, members...)
		return err
	})
	return r0, err
}

// SRem is the single-command form of Tx.SRem, applied atomically.
func (db *DB) SRem(key []byte, members ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.SRem(key, members...)
		return err
	})
	return r0, err
}

// SCard is the single-command form of Tx.SCard, applied atomically.
func (db *DB) SCard(key []byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SCard(key)
		return err
	})
	return r0, err
}

// SIsMember is the single-command form of Tx.SIsMember, applied atomically.
func (db *DB) SIsMember(key, member []byte) (bool, error) {
	var r0 bool
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SIsMember(key, member)
		return err
	})
	return r0, err
}

// SMembers is the single-command form of Tx.SMembers, applied atomically.
func (db *DB) SMembers(key []byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SMembers(key)
		return err
	})
	return r0, err
}

// SInter is the single-command form of Tx.SInter, applied atomically.
func (db *DB) SInter(keys ...[]byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SInter(keys...)
		return err
	})
	return r0, err
}

// SUnion is the single-command form of Tx.SUnion, applied atomically.
func (db *DB) SUnion(keys ...[]byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SUnion(keys...)
		return err
	})
	return r0, err
}

// SDiff is the single-command form of Tx.SDiff, applied atomically.
func (db *DB) SDiff(keys ...[]byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.SDiff(keys...)
		return err
	})
	return r0, err
}

// Get is the single-command form of Tx.Get, applied atomically.
func (db *DB) Get(key []byte) ([]byte, bool, error) {
	var r0 []byte
	var r1 bool
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.Get(key)
		return err
	})
	return r0, r1, err
}

// Set is the single-command form of Tx.Set, applied atomically.
func (db *DB) Set(key, value []byte) error {
	return db.write(func(t *Tx) error { return t.Set(key, value) })
}

// Del is the single-command form of Tx.Del, applied atomically.
func (db *DB) Del(keys ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.Del(keys...)
		return err
	})
	return r0, err
}

// Exists is the single-command form of Tx.Exists, applied atomically.
func (db *DB) Exists(keys ...[]byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.Exists(keys...)
		return err
	})
	return r0, err
}

// Type is the single-command form of Tx.Type, applied atomically.
func (db *DB) Type(key []byte) (Type, error) {
	var r0 Type
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.Type(key)
		return err
	})
	return r0, err
}

// Incr is the single-command form of Tx.Incr, applied atomically.
func (db *DB) Incr(key []byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.Incr(key)
		return err
	})
	return r0, err
}

// IncrBy is the single-command form of Tx.IncrBy, applied atomically.
func (db *DB) IncrBy(key []byte, n int64) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.IncrBy(key, n)
		return err
	})
	return r0, err
}

// StrLen is the single-command form of Tx.StrLen, applied atomically.
func (db *DB) StrLen(key []byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.StrLen(key)
		return err
	})
	return r0, err
}

// MGet is the single-command form of Tx.MGet, applied atomically.
func (db *DB) MGet(keys ...[]byte) ([][]byte, error) {
	var r0 [][]byte
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.MGet(keys...)
		return err
	})
	return r0, err
}

// ZAdd is the single-command form of Tx.ZAdd, applied atomically.
func (db *DB) ZAdd(key []byte, members ...ZMember) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.ZAdd(key, members...)
		return err
	})
	return r0, err
}

// ZAddOpts is the single-command form of Tx.ZAddOpts, applied atomically.
func (db *DB) ZAddOpts(key []byte, opts ZAddOptions, members ...ZMember) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.ZAddOpts(key, opts, members...)
		return err
	})
	return r0, err
}

// ZIncrBy is the single-command form of Tx.ZIncrBy, applied atomically.
func (db *DB) ZIncrBy(key []byte, incr float64, member []byte) (float64, error) {
	var r0 float64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.ZIncrBy(key, incr, member)
		return err
	})
	return r0, err
}

// ZRem is the single-command form of Tx.ZRem, applied atomically.
func (db *DB) ZRem(key []byte, members ...[]byte) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.ZRem(key, members...)
		return err
	})
	return r0, err
}

// ZScore is the single-command form of Tx.ZScore, applied atomically.
func (db *DB) ZScore(key, member []byte) (float64, bool, error) {
	var r0 float64
	var r1 bool
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.ZScore(key, member)
		return err
	})
	return r0, r1, err
}

// ZCard is the single-command form of Tx.ZCard, applied atomically.
func (db *DB) ZCard(key []byte) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.ZCard(key)
		return err
	})
	return r0, err
}

// ZRank is the single-command form of Tx.ZRank, applied atomically.
func (db *DB) ZRank(key, member []byte) (int64, bool, error) {
	var r0 int64
	var r1 bool
	err := db.read(func(t *Tx) (err error) {
		r0, r1, err = t.ZRank(key, member)
		return err
	})
	return r0, r1, err
}

// ZRange is the single-command form of Tx.ZRange, applied atomically.
func (db *DB) ZRange(key []byte, start, stop int64) ([]ZMember, error) {
	var r0 []ZMember
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.ZRange(key, start, stop)
		return err
	})
	return r0, err
}

// ZRevRange is the single-command form of Tx.ZRevRange, applied atomically.
func (db *DB) ZRevRange(key []byte, start, stop int64) ([]ZMember, error) {
	var r0 []ZMember
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.ZRevRange(key, start, stop)
		return err
	})
	return r0, err
}

// ZRangeByScore is the single-command form of Tx.ZRangeByScore, applied atomically.
func (db *DB) ZRangeByScore(key []byte, min, max ScoreBound, offset, count int64) ([]ZMember, error) {
	var r0 []ZMember
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.ZRangeByScore(key, min, max, offset, count)
		return err
	})
	return r0, err
}

// ZCount is the single-command form of Tx.ZCount, applied atomically.
func (db *DB) ZCount(key []byte, min, max ScoreBound) (int64, error) {
	var r0 int64
	err := db.read(func(t *Tx) (err error) {
		r0, err = t.ZCount(key, min, max)
		return err
	})
	return r0, err
}

// ZRemRangeByScore is the single-command form of Tx.ZRemRangeByScore, applied atomically.
func (db *DB) ZRemRangeByScore(key []byte, min, max ScoreBound) (int64, error) {
	var r0 int64
	err := db.write(func(t *Tx) (err error) {
		r0, err = t.ZRemRangeByScore(key, min, max)
		return err
	})
	return r0, err
}
