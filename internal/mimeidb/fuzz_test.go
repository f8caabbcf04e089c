package mimeidb

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/peer-node/peer/internal/kv/memkv"
)

// FuzzExec feeds random argument vectors to Exec: lines are commands,
// spaces separate arguments. It must never panic, replies must render, and
// the database must stay readable (Dump and Digest succeed).
func FuzzExec(f *testing.F) {
	for _, seed := range []string{
		"SET a 1\nINCR a\nGET a",
		"HSET h f v g w\nHSCAN h 0 MATCH [a-z]* COUNT 1",
		"RPUSH l a b c\nLRANGE l -2 100\nLSET l -1 x\nLPOP l 2",
		"ZADD z 1 a (2 b inf c\nZRANGEBYSCORE z (1 +inf WITHSCORES LIMIT 0 1\nZINCRBY z -inf c",
		"SADD s a\nSINTER s t\nSUNION s\nSDIFF s s",
		"SCAN 0 MATCH \\*[^a-\nSCAN 61",
		"DEL\nZADD z NX XX CH 1 a\nset  x",
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, inTx bool) {
		if len(data) > 4096 {
			return
		}
		db, err := Open(memkv.New(), []byte("f"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			args := bytes.Split(line, []byte(" "))
			var r Reply
			if inTx {
				err = db.Update(func(tx *Tx) (err error) {
					r, err = tx.Exec(context.Background(), args...)
					return err
				})
			} else {
				r, err = db.Exec(context.Background(), args...)
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error message")
				}
				continue
			}
			_ = r.String()
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("JSON of %v: %v", r, err)
			}
		}
		if _, err := db.Digest(); err != nil {
			t.Fatalf("Digest: %v", err)
		}
	})
}
