package exchange

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/netport"
)

// Request says what Fetch fetches.
type Request struct {
	// MiMei names the object the blocks belong to; servers use it for
	// their access check. At most MaxMiMei bytes.
	MiMei string
	// Roots are where the walk starts.
	Roots []cid.CID
	// Links returns the children of a block, to be fetched after it. Nil:
	// blocks have no children. An error fails the fetch. Links may be
	// called from several goroutines at once, and must not keep data after
	// it returns (Fetch reuses the buffer).
	Links func(c cid.CID, data []byte) ([]cid.CID, error)
	// Progress, if set, is called after every block is done (fetched or
	// found locally), one call at a time.
	Progress func(p Progress)
	// Window is the number of blocks asked of one provider and not yet
	// answered. 0: 64; at most 1024.
	Window int
	// Timeout is how long a provider may take to answer its oldest
	// outstanding block before it is dropped. 0: 1 minute.
	Timeout time.Duration
	// Verify checks a block against its CID before it is stored. Nil:
	// cid.Verify (hash the block). A store that verifies a block itself
	// as it takes it (a sealed block opened with its key) may set a
	// cheaper check here; its Put must then fail with an error wrapping
	// cid.ErrIntegrity for a block it finds bad, which drops the provider
	// like a failed Verify. Verify may be called from several goroutines.
	Verify func(c cid.CID, data []byte) error
}

// Progress is reported while fetching.
type Progress struct {
	Done  int   // blocks done: fetched plus found locally
	Known int   // blocks seen so far (grows as links are read)
	Bytes int64 // bytes fetched from providers
}

// Result says what Fetch did.
type Result struct {
	Fetched     int                    // blocks fetched from providers
	Skipped     int                    // blocks already in the local store (their links were still walked)
	Bytes       int64                  // bytes fetched
	PerProvider map[netport.PeerID]int // blocks fetched from each provider
	Bad         int                    // blocks that did not match their CID (each dropped its provider)
}

// Default and maximum window.
const (
	defaultWindow = 64
	maxWindow     = 1024
)

// errDone is the cancel cause of a fetch that finished.
var errDone = errors.New("exchange: fetch done")

// Fetch fetches every block reachable from req.Roots through req.Links that
// local does not have, from providers, and stores each in local after
// checking it against its CID. Blocks found locally are not fetched but
// their links are followed, so calling Fetch again after an interrupted
// fetch fetches only the rest.
//
// All providers are asked at once: each has its own stream and window and
// takes work from one shared queue, so faster providers take more. A
// provider that sends a block that does not match its CID is dropped for
// this fetch and the block asked of another (Result.Bad counts these); one
// that fails or disconnects has its outstanding blocks asked of the others.
// A block that every remaining provider answered missing or denied fails
// the fetch with ErrUnavailable; running out of providers fails it with
// ErrNoProviders. On error the Result still counts what was done.
func Fetch(ctx context.Context, h netport.Network, local blockstore.Store, req Request, providers []netport.PeerID) (Result, error) {
	if len(req.MiMei) > MaxMiMei {
		return Result{}, fmt.Errorf("exchange: MiMei of %d bytes, limit %d", len(req.MiMei), MaxMiMei)
	}
	if req.Window <= 0 {
		req.Window = defaultWindow
	}
	req.Window = min(req.Window, maxWindow)
	if req.Timeout <= 0 {
		req.Timeout = time.Minute
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f := &fetcher{
		ctx: fctx, cancel: cancel, h: h, local: local, req: req,
		seen:   map[cid.CID]struct{}{},
		failed: map[cid.CID]map[netport.PeerID]uint8{},
		live:   map[netport.PeerID]bool{},
		outN:   map[netport.PeerID]int{},
		wake:   make(chan struct{}),
		res:    Result{PerProvider: map[netport.PeerID]int{}},
	}
	for _, p := range providers {
		if p != h.Self() && p != "" {
			f.live[p] = true
		}
	}
	if err := f.resolve(f.register(req.Roots)); err != nil {
		f.fail(err)
	}
	f.mu.Lock()
	if f.open > 0 && len(f.live) == 0 && fctx.Err() == nil {
		f.failLocked(fmt.Errorf("%w: %d blocks to fetch and no providers", ErrNoProviders, f.open))
	}
	if f.open == 0 {
		cancel(errDone)
	}
	var wg sync.WaitGroup
	for p := range f.live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.run(p)
		}()
	}
	f.mu.Unlock()
	<-fctx.Done()
	wg.Wait()

	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.res
	if cause := context.Cause(fctx); cause != errDone {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		return res, cause
	}
	return res, nil
}

