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
	"github.com/peer-node/peer/internal/fsutil"
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
		if st.count > 0 {
			n, b, err := s.copyLive(ctx, id, st.end, report)
			rep.BlocksCopied += n
			rep.BytesCopied += b
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
		disk += st.end
		dead += st.deadBytes
		if st.deadBytes == 0 {
			continue
		}
		ratio := float64(st.deadBytes) / float64(st.liveRec+st.deadBytes)
		if st.count == 0 || ratio >= s.opts.CompactThreshold {
			cands = append(cands, id)
			disk -= st.end - st.liveRec
			dead -= st.deadBytes
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
		disk -= st.end - st.liveRec
		dead -= st.deadBytes
		total += st.end
	}
	slices.Sort(cands)
	return cands, int(total)
}

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
