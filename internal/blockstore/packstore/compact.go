package packstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/fsutil"
	"github.com/peer-node/peer/internal/kv"
)

// Verify flushes, then reads every indexed block and checks its record and
// hash. Bad blocks are listed in the report.
func (s *Store) Verify(ctx context.Context, progress func(done, total int)) (blockstore.VerifyReport, error) {
	var rep blockstore.VerifyReport
	if err := s.Flush(ctx); err != nil {
		return rep, err
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if err := s.check(ctx); err != nil {
		return rep, err
	}
	total := 0
	s.smu.RLock()
	for _, p := range s.stats {
		total += int(p.count)
	}
	s.smu.RUnlock()
	done := 0
	err := s.walkIndex(ctx, func(c cid.CID, loc location) error {
		data, kind, err := s.readKind(c, loc, false, true)
		if errors.Is(err, blockstore.ErrClosed) {
			return err
		}
		if err != nil {
			if !errors.Is(err, cid.ErrIntegrity) {
				kind = blockstore.Unreadable
			}
			rep.Problems = append(rep.Problems, blockstore.Problem{CID: c, Kind: kind, Err: err.Error()})
		}
		rep.Checked++
		rep.Bytes += int64(len(data))
		done++
		if progress != nil && (done%256 == 0 || done == total) {
			progress(done, max(total, done))
		}
		return nil
	})
	if progress != nil {
		progress(done, done)
	}
	return rep, err
}

// Compact returns the space of dead records to the file system; see the
// package comment for the steps and why each is crash-safe. progress
// reports bytes of candidate packs processed.
func (s *Store) Compact(ctx context.Context, progress func(done, total int)) (blockstore.CompactReport, error) {
	var rep blockstore.CompactReport
	if err := s.check(ctx); err != nil {
		return rep, err
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	before, _, err := s.diskUsage()
	if err != nil {
		return rep, err
	}

	// Choose the packs; if the active pack is one, seal it first.
	s.wmu.Lock()
	if err := s.writable(); err != nil {
		s.wmu.Unlock()
		return rep, err
	}
	if err := s.flushLocked(); err != nil {
		s.wmu.Unlock()
		return rep, err
	}
	cands, total := s.chooseLocked()
	if slices.Contains(cands, s.activeID) {
		if err := s.rollLocked(); err != nil {
			s.wmu.Unlock()
			return rep, err
		}
	}
	s.wmu.Unlock()

	done := 0
	report := func(n int) {
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	for _, id := range cands {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		s.smu.RLock()
		st := s.stats[id]
		s.smu.RUnlock()
		if st.count > 0 && s.opts.Space != nil {
			// Rewriting copies the live records before the old pack goes:
			// that much must be free (the reserve may be used).
			if need, free := st.liveRec+compactMargin, s.opts.Space.Free(); free < need {
				// Too little room to rewrite it: give the dead records'
				// space back in place instead.
				n, err := s.punchDead(ctx, id, st.end)
				if err != nil {
					rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: rewriting it needs %d bytes free, %d are; %v", packName(id), need, free, err))
				} else {
					rep.PacksPunched++
					rep.BytesPunched += n
				}
				report(int(st.end))
				continue
			}
		}
		if st.count > 0 {
			n, b, err := s.copyLive(ctx, id, st.end, report)
			rep.BlocksCopied += n
			rep.BytesCopied += b
			if errors.Is(err, diskspace.ErrDiskFull) {
				// The disk filled up while copying: what was copied
				// stays staged (committed as moves by a later flush);
				// give the dead records' space back in place.
				if n, perr := s.punchDead(ctx, id, st.end); perr != nil {
					rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v; %v", packName(id), err, perr))
				} else {
					rep.PacksPunched++
					rep.BytesPunched += n
				}
				continue
			}
			var skip *skipError
			if errors.As(err, &skip) {
				rep.Skipped = append(rep.Skipped, skip.Error())
				continue
			}
			if err != nil {
				return rep, err
			}
			rep.PacksRewritten++
		} else {
			report(int(st.end))
		}
		if err := s.removePack(id); err != nil {
			var skip *skipError
			if errors.As(err, &skip) {
				rep.Skipped = append(rep.Skipped, skip.Error())
				continue
			}
			return rep, err
		}
		rep.PacksRemoved++
	}
	after, _, err := s.diskUsage()
	rep.BytesFreed = before - after
	return rep, err
}

// chooseLocked picks the packs to compact: every pack with no live block or
// with at least CompactThreshold dead, then, most dead first, further packs
// until the dead bytes left are at most MaxDeadFraction of the disk use
// after compaction. It returns them in ID order and the bytes to scan.
func (s *Store) chooseLocked() ([]uint32, int) {
	s.smu.RLock()
	defer s.smu.RUnlock()
	type pk struct {
		id    uint32
		ratio float64
	}
	var rest []pk
	var cands []uint32
	var disk, dead, total int64
	for id, st := range s.stats {
		// Punched dead bytes take no disk space: only the rest is worth
		// rewriting a pack for.
		rec := st.deadBytes - st.punched
		disk += st.end - st.punched
		dead += rec
		if st.deadBytes == 0 {
			continue
		}
		ratio := float64(rec) / float64(max(st.liveRec+rec, 1))
		if st.count == 0 || ratio >= s.opts.CompactThreshold {
			cands = append(cands, id)
			disk -= st.end - st.punched - st.liveRec
			dead -= rec
			total += st.end
		} else {
			rest = append(rest, pk{id, ratio})
		}
	}
	slices.SortFunc(rest, func(a, b pk) int {
		switch {
		case a.ratio > b.ratio:
			return -1
		case a.ratio < b.ratio:
			return 1
		}
		return 0
	})
	for _, p := range rest {
		if float64(dead) <= s.opts.MaxDeadFraction*float64(disk) {
			break
		}
		st := s.stats[p.id]
		cands = append(cands, p.id)
		disk -= st.end - st.punched - st.liveRec
		dead -= st.deadBytes - st.punched
		total += st.end
	}
	slices.Sort(cands)
	return cands, int(total)
}

// holeUnit is the granularity at which file systems give space back: a
// hole covers only the whole units inside the range punched.
const holeUnit = 4096

// punchDead gives the data of pack id's dead records back to the file
// system as holes, in place: what Compact does when the disk has no room to
// copy the live records elsewhere. It scans the records as copyLive does;
// a record is dead when the committed index does not point at it (only
// the committed index survives a crash, and a location once dead never
// becomes live again). Headers stay, so the pack can still be scanned and
// rewritten later; only data nothing points at is zeroed. The pack's
// punched counter is set to what its holes now cover, so punching again is
// harmless. It returns the bytes newly given back.
func (s *Store) punchDead(ctx context.Context, id uint32, end int64) (int64, error) {
	s.fmu.RLock()
	f := s.files[id]
	s.fmu.RUnlock()
	if f == nil {
		return 0, fmt.Errorf("%s: file missing", packName(id))
	}
	hdr := make([]byte, MaxRecordHeaderSize)
	var holes int64
	for off := int64(packHeaderSize); off < end; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		hn := int(min(int64(len(hdr)), end-off))
		if _, err := f.ReadAt(hdr[:hn], off); err != nil {
			return 0, fmt.Errorf("read at %d: %v", off, err)
		}
		h, err := DecodeRecordHeader(hdr[:hn])
		if err != nil {
			return 0, fmt.Errorf("record at %d: %v", off, err)
		}
		rl := int64(h.Len + h.DataLen)
		v, err := s.index.Get(blockKey(h.CID))
		live := err == nil
		if live {
			loc, derr := decodeLocation(v)
			live = derr != nil || (loc.pack == id && loc.off == off)
		} else if !errors.Is(err, kv.ErrNotFound) {
			return 0, err
		}
		from := (off + int64(h.Len) + holeUnit - 1) / holeUnit * holeUnit
		to := (off + rl) / holeUnit * holeUnit
		if !live && to > from {
			if err := punchHole(f, from, to-from); err != nil {
				return 0, fmt.Errorf("punch holes: %w", err)
			}
			holes += to - from
		}
		off += rl
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.smu.Lock()
	st, ok := s.stats[id]
	gained := holes - st.punched
	st.punched = holes
	if ok {
		s.stats[id] = st
	}
	s.smu.Unlock()
	if !ok {
		return 0, nil
	}
	if err := s.index.Set(packKey(id), st.encode()); err != nil {
		return 0, err
	}
	s.log.Info("packstore: punched out dead records (no room to rewrite the pack)", "pack", packName(id), "bytes", gained)
	return max(gained, 0), nil
}

// compactMargin is the room, besides the live records it copies, that
// rewriting a pack leaves for the index's own writes.
const compactMargin = 2 << 20

type skipError struct{ msg string }

func (e *skipError) Error() string { return e.msg }

func (s *Store) runHook(step string) error {
	if s.hook != nil {
		return s.hook(step)
	}
	return nil
}

// copyLive scans pack id up to end and appends each record that the index
// still points at to the active pack, then flushes. A record that cannot be
// read or fails its hash leaves the pack in place (skipError).
func (s *Store) copyLive(ctx context.Context, id uint32, end int64, report func(int)) (int, int64, error) {
	s.fmu.RLock()
	f := s.files[id]
	s.fmu.RUnlock()
	if f == nil {
		return 0, 0, &skipError{fmt.Sprintf("%s: file missing", packName(id))}
	}
	hdr := make([]byte, MaxRecordHeaderSize)
	data := make([]byte, blockstore.MaxBlockSize)
	var copied int
	var bytes int64
	report(packHeaderSize)
	for off := int64(packHeaderSize); off < end; {
		if err := ctx.Err(); err != nil {
			return copied, bytes, err
		}
		hn := int(min(int64(len(hdr)), end-off))
		if _, err := f.ReadAt(hdr[:hn], off); err != nil {
			return copied, bytes, &skipError{fmt.Sprintf("%s: read at %d: %v", packName(id), off, err)}
		}
		h, err := DecodeRecordHeader(hdr[:hn])
		if err != nil {
			return copied, bytes, &skipError{fmt.Sprintf("%s: record at %d: %v", packName(id), off, err)}
		}
		rl := int64(h.Len + h.DataLen)
		loc, staged, err := s.locate(h.CID)
		if err == nil && !staged && loc.pack == id && loc.off == off {
			buf := data[:h.DataLen]
			if _, err := f.ReadAt(buf, off+int64(h.Len)); err != nil && !(errors.Is(err, io.EOF) && h.DataLen == 0) {
				return copied, bytes, &skipError{fmt.Sprintf("%s: read block %s: %v", packName(id), h.CID, err)}
			}
			if err := cid.Verify(h.CID, buf); err != nil {
				return copied, bytes, &skipError{fmt.Sprintf("%s: %v", packName(id), err)}
			}
			s.wmu.Lock()
			// Still there? (Delete runs under wmu.)
			loc2, staged2, err := s.locate(h.CID)
			if err == nil && !staged2 && loc2 == loc {
				if err = s.writable(); err == nil {
					from := loc
					err = s.appendLocked(h.CID, buf, &from)
				}
				copied++
				bytes += int64(h.DataLen)
			} else if blockstore.IsNotFound(err) {
				err = nil
			}
			s.wmu.Unlock()
			if err != nil {
				return copied, bytes, err
			}
		} else if err != nil && !blockstore.IsNotFound(err) {
			return copied, bytes, err
		}
		off += rl
		report(int(rl))
	}
	if err := s.runHook("copied"); err != nil {
		return copied, bytes, err
	}
	if err := s.Flush(ctx); err != nil {
		return copied, bytes, err
	}
	return copied, bytes, s.runHook("flushed")
}

// removePack drops a pack with no live block: first its counters from the
// index (after which Open would delete the file anyway), then the file.
func (s *Store) removePack(id uint32) error {
	s.wmu.Lock()
	s.smu.RLock()
	st, ok := s.stats[id]
	s.smu.RUnlock()
	if !ok || st.count != 0 || id == s.activeID {
		s.wmu.Unlock()
		return &skipError{fmt.Sprintf("%s: still holds %d live blocks", packName(id), st.count)}
	}
	err := s.index.Delete(packKey(id))
	if err == nil {
		err = s.index.Sync()
	}
	if err == nil {
		s.smu.Lock()
		delete(s.stats, id)
		s.smu.Unlock()
	}
	s.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("packstore: unindex %s: %w", packName(id), err)
	}
	if err := s.runHook("unindexed"); err != nil {
		return err
	}
	s.fmu.Lock()
	f := s.files[id]
	delete(s.files, id)
	s.fmu.Unlock()
	if f != nil {
		f.Close()
	}
	if err := os.Remove(filepath.Join(s.dir, packName(id))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.log.Info("packstore: removed pack", "pack", packName(id))
	return fsutil.SyncDir(s.dir)
}