// fetcher is the state of one Fetch.
type fetcher struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	h      netport.Network
	local  blockstore.Store
	req    Request

	mu     sync.Mutex
	seen   map[cid.CID]struct{}
	queue  []cid.CID                            // waiting for a provider
	failed map[cid.CID]map[netport.PeerID]uint8 // providers that answered missing or denied
	live   map[netport.PeerID]bool              // providers still in use
	outN   map[netport.PeerID]int               // blocks each provider was asked and had not sent, when it last took work
	open   int                                  // seen but not done: queued, outstanding or being walked
	known  int
	wake   chan struct{} // closed and replaced whenever the queue grows
	res    Result

	progMu sync.Mutex // one Progress call at a time, in order
}

// register marks the unseen CIDs of cs seen and open, and returns them.
func (f *fetcher) register(cs []cid.CID) []cid.CID {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cid.CID
	for _, c := range cs {
		if _, ok := f.seen[c]; ok {
			continue
		}
		f.seen[c] = struct{}{}
		f.open++
		f.known++
		out = append(out, c)
	}
	return out
}

// resolve walks registered CIDs: one the local store has is done and its
// children are walked; the others are queued for the providers.
func (f *fetcher) resolve(cs []cid.CID) error {
	stack := cs
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := f.ctx.Err(); err != nil {
			return err
		}
		data, ok := f.readLocal(c)
		if !ok {
			f.enqueue(c)
			continue
		}
		children, err := f.links(c, data)
		if err != nil {
			return err
		}
		stack = append(stack, f.register(children)...)
		f.done(c, "", 0)
	}
	return nil
}

// readLocal returns a block the local store has and can read; anything
// else (absent, unreadable, corrupt) is fetched.
func (f *fetcher) readLocal(c cid.CID) ([]byte, bool) {
	if has, err := f.local.Has(f.ctx, c); err != nil || !has {
		return nil, false
	}
	data, err := f.local.Get(f.ctx, c)
	return data, err == nil
}

func (f *fetcher) links(c cid.CID, data []byte) ([]cid.CID, error) {
	if f.req.Links == nil {
		return nil, nil
	}
	children, err := f.req.Links(c, data)
	if err != nil {
		return nil, fmt.Errorf("exchange: links of block %s: %w", c, err)
	}
	return children, nil
}

func (f *fetcher) enqueue(c cid.CID) {
	f.mu.Lock()
	f.queue = append(f.queue, c)
	f.wakeLocked()
	f.mu.Unlock()
}

func (f *fetcher) wakeLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// done records a finished block: fetched from p (n bytes), or found
// locally when p is empty. Its children must be registered first.
func (f *fetcher) done(c cid.CID, p netport.PeerID, n int) {
	f.mu.Lock()
	if p == "" {
		f.res.Skipped++
	} else {
		f.res.Fetched++
		f.res.Bytes += int64(n)
		f.res.PerProvider[p]++
	}
	delete(f.failed, c)
	f.open--
	if f.open == 0 {
		f.cancel(errDone)
	}
	f.mu.Unlock()
	if f.req.Progress != nil {
		f.progMu.Lock()
		f.mu.Lock()
		pr := Progress{Done: f.res.Fetched + f.res.Skipped, Known: f.known, Bytes: f.res.Bytes}
		f.mu.Unlock()
		f.req.Progress(pr)
		f.progMu.Unlock()
	}
}

func (f *fetcher) fail(err error) {
	f.mu.Lock()
	f.failLocked(err)
	f.mu.Unlock()
}

func (f *fetcher) failLocked(err error) { f.cancel(err) }

