package filetree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

// Write chunks r with p, stores every leaf, node and the root through put,
// and returns the file's root CID and size.
//
// The root is a raw block for a file of zero or one chunk (the empty file is
// the empty raw block, which is stored too), else a FileRoot block. The same
// bytes with the same Params always give the same root.
//
// Write streams: memory stays bounded by three read buffers of at most
// Max+4 MiB whatever the size of r. One goroutine reads, one cuts chunks
// (handing them on without copying) while up to GOMAXPROCS workers hash and
// store them; the tree is assembled in file order on the caller's
// goroutine, which also calls progress (if non-nil) with the number of bytes
// stored so far after each chunk. On error or when ctx ends, Write stops
// reading, waits for its goroutines and returns the error; blocks already
// stored stay stored (garbage collection reclaims them).
func Write(ctx context.Context, r io.Reader, put Putter, p chunker.Params, progress func(bytes int64)) (root cid.CID, size int64, err error) {
	if err := p.Validate(); err != nil {
		return cid.Undef, 0, err
	}
	if err := ctx.Err(); err != nil {
		return cid.Undef, 0, err
	}
	// Fast path for small files: anything up to Min bytes is one chunk, so
	// it is stored as is without setting up a chunker (2×Max of buffer).
	head := headPool.Get().(*[]byte)
	defer headPool.Put(head)
	if cap(*head) < p.Min+1 {
		*head = make([]byte, p.Min+1)
	}
	h := (*head)[:p.Min+1]
	n, err := io.ReadFull(r, h)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		c := cid.Sum(cid.Raw, h[:n])
		if err := put.Put(ctx, c, h[:n]); err != nil {
			return cid.Undef, 0, fmt.Errorf("filetree: store chunk %s: %w", c, err)
		}
		if progress != nil {
			progress(int64(n))
		}
		return c, int64(n), nil
	case err != nil:
		return cid.Undef, 0, fmt.Errorf("filetree: read: %w", err)
	}
	return writeStream(ctx, io.MultiReader(&onceReader{b: h}, r), put, p, progress)
}

// headPool recycles the small-file buffers, so that importing many small
// files does not allocate one per file.
var headPool = sync.Pool{New: func() any { return new([]byte) }}

// onceReader reads b once (bytes.Reader would do, but this avoids keeping
// the pooled slice reachable after it is consumed).
type onceReader struct{ b []byte }

func (o *onceReader) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}

// job is one chunk on its way through the pipeline. buf is a sub-slice of
// seg, which the worker releases once the chunk is stored.
type job struct {
	buf  []byte
	seg  *segment
	c    cid.CID
	err  error
	done chan struct{}
}

// Segments: the reader goroutine reads the stream into large buffers, and
// chunks are handed to the workers as sub-slices of them, so chunk data is
// never copied on its way from the socket (or file) to the block store.
//
// A segment is carry+body bytes. The stream is read into the body; the
// carry area in front of it receives the tail of the previous segment that
// was too short to cut (less than Max bytes, since every cut needs Max bytes
// of look-ahead), so that every chunk lies within one segment. That tail is
// the only copy: under Max per body.
const (
	// segments bounds the segments in use by one Write: one being read, one
	// being cut, the rest waiting for their chunks to be hashed and stored.
	segments = 3
)

// firstBody and maxBody bound a segment's body. Bodies double from
// firstBody, so that a file of a few hundred KiB does not take 4 MiB
// buffers, up to maxBody. Tests lower them to cross many segments cheaply.
var (
	firstBody = 256 << 10
	maxBody   = 4 << 20
)

type segment struct {
	buf   []byte // carry+body bytes
	carry int
	n     int   // bytes read into buf[carry:]
	err   error // io.EOF: the stream ends after these bytes; else a read error
	refs  atomic.Int32
	done  func(*segment) // called when refs drops to zero
}

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.done(s)
	}
}

// segPools recycles segment buffers between Writes, one pool per size, so
// that importing many medium-sized files does not allocate (and zero) new
// buffers for each.
var segPools sync.Map // [2]int{carry, body} -> *sync.Pool

