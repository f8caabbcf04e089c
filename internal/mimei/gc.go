package mimei

import (
	"context"
	"fmt"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/kv"
)

// mark calls fn for every block some MiMei needs: the files of every cur,
// and of every kept version its record, directory tree and database
// export. Versions kept for pins and references are in the version lists,
// so they are marked with them. fail decides what a walk error does: GC
// stops (a block it cannot read may hide others it must keep); Verify
// records it and goes on.
func (s *Store) mark(ctx context.Context, fn func(c cid.CID) error, fail func(what string, err error) error) error {
	metas, err := s.reg.List()
	if err != nil {
		return err
	}
	walkFile := func(what string, root cid.CID) error {
		if !root.Defined() {
			return nil
		}
		if err := filetree.Walk(ctx, s.blocks, root, fn); err != nil {
			return fail(what, err)
		}
		return nil
	}
	for _, m := range metas {
		id := m.ID
		it := s.kv.Iter(kv.IterOptions{Prefix: subKey(id, "f/")})
		var roots []Entry
		for it.Next() {
			e, err := decodeEntry("", it.Value())
			if err != nil {
				it.Close()
				return err
			}
			if !e.Dir {
				roots = append(roots, e)
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		for _, e := range roots {
			if err := walkFile(fmt.Sprintf("%s cur file %s", id, e.Root), e.Root); err != nil {
				return err
			}
		}
		ns, err := s.numbers(s.kv, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			what := fmt.Sprintf("%s version %d", id, n)
			v, c, err := s.record(ctx, id, n)
			if err != nil {
				if err := fail(what, err); err != nil {
					return err
				}
				continue
			}
			if err := fn(c); err != nil {
				return err
			}
			if v.Files.Defined() {
				if err := dirtree.Blocks(ctx, s.blocks, v.Files, fn); err != nil {
					if err := fail(what+" files", err); err != nil {
						return err
					}
				}
			}
			if err := walkFile(what+" database", v.DB); err != nil {
				return err
			}
		}
		branches, err := s.conflicts(id) // divergences are on the line
		if err != nil {
			return err
		}
		for _, b := range branches {
			data, err := s.blocks.Get(ctx, b.Record)
			var v *Version
			if err == nil {
				v, err = ParseVersion(data)
			}
			if err == nil {
				err = s.recordBlocks(ctx, v, b.Record, fn)
			}
			if err != nil {
				if err := fail(fmt.Sprintf("%s branch %d %s", id, b.Number, b.Record), err); err != nil {
					return err
				}
			}
		}
	}
	if s.opts.MarkExtra != nil {
		if err := s.opts.MarkExtra(ctx, fn); err != nil {
			return fail("blocks kept by other services", err)
		}
	}
	return nil
}

// GCReport says what a collection did.
type GCReport struct {
	Marked int
	// VersionDBs are the materialised version databases (vdb/) dropped,
	// their versions being gone, and VersionDBBytes the bytes (keys and
	// values) they held in the key-value store, which the disk gets back
	// as the store compacts.
	VersionDBs     int
	VersionDBBytes int64
	Swept          int
	SweptBytes     int64
	Compact        blockstore.CompactReport
	DiskBefore     int64
	DiskAfter      int64
}

// HoldGC keeps GC from running until release is called: a writer outside
// this package holds it while it puts blocks that only its own state
// (Options.MarkExtra) names yet, so a GC marks them or waits. Hold it
// briefly (around a put), never while calling into the Store.
func (s *Store) HoldGC() (release func()) {
	s.gc.RLock()
	return s.gc.RUnlock
}

// GC deletes every block no MiMei needs (see mark) and, if the block store
// can, compacts it so the space returns to the disk. Writers that put
// blocks wait while it runs.
func (s *Store) GC(ctx context.Context) (GCReport, error) {
	s.gc.Lock()
	defer s.gc.Unlock()
	var rep GCReport
	before, err := s.blocks.Stats(ctx)
	if err != nil {
		return rep, err
	}
	rep.DiskBefore = before.DiskBytes
	live := map[cid.CID]struct{}{}
	err = s.mark(ctx, func(c cid.CID) error {
		live[c] = struct{}{}
		return nil
	}, func(what string, err error) error {
		return fmt.Errorf("gc: cannot read %s, nothing deleted (run verify): %w", what, err)
	})
	if err != nil {
		return rep, err
	}
	rep.Marked = len(live)
	if rep.VersionDBs, rep.VersionDBBytes, err = s.sweepVDBs(ctx, live); err != nil {
		return rep, fmt.Errorf("gc: version databases: %w", err)
	}
	var dead []cid.CID
	err = s.blocks.Enumerate(ctx, func(c cid.CID, size int) error {
		if _, ok := live[c]; !ok {
			dead = append(dead, c)
			rep.SweptBytes += int64(size)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for len(dead) > 0 {
		n := min(len(dead), 4096)
		if err := s.blocks.Delete(ctx, dead[:n]...); err != nil {
			return rep, err
		}
		rep.Swept += n
		dead = dead[n:]
	}
	if err := s.blocks.Flush(ctx); err != nil {
		return rep, err
	}
	if c, ok := s.blocks.(blockstore.Compacter); ok {
		if rep.Compact, err = c.Compact(ctx, nil); err != nil {
			return rep, err
		}
	}
	after, err := s.blocks.Stats(ctx)
	if err != nil {
		return rep, err
	}
	rep.DiskAfter = after.DiskBytes
	return rep, nil
}

// VerifyReport is the block store's own check plus what the MiMei need and
// the store cannot give.
type VerifyReport struct {
	blockstore.VerifyReport
	Missing []cid.CID // needed blocks the store does not hold
	Broken  []string  // versions or trees that could not be read, with why
}

// OK reports a clean store.
func (r VerifyReport) OK() bool {
	return r.VerifyReport.OK() && len(r.Missing) == 0 && len(r.Broken) == 0
}

// Verify re-hashes every stored block (if the store can) and checks that
// every block a MiMei needs is there.
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	if v, ok := s.blocks.(blockstore.Verifier); ok {
		var err error
		if rep.VerifyReport, err = v.Verify(ctx, nil); err != nil {
			return rep, err
		}
	}
	seen := map[cid.CID]struct{}{}
	err := s.mark(ctx, func(c cid.CID) error {
		if _, ok := seen[c]; ok {
			return nil
		}
		seen[c] = struct{}{}
		ok, err := s.blocks.Has(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			rep.Missing = append(rep.Missing, c)
		}
		return nil
	}, func(what string, err error) error {
		rep.Broken = append(rep.Broken, fmt.Sprintf("%s: %v", what, err))
		return nil
	})
	return rep, err
}

// StoreStats are the block store's figures and the MiMei counts.
type StoreStats struct {
	blockstore.Stats
	MiMei, Versions int
}

// Stats reports the store's size.
func (s *Store) Stats(ctx context.Context) (StoreStats, error) {
	st, err := s.blocks.Stats(ctx)
	if err != nil {
		return StoreStats{}, err
	}
	out := StoreStats{Stats: st}
	metas, err := s.reg.List()
	if err != nil {
		return out, err
	}
	out.MiMei = len(metas)
	for _, m := range metas {
		ns, err := s.numbers(s.kv, m.ID)
		if err != nil {
			return out, err
		}
		out.Versions += len(ns)
	}
	return out, nil
}