// take gives p up to n queued CIDs it has not already answered missing or
// denied, and the channel closed when more are queued. mine is how many p
// has asked and not yet read. With several providers, p takes no more than
// its fair share of the work not yet read (queued plus outstanding
// everywhere, divided by the live providers), so that the first provider
// to ask does not take a whole window of a small fetch while the others
// idle; faster providers still take more, by coming back sooner.
func (f *fetcher) take(p netport.PeerID, n, mine int) ([]cid.CID, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n = min(n, MaxWantCIDs)
	f.outN[p] = mine
	if live := len(f.live); live > 1 {
		total := len(f.queue)
		for q := range f.live {
			total += f.outN[q]
		}
		n = min(n, max((total+live-1)/live-mine, 0))
	}
	var batch, skipped []cid.CID
	i := 0
	for ; i < len(f.queue) && len(batch) < n; i++ {
		c := f.queue[i]
		if _, no := f.failed[c][p]; no {
			skipped = append(skipped, c)
			continue
		}
		batch = append(batch, c)
	}
	if len(skipped) > 0 {
		f.queue = append(skipped, f.queue[i:]...)
	} else {
		f.queue = f.queue[i:]
	}
	return batch, f.wake
}

// requeueLocked puts cs at the front of the queue.
func (f *fetcher) requeueLocked(cs []cid.CID) {
	if len(cs) == 0 {
		return
	}
	q := make([]cid.CID, 0, len(cs)+len(f.queue))
	f.queue = append(append(q, cs...), f.queue...)
	f.wakeLocked()
}

// refused records that p answered c with status (missing or denied) and
// fails the fetch if no live provider is left to ask.
func (f *fetcher) refused(p netport.PeerID, c cid.CID, status uint8) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.failed[c]
	if m == nil {
		m = map[netport.PeerID]uint8{}
		f.failed[c] = m
	}
	m[p] = status
	if !f.checkLocked(c) {
		return
	}
	f.requeueLocked([]cid.CID{c})
}

// checkLocked fails the fetch, and says false, if every live provider
// refused c.
func (f *fetcher) checkLocked(c cid.CID) bool {
	m := f.failed[c]
	for p := range f.live {
		if _, ok := m[p]; !ok {
			return true
		}
	}
	var parts []string
	for p, st := range m {
		what := "missing"
		if st == StatusDenied {
			what = "denied"
		}
		parts = append(parts, fmt.Sprintf("%s at %s", what, p))
	}
	sort.Strings(parts)
	f.failLocked(fmt.Errorf("%w: block %s: %s", ErrUnavailable, c, strings.Join(parts, ", ")))
	return false
}

// drop stops using p: its outstanding CIDs go back to the queue, and the
// fetch fails if what is left cannot be fetched.
func (f *fetcher) drop(p netport.PeerID, outstanding []cid.CID, cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, p)
	delete(f.outN, p)
	f.requeueLocked(outstanding)
	if f.ctx.Err() != nil {
		return
	}
	if len(f.live) == 0 {
		f.failLocked(fmt.Errorf("%w: %d blocks left; last provider %s: %w", ErrNoProviders, f.open, p, cause))
		return
	}
	for c := range f.failed {
		if !f.checkLocked(c) {
			return
		}
	}
}

// errBadBlock: a provider sent a block that does not match its CID.
var errBadBlock = errors.New("exchange: provider sent a block that does not match its CID")

// Per provider, blocks read from the stream are verified and stored by
// verifyWorkers goroutines, so that reading the stream overlaps hashing and
// storing. At most verifyQueue blocks wait for a worker; with the one being
// read and those being verified, a provider holds at most
// verifyQueue+verifyWorkers+1 blocks in memory besides its window.
const (
	verifyWorkers = 2
	verifyQueue   = 2
)

// fetched is a block read from a provider, to be verified and stored.
type fetched struct {
	c    cid.CID
	data []byte  // aliases *buf
	buf  *[]byte // from the buffer pool; given back once the block is done
}

// run fetches from p until the fetch ends or p is dropped.
func (f *fetcher) run(p netport.PeerID) {
	// pctx ends when the fetch ends or p is dropped; its cause is then why.
	pctx, pcancel := context.WithCancelCause(f.ctx)
	defer pcancel(nil)
	jobs := make(chan fetched, verifyQueue)
	var (
		wg     sync.WaitGroup
		lostMu sync.Mutex
		lost   []cid.CID // read from p but not stored: to be asked of others
	)
	for range verifyWorkers {
		wg.Go(func() {
			for j := range jobs {
				if !f.store(pctx, pcancel, p, j) {
					lostMu.Lock()
					lost = append(lost, j.c)
					lostMu.Unlock()
				}
			}
		})
	}
	var out []cid.CID // asked of p and not yet read, in order
	err := f.serve(pctx, p, &out, jobs)
	close(jobs)
	wg.Wait()
	if f.ctx.Err() != nil {
		return
	}
	if pctx.Err() != nil {
		err = context.Cause(pctx) // a worker dropped p
	}
	if err != nil {
		f.drop(p, append(lost, out...), err)
	}
}