func getSegBuf(carry, body int) []byte {
	key := [2]int{carry, body}
	if p, ok := segPools.Load(key); ok {
		if b, ok := p.(*sync.Pool).Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, carry+body)
}

func putSegBuf(carry int, buf []byte) {
	key := [2]int{carry, len(buf) - carry}
	p, ok := segPools.Load(key)
	if !ok {
		p, _ = segPools.LoadOrStore(key, new(sync.Pool))
	}
	p.(*sync.Pool).Put(&buf)
}

func writeStream(ctx context.Context, r io.Reader, put Putter, p chunker.Params, progress func(int64)) (cid.CID, int64, error) {
	cutter, err := chunker.NewCutter(p)
	if err != nil {
		return cid.Undef, 0, err
	}
	carry := cutter.Max()
	workers := min(max(runtime.GOMAXPROCS(0), 1), 16)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// free holds the buffers of segments whose chunks are all stored (nil:
	// not allocated yet); its capacity bounds the segments in use. Buffers
	// are reused within this Write (no garbage per segment) and handed to
	// segPools for later Writes at the end.
	free := make(chan []byte, segments)
	for range segments {
		free <- nil
	}
	defer func() {
		for range segments {
			if b := <-free; b != nil {
				putSegBuf(carry, b)
			}
		}
	}()
	recycle := func(s *segment) {
		free <- s.buf
		s.buf = nil
	}
	filled := make(chan *segment, segments)
	jobs := make(chan *job)
	order := make(chan *job, 64)
	var readErr error // set by the producer before it closes order

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader: fill segments in stream order
		defer wg.Done()
		defer close(filled)
		for body := firstBody; ; body = min(2*body, maxBody) {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			if len(buf) != carry+body {
				if buf != nil {
					putSegBuf(carry, buf) // a smaller one from the ramp-up
				}
				buf = getSegBuf(carry, body)
			}
			s := &segment{buf: buf, carry: carry, done: recycle}
			s.refs.Store(1) // the producer's
			n, err := io.ReadFull(r, s.buf[carry:])
			s.n = n
			switch err {
			case nil:
			case io.EOF, io.ErrUnexpectedEOF:
				s.err = io.EOF
			default:
				s.err = fmt.Errorf("filetree: read: %w", err)
			}
			filled <- s // never blocks: at most `segments` exist
			if s.err != nil {
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // producer: cut segments into chunks, in file order
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		var cur *segment
		var pos, end int
		defer func() {
			if cur != nil {
				cur.release()
			}
			for s := range filled { // unblock and recycle what the reader made
				s.release()
			}
		}()
		for {
			var s *segment
			select {
			case s = <-filled:
			case <-ctx.Done():
				return
			}
			if s == nil {
				return // the reader stopped at the cancellation
			}
			if s.err != nil && s.err != io.EOF {
				readErr = s.err
				s.release()
				return
			}
			// Move the uncut tail of the previous segment in front of this
			// one's data.
			start := carry
			if cur != nil {
				tail := cur.buf[pos:end]
				start = carry - len(tail)
				copy(s.buf[start:carry], tail)
				cur.release()
			}
			cur, pos, end = s, start, carry+s.n
			final := s.err != nil
			for end-pos >= carry || (final && pos < end) {
				n := cutter.Cut(cur.buf[pos:end])
				cur.refs.Add(1) // the job's, released by the worker
				j := &job{buf: cur.buf[pos : pos+n : pos+n], seg: cur, done: make(chan struct{})}
				pos += n
				select {
				case order <- j:
				case <-ctx.Done():
					cur.release()
					return
				}
				select {
				case jobs <- j:
				case <-ctx.Done():
					cur.release()
					return
				}
			}
			if final {
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() { // workers: hash and store
			defer wg.Done()
			for j := range jobs {
				j.c = cid.Sum(cid.Raw, j.buf)
				if err := put.Put(ctx, j.c, j.buf); err != nil {
					j.err = fmt.Errorf("filetree: store chunk %s: %w", j.c, err)
				}
				j.seg.release()
				close(j.done)
			}
		}()
	}

	b := &builder{ctx: ctx, put: put, fanout: fanout}
	var total int64
	var failed error
	for j := range order {
		if failed != nil {
			continue // drain; the producer stops at the cancellation
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			failed = context.Cause(ctx)
			continue
		}
		if j.err != nil {
			failed = j.err
			cancel(failed)
			continue
		}
		if err := b.add(0, Link{CID: j.c, Size: uint64(len(j.buf))}); err != nil {
			failed = err
			cancel(failed)
			continue
		}
		total += int64(len(j.buf))
		if progress != nil {
			progress(total)
		}
	}
	wg.Wait()
	if failed == nil {
		failed = readErr
	}
	if failed == nil {
		failed = ctx.Err() // cancelled by the caller after the last chunk
	}
	if failed != nil {
		return cid.Undef, 0, failed
	}
	root, err := b.finish(p)
	if err != nil {
		return cid.Undef, 0, err
	}
	return root, total, nil
}

// builder assembles the tree bottom-up in file order: levels[0] collects
// leaf links, and whenever a level holds fanout links they become a node
// whose link goes one level up. All leaves end up at the same depth, and the
// shape depends only on the number of chunks.
type builder struct {
	ctx     context.Context
	put     Putter
	fanout  int
	levels  [][]Link
	leaves  int
	scratch []byte
}

func (b *builder) add(level int, l Link) error {
	if level == 0 {
		b.leaves++
	}
	if level >= MaxDepth {
		return fmt.Errorf("filetree: file too large: more than %d levels at fan-out %d", MaxDepth, b.fanout)
	}
	for len(b.levels) <= level {
		b.levels = append(b.levels, make([]Link, 0, b.fanout))
	}
	b.levels[level] = append(b.levels[level], l)
	if len(b.levels[level]) == b.fanout {
		return b.flush(level)
	}
	return nil
}

// flush turns the links pending at level into a node and adds its link to
// the level above.
func (b *builder) flush(level int) error {
	links := b.levels[level]
	n := Node{Children: links}
	for _, l := range links {
		n.Size += l.Size
	}
	data, err := EncodeNode(n)
	if err != nil {
		return fmt.Errorf("filetree: encode node: %w", err)
	}
	c := cid.Sum(cid.DagCBOR, data)
	if err := b.put.Put(b.ctx, c, data); err != nil {
		return fmt.Errorf("filetree: store node %s: %w", c, err)
	}
	b.levels[level] = links[:0]
	return b.add(level+1, Link{CID: c, Size: n.Size})
}

// finish flushes the partial nodes and stores the FileRoot. It is only
// called for two or more chunks (Write stores smaller files directly), but
// handles every count.
func (b *builder) finish(p chunker.Params) (cid.CID, error) {
	switch b.leaves {
	case 0:
		c := cid.Sum(cid.Raw, nil)
		return c, b.put.Put(b.ctx, c, []byte{})
	case 1:
		return b.levels[0][0].CID, nil
	}
	var top Link
	for level := 0; level < len(b.levels); level++ {
		pending := b.levels[level]
		if level == len(b.levels)-1 && len(pending) == 1 {
			top = pending[0]
			break
		}
		if len(pending) > 0 {
			if err := b.flush(level); err != nil {
				return cid.Undef, err
			}
		}
	}
	if top.CID.Prefix().Codec != cid.DagCBOR {
		return cid.Undef, errors.New("filetree: internal error: top link is not a node")
	}
	data, err := EncodeFileRoot(FileRoot{
		Algorithm: p.AlgorithmName(),
		Min:       uint32(p.Min), Avg: uint32(p.Avg), Max: uint32(p.Max),
		Root: top,
	})
	if err != nil {
		return cid.Undef, fmt.Errorf("filetree: encode root: %w", err)
	}
	if len(data) > codec.MaxRecordSize {
		return cid.Undef, errors.New("filetree: internal error: root too large")
	}
	c := cid.Sum(cid.DagCBOR, data)
	if err := b.put.Put(b.ctx, c, data); err != nil {
		return cid.Undef, fmt.Errorf("filetree: store root %s: %w", c, err)
	}
	return c, nil
}
