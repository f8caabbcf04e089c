package mimei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// Version databases.
//
// A version's database is stored as an export stream (a file in the block
// store). To read it, VersionDB materialises it once into the store's kv,
// keyed by the version record's CID:
//
//	vdb/ CID /...   the database (package mimeidb's layout), CID in its string form
//	vdbok/ CID      written last, when the load checked out: the database is whole
//
// The load streams the export element by element and commits in batches of
// about mimeidb.LoadBatchBytes, so its memory is bounded whatever the size
// of the database (docs/benchmarks.md states the budget). Requests for the
// same version share one load; it runs while at least one of them still
// waits and is cancelled when the last gives up (a client that went away).
// A cancelled, failed or crashed load leaves no marker: the next attempt
// clears the prefix and starts over. GC drops the databases of versions no
// longer held (sweepVDBs).

// maxVDBLoads is how many version databases are materialised at once;
// further loads wait (each waiter within its own context).
const maxVDBLoads = 2

const (
	vdbRoot     = "vdb/"
	vdbDoneRoot = "vdbok/"
)

func vdbPrefix(c cid.CID) []byte  { return []byte(vdbRoot + c.String() + "/") }
func vdbDoneKey(c cid.CID) []byte { return []byte(vdbDoneRoot + c.String()) }

// vdbLoad is one load in flight (or a sweep: closed set from the start).
type vdbLoad struct {
	done    chan struct{} // closed when the goroutine has finished with the prefix
	err     error         // set before done is closed
	waiters int           // requests waiting for it (guarded by Store.mu)
	closed  bool          // no request may join: cancelled, or a GC sweep (Store.mu)
	cancel  context.CancelFunc
}

// materialise makes sure the database of version v (record c) is whole
// under vdbPrefix(c), loading it if needed, or returns ctx's error when ctx
// ends first (the load goes on while other requests wait for it).
func (s *Store) materialise(ctx context.Context, v *Version, c cid.CID) error {
	key := c.String()
	for {
		if ok, err := s.kv.Has(vdbDoneKey(c)); err != nil || ok {
			return err
		}
		s.mu.Lock()
		l := s.vdbs[key]
		if l != nil && l.closed {
			// A cancelled load still winding down, or a GC sweep: wait
			// until the prefix is free, then look again.
			s.mu.Unlock()
			select {
			case <-l.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if l == nil {
			lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			l = &vdbLoad{done: make(chan struct{}), cancel: cancel}
			s.vdbs[key] = l
			go s.runLoad(lctx, l, key, v, c)
		}
		l.waiters++
		s.mu.Unlock()
		select {
		case <-l.done:
			return l.err
		case <-ctx.Done():
			s.mu.Lock()
			if l.waiters--; l.waiters == 0 && !l.closed {
				l.closed = true
				l.cancel()
			}
			s.mu.Unlock()
			return ctx.Err()
		}
	}
}

func (s *Store) runLoad(ctx context.Context, l *vdbLoad, key string, v *Version, c cid.CID) {
	err := s.loadVDB(ctx, v, c)
	l.cancel()
	s.mu.Lock()
	l.err = err
	delete(s.vdbs, key)
	close(l.done)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, context.Canceled) {
		s.opts.Logger.Warn("version database load failed", "mimei", v.MiMei, "version", v.Number, "err", err)
	}
}

// loadVDB runs one load: wait for a slot, clear what an earlier attempt
// left, stream the export in, then write the marker.
func (s *Store) loadVDB(ctx context.Context, v *Version, c cid.CID) error {
	select {
	case s.vsem <- struct{}{}:
		defer func() { <-s.vsem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if ok, err := s.kv.Has(vdbDoneKey(c)); err != nil || ok {
		return err // a load that finished just before this one began
	}
	prefix := vdbPrefix(c)
	if _, err := deletePrefix(ctx, s.kv, prefix); err != nil {
		return fmt.Errorf("version %d database: clear an earlier load: %w", v.Number, err)
	}
	r, err := s.openExport(ctx, v.DB)
	if err != nil {
		return fmt.Errorf("version %d database: %w", v.Number, err)
	}
	if _, err := mimeidb.LoadExport(ctx, growing(s.kv, s.opts.Space), prefix, r); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("version %d database: %w", v.Number, err)
	}
	return s.kv.Set(vdbDoneKey(c), []byte{1})
}

// deletePrefix deletes every key under prefix, in bounded batches, and
// returns the bytes (keys and values) it deleted.
func deletePrefix(ctx context.Context, st kv.Store, prefix []byte) (int64, error) {
	const chunk = 4096
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		it := st.Iter(kv.IterOptions{Prefix: prefix})
		var keys [][]byte
		var size int64
		for len(keys) < chunk && it.Next() {
			keys = append(keys, bytes.Clone(it.Key()))
			size += int64(len(it.Key()) + len(it.Value()))
		}
		if err := it.Close(); err != nil {
			return n, err
		}
		if len(keys) == 0 {
			return n, nil
		}
		b := st.NewBatch()
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				b.Discard()
				return n, err
			}
		}
		if err := b.Commit(); err != nil {
			return n, err
		}
		n += size
	}
}

// vdbCIDs lists the record CIDs that have something under vdb/ or vdbok/,
// skipping over each database rather than reading it.
func (s *Store) vdbCIDs() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, root := range []string{vdbRoot, vdbDoneRoot} {
		var start []byte
		for {
			it := s.kv.Iter(kv.IterOptions{Prefix: []byte(root), Start: start})
			ok := it.Next()
			var k []byte
			if ok {
				k = bytes.Clone(it.Key())
			}
			if err := it.Close(); err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			rest := string(k[len(root):])
			c, _, _ := strings.Cut(rest, "/")
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
			if root == vdbDoneRoot {
				start = append(k, 0)
			} else {
				start = kv.PrefixEnd([]byte(root + c + "/"))
			}
		}
	}
	return out, nil
}

// sweepVDBs deletes the materialised databases of records not in live (the
// records GC keeps), and returns how many went and the bytes (keys and
// values) they held. A database being loaded is
// left alone (its version was live when the load began; the next GC sees
// it again); while one is deleted, loads of the same record wait.
func (s *Store) sweepVDBs(ctx context.Context, live map[cid.CID]struct{}) (int, int64, error) {
	keys, err := s.vdbCIDs()
	if err != nil {
		return 0, 0, err
	}
	n, size := 0, int64(0)
	for _, key := range keys {
		if c, err := cid.Parse(key); err == nil {
			if _, ok := live[c]; ok {
				continue
			}
		}
		s.mu.Lock()
		if s.vdbs[key] != nil {
			s.mu.Unlock()
			continue
		}
		l := &vdbLoad{done: make(chan struct{}), closed: true}
		s.vdbs[key] = l
		s.mu.Unlock()
		// The marker goes first, so a crash midway leaves a partial
		// database without one, which a load clears.
		err := s.kv.Delete([]byte(vdbDoneRoot + key))
		if err == nil {
			var b int64
			b, err = deletePrefix(ctx, s.kv, []byte(vdbRoot+key+"/"))
			size += b
		}
		s.mu.Lock()
		delete(s.vdbs, key)
		close(l.done)
		s.mu.Unlock()
		if err != nil {
			return n, size, err
		}
		n++
	}
	return n, size, nil
}