// store verifies a block read from p and stores it, then walks its links.
// It says false if the block was not stored because p sent a bad block
// (this one or an earlier one) or the fetch ended.
func (f *fetcher) store(pctx context.Context, drop context.CancelCauseFunc, p netport.PeerID, j fetched) bool {
	defer putBuf(j.buf)
	if pctx.Err() != nil {
		return false
	}
	bad := func(err error) bool {
		f.mu.Lock()
		if pctx.Err() == nil { // count only the block that dropped p
			f.res.Bad++
			drop(fmt.Errorf("%w: %s: %w", errBadBlock, p, err))
		}
		f.mu.Unlock()
		return false
	}
	verify := f.req.Verify
	if verify == nil {
		verify = cid.Verify
	}
	if err := verify(j.c, j.data); err != nil {
		return bad(err)
	}
	if err := f.local.Put(f.ctx, j.c, j.data); err != nil {
		if f.req.Verify != nil && errors.Is(err, cid.ErrIntegrity) {
			return bad(err)
		}
		f.fail(fmt.Errorf("exchange: storing block %s: %w", j.c, err))
		return false
	}
	children, err := f.links(j.c, j.data)
	if err != nil {
		f.fail(err)
		return false
	}
	news := f.register(children)
	f.done(j.c, p, len(j.data))
	if err := f.resolve(news); err != nil {
		f.fail(err)
	}
	return true
}

// serve keeps p's window full from the shared queue and hands the blocks
// p sends to the workers, until pctx ends or p fails.
func (f *fetcher) serve(pctx context.Context, p netport.PeerID, out *[]cid.CID, jobs chan<- fetched) (err error) {
	var st netport.Stream
	var r *bufio.Reader
	var w *bufio.Writer
	defer func() {
		if st == nil {
			return
		}
		if err == nil && len(*out) == 0 {
			st.Close()
		} else {
			st.Reset()
		}
	}()
	// Top the window up once half of it is free (or all of it is), so
	// that Wants carry many CIDs rather than one each.
	refill := max(1, f.req.Window/2)
	for {
		var batch []cid.CID
		var wake <-chan struct{}
		if free := f.req.Window - len(*out); free >= refill || len(*out) == 0 {
			batch, wake = f.take(p, free, len(*out))
		}
		if len(batch) > 0 {
			*out = append(*out, batch...)
			if st == nil {
				st, err = f.h.NewStream(netport.AllowLimited(pctx, "exchange"), p, ProtoBlocks)
				if err != nil {
					st = nil
					return fmt.Errorf("exchange: opening stream to %s: %w", p, err)
				}
				// Unblock reads and writes when the fetch ends or p is
				// dropped.
				defer context.AfterFunc(pctx, func() { st.Reset() })()
				r = newReader(st)
				w = bufio.NewWriterSize(st, 4<<10)
			}
			want := Want{MiMei: f.req.MiMei, CIDs: make([][]byte, len(batch))}
			for i, c := range batch {
				want.CIDs[i] = c.Bytes()
			}
			st.SetWriteDeadline(time.Now().Add(f.req.Timeout))
			if err := WriteWant(w, &want); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			continue
		}
		if len(*out) == 0 {
			select {
			case <-wake:
				continue
			case <-pctx.Done():
				return nil
			}
		}
		st.SetReadDeadline(time.Now().Add(f.req.Timeout))
		blk, buf, err := readBlockFrame(r)
		if err != nil {
			return err
		}
		c := (*out)[0]
		if !bytes.Equal(blk.CID, c.Bytes()) {
			putBuf(buf)
			return fmt.Errorf("%w: %s answered %x, asked for %s", ErrMalformed, p, blk.CID, c)
		}
		if blk.Status != StatusOK {
			putBuf(buf)
			*out = (*out)[1:]
			f.refused(p, c, blk.Status)
			continue
		}
		select {
		case jobs <- fetched{c: c, data: blk.Data, buf: buf}:
			*out = (*out)[1:]
		case <-pctx.Done():
			putBuf(buf)
			return nil
		}
	}
}
