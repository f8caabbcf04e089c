package share

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/bufpool"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// CheckCatalog checks that a catalog received for id is about id and
// consistent: its spec derives id, its rights name a valid owner who is
// the author, and every head is for id.
func CheckCatalog(c *Catalog, id mimei.ID) (mimei.Spec, mimei.Rights, error) {
	spec := mimei.Spec{Author: c.Author, AppType: c.AppType, Ext: c.Ext, Mark: c.Mark}
	got, err := mimei.DeriveID(spec)
	if err != nil {
		return spec, mimei.Rights{}, fmt.Errorf("%w: catalog spec: %v", ErrMalformed, err)
	}
	if got != id || c.MiMei != id {
		return spec, mimei.Rights{}, fmt.Errorf("%w: catalog is for %s, asked for %s", ErrMalformed, got, id)
	}
	r := mimei.Rights{Owner: c.Rights.Owner, Writers: c.Rights.Writers, Readers: c.Rights.Readers, Public: c.Rights.Public}
	if err := r.Validate(); err != nil {
		return spec, r, fmt.Errorf("%w: catalog rights: %v", ErrMalformed, err)
	}
	if r.Owner != identity.DID(mustKey(c.Author)) {
		return spec, r, fmt.Errorf("%w: catalog owner %s is not the author %s", ErrMalformed, r.Owner, c.Author)
	}
	return spec, r, nil
}

func mustKey(did string) []byte {
	k, err := identity.ParseDID(did)
	if err != nil {
		return nil
	}
	return k
}

// Receiver takes in one version of a MiMei published elsewhere: it is the
// local block store given to the block exchange (so blocks already here
// are not fetched again, and a broken fetch resumes), opens sealed blocks
// with the content key as they arrive, and Finish verifies and imports the
// version. Without a key (Hold) sealed blocks are kept as they are: the
// node holds ciphertext it cannot read.
type Receiver struct {
	s       *Service
	id      mimei.ID
	cat     *Catalog
	spec    mimei.Spec
	rights  mimei.Rights
	head    Head
	key     *sealing.BlockKey
	trusted bool   // the catalog came from a device of the owner
	pusher  string // a writer whose pushed version this is ("" = none)

	mu        sync.Mutex
	manifests map[cid.CID]bool
	codecs    map[cid.CID]byte
	checks    map[cid.CID][sealing.CheckSize]byte // of sealed blocks, from the manifests

	// Blocks this receiver put to the block store, kept from GC
	// (Service.MarkBlocks) until Release, since no version names them
	// before Finish imports it.
	puts map[cid.CID]struct{}

	fmu       sync.Mutex // one flush at a time
	unflushed int64      // bytes put since the last flush
	flushed   time.Time

	// Index entries of blocks put since the last flush, written to the
	// store in one batch (one fsync) right after the blocks they name are
	// flushed, never before: an entry never points at a block a crash
	// lost, and a fetch does not wait for an fsync per block.
	imu      sync.Mutex
	pending  map[string][]byte
	flushing map[string][]byte // taken by a flush, not yet committed
}

// Received blocks are made durable every flushBytes or flushEvery, so a
// node killed mid-fetch keeps most of what arrived and resumes from there.
const (
	flushBytes = 64 << 20
	flushEvery = time.Second
)

// Receive prepares to take in head from catalog cat. For a sealed head the
// content key must be known: keyRecord is the record of the head's epoch
// as the owner sent it (nil to use one stored before). hold keeps the
// sealed blocks without a key instead. trusted says the catalog came from
// a device of the MiMei's owner; otherwise only versions the owner signed
// are accepted (a cache cannot add writers).
func (s *Service) Receive(cat *Catalog, head Head, keyRecord []byte, hold, trusted bool) (*Receiver, error) {
	spec, rights, err := CheckCatalog(cat, head.MiMei)
	if err != nil {
		return nil, err
	}
	r := &Receiver{s: s, id: head.MiMei, cat: cat, spec: spec, rights: rights, head: head, trusted: trusted,
		manifests: map[cid.CID]bool{head.Manifest: true}, codecs: map[cid.CID]byte{}, checks: map[cid.CID][sealing.CheckSize]byte{}, flushed: time.Now(),
		pending: map[string][]byte{}, puts: map[cid.CID]struct{}{}}
	if head.Epoch > 0 && !hold {
		if keyRecord != nil {
			r.key, err = s.StoreKeyRecord(head.MiMei, head.Epoch, rights.Owner, keyRecord)
		} else {
			r.key, err = s.contentKey(head.MiMei, head.Epoch, rights.Owner)
		}
		if err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.receivers[r] = struct{}{}
	s.mu.Unlock()
	return r, nil
}

// Release ends the receiver: the blocks it put are no longer kept from GC
// on its account (once Finish imported the version, the version keeps
// them). Call it when the fetch is over, whether or not it succeeded;
// Finish calls it too. It may be called more than once.
func (r *Receiver) Release() {
	r.s.mu.Lock()
	delete(r.s.receivers, r)
	r.s.mu.Unlock()
}

// kept calls fn for every block put and not yet released.
func (r *Receiver) kept(fn func(cid.CID)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.puts {
		fn(c)
	}
}

// putBlock puts a block to the block store while GC waits, and keeps it
// from GC until Release.
func (r *Receiver) putBlock(ctx context.Context, c cid.CID, data []byte) error {
	release := r.s.store.HoldGC()
	defer release()
	if err := r.s.blocks.Put(ctx, c, data); err != nil {
		return err
	}
	r.mu.Lock()
	r.puts[c] = struct{}{}
	r.mu.Unlock()
	return nil
}

// FromWriter accepts a version signed by writer, a persona our own rights
// name as a writer of the MiMei, who pushed it to us (the owner). Whether
// writer may write is checked again against our rights on import; the
// pushed catalog's rights are never taken.
func (r *Receiver) FromWriter(writer string) { r.pusher = writer }

// Roots are where the block exchange starts: the manifest chain.
func (r *Receiver) Roots() []cid.CID { return []cid.CID{r.head.Manifest} }

// Links tells the block exchange the children of a block: the blocks a
// manifest lists and the next manifest; other blocks have none here.
func (r *Receiver) Links(c cid.CID, data []byte) ([]cid.CID, error) {
	r.mu.Lock()
	isManifest := r.manifests[c]
	r.mu.Unlock()
	if !isManifest {
		return nil, nil
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range m.Blocks {
		r.codecs[b] = m.Codecs[i]
		if check, ok := m.Check(i); ok && r.key != nil {
			r.checks[b] = check
		}
	}
	if m.Next.Defined() {
		r.manifests[m.Next] = true
	}
	return m.Links(), nil
}

// Verify is the block exchange's check of a block before Put. A sealed
// block the manifest lists with a check is verified by its check here and
// by opening it in Put (the AEAD and the SIV check, which ties the check
// to the plaintext's digest; Put then hashes the plaintext for its CID
// anyway), which spares hashing the sealed bytes as well. Every other
// block (manifests, blocks held without a key, versions in the clear) is
// hashed against its CID.
func (r *Receiver) Verify(c cid.CID, data []byte) error {
	r.mu.Lock()
	want, ok := r.checks[c]
	r.mu.Unlock()
	if !ok {
		return cid.Verify(c, data)
	}
	got, ok := sealing.SealedCheck(data)
	if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%w: block %s is not the sealed block the manifest lists", cid.ErrIntegrity, c)
	}
	return nil
}

func (r *Receiver) sealedMode(c cid.CID) (byte, bool) {
	if r.key == nil {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.manifests[c] {
		return 0, false
	}
	b, ok := r.codecs[c]
	return b, ok
}

// plainOf returns the plaintext CID a sealed block of this MiMei opened to.
func (r *Receiver) plainOf(c cid.CID) (cid.CID, bool, error) {
	k := sealedKey(c)
	b, ok := r.unwritten(k)
	var err error
	if !ok {
		b, err = r.s.kv.Get(k)
	}
	if errors.Is(err, kv.ErrNotFound) {
		return cid.Undef, false, nil
	} else if err != nil {
		return cid.Undef, false, err
	}
	e, err := decodeSealedEntry(b)
	if err != nil {
		return cid.Undef, false, err
	}
	return e.plain, e.id == r.id, nil
}

// Has reports a block as here when it is (sealed blocks: when the
// plaintext it opened to is).
func (r *Receiver) Has(ctx context.Context, c cid.CID) (bool, error) {
	if r.key != nil {
		if p, ok, err := r.plainOf(c); err != nil || ok {
			if err != nil {
				return false, err
			}
			return r.s.blocks.Has(ctx, p)
		}
	}
	return r.s.blocks.Has(ctx, c)
}

// Get returns a block as the exchange would have fetched it.
func (r *Receiver) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	if r.key != nil {
		if p, ok, err := r.plainOf(c); err != nil {
			return nil, err
		} else if ok {
			plain, err := r.s.blocks.Get(ctx, p)
			if err != nil {
				return nil, err
			}
			digest, err := cid.Digest(p)
			if err != nil {
				return nil, err
			}
			return r.key.SealDigest(plain, digest), nil
		}
	}
	return r.s.blocks.Get(ctx, c)
}

// Put stores a verified block: a sealed block is opened and its plaintext
// stored under the plaintext's CID; anything else is stored as it is.
func (r *Receiver) Put(ctx context.Context, c cid.CID, data []byte) error {
	if err := r.put(ctx, c, data); err != nil {
		return err
	}
	return r.maybeFlush(ctx, len(data))
}

// maybeFlush flushes the block store and then the index entries of the
// blocks put before when enough arrived since the last flush.
func (r *Receiver) maybeFlush(ctx context.Context, n int) error {
	r.fmu.Lock()
	defer r.fmu.Unlock()
	r.unflushed += int64(n)
	if r.unflushed < flushBytes && time.Since(r.flushed) < flushEvery {
		return nil
	}
	return r.flushLocked(ctx)
}

// Flush makes the received blocks durable, then their index entries.
func (r *Receiver) Flush(ctx context.Context) error {
	r.fmu.Lock()
	defer r.fmu.Unlock()
	return r.flushLocked(ctx)
}

func (r *Receiver) flushLocked(ctx context.Context) error {
	r.imu.Lock()
	r.flushing, r.pending = r.pending, map[string][]byte{}
	entries := r.flushing
	r.imu.Unlock()
	// Every entry taken names a block whose Put returned before this
	// Flush: it is durable once Flush returns.
	err := r.s.blocks.Flush(ctx)
	if err == nil && len(entries) > 0 {
		b := r.s.kv.NewBatch()
		for k, v := range entries {
			if err = b.Set([]byte(k), v); err != nil {
				break
			}
		}
		if err == nil {
			err = b.Commit()
		}
		b.Discard()
	}
	r.imu.Lock()
	if err != nil { // keep them for the next flush
		for k, v := range r.flushing {
			if _, newer := r.pending[k]; !newer {
				r.pending[k] = v
			}
		}
	}
	r.flushing = nil
	r.imu.Unlock()
	if err != nil {
		return err
	}
	r.unflushed, r.flushed = 0, time.Now()
	return nil
}

// note records an index entry to write with the next flush.
func (r *Receiver) note(k, v []byte) {
	r.imu.Lock()
	r.pending[string(k)] = v
	r.imu.Unlock()
}

// unwritten returns an index entry not yet written to the store.
func (r *Receiver) unwritten(k []byte) ([]byte, bool) {
	r.imu.Lock()
	defer r.imu.Unlock()
	if v, ok := r.pending[string(k)]; ok {
		return v, true
	}
	v, ok := r.flushing[string(k)]
	return v, ok
}

func (r *Receiver) put(ctx context.Context, c cid.CID, data []byte) error {
	codecB, sealed := r.sealedMode(c)
	if !sealed {
		if err := r.putBlock(ctx, c, data); err != nil {
			return err
		}
		r.note(memberKey(r.id, c), nil)
		return nil
	}
	// Open into a pooled buffer: Put copies the plaintext (or is done with
	// it) before it returns.
	bp := bufpool.Get(len(data))
	defer bufpool.Put(bp)
	plain, digest, err := r.key.OpenDigestAppend((*bp)[:0], data)
	if err != nil {
		// The provider's fault (Verify let the block through on its check
		// alone), or ours if the key were wrong: the exchange drops the
		// provider and asks another.
		return fmt.Errorf("%w: block %s of %s does not open with the epoch %d key: %w", cid.ErrIntegrity, c, r.id, r.head.Epoch, err)
	}
	pc := cid.FromDigest(byteCodec(codecB), digest)
	if err := r.putBlock(ctx, pc, plain); err != nil {
		return err
	}
	r.note(sealedKey(c), encodeSealedEntry(sealedEntry{id: r.id, epoch: r.head.Epoch, plain: pc}))
	return nil
}

// Size, Delete, Enumerate, Stats and Close complete blockstore.Store; the
// exchange does not use them.
func (r *Receiver) Size(ctx context.Context, c cid.CID) (int, error) { return r.s.blocks.Size(ctx, c) }

// Delete is refused: a receiver only adds.
func (r *Receiver) Delete(context.Context, ...cid.CID) error {
	return errors.New("share: receiver does not delete")
}

// Enumerate walks the underlying store.
func (r *Receiver) Enumerate(ctx context.Context, fn func(cid.CID, int) error) error {
	return r.s.blocks.Enumerate(ctx, fn)
}

// Stats are the underlying store's.
func (r *Receiver) Stats(ctx context.Context) (blockstore.Stats, error) { return r.s.blocks.Stats(ctx) }

// Close does nothing: the underlying store belongs to the node.
func (r *Receiver) Close() error { return nil }

var _ blockstore.Store = (*Receiver)(nil)

// Received says what Finish did.
type Received struct {
	Head     Head
	Version  mimei.VersionInfo
	Held     bool  // sealed blocks kept without a key
	Conflict error // the version was kept as a branch (wraps mimei.ErrConflict)
	// Diverged: the version is on the line but cur, which had changes
	// made here (or does not lead to it), was kept; wraps
	// mimei.ErrDiverged. The event share.diverged was published.
	Diverged error
	// MovedCur: cur (the working copy of our own MiMei, or of one we
	// write to) moved to the version, nothing here having changed since
	// the version cur was based on.
	MovedCur bool
}

// Finish checks that every block the manifests list is here, then (unless
// holding) verifies the version record and its blocks and imports the
// version into the MiMei store, and records the head so the version can be
// served on. Holding, it registers the MiMei from the catalog (no version
// is imported) so that the held version can be served on to those its
// rights name.
//
// Importing the newest version of a MiMei with a working copy here moves
// cur to it when nothing here changed since cur's base (MovedCur), or
// keeps both and publishes share.diverged (Diverged): see
// mimei.Store.ImportVersion.
func (r *Receiver) Finish(ctx context.Context) (Received, error) {
	defer r.Release()
	out := Received{Head: r.head, Held: r.key == nil && r.head.Epoch > 0}
	if err := r.Flush(ctx); err != nil {
		return out, err
	}
	members := r.s.kv.NewBatch()
	defer members.Discard()
	var listed uint64
	for mc := r.head.Manifest; mc.Defined(); {
		data, err := r.s.blocks.Get(ctx, mc)
		if err != nil {
			return out, fmt.Errorf("share: manifest %s: %w", mc, err)
		}
		if err := cid.Verify(mc, data); err != nil {
			return out, err
		}
		m, err := ParseManifest(data)
		if err != nil {
			return out, err
		}
		if err := members.Set(memberKey(r.id, mc), nil); err != nil {
			return out, err
		}
		for _, c := range m.Blocks {
			listed++
			ok, err := r.Has(ctx, c)
			if err != nil {
				return out, err
			}
			if !ok {
				return out, fmt.Errorf("share: block %s of %s version %d is missing", c, r.id, r.head.Number)
			}
			if _, sealed, _ := r.plainOf(c); !sealed || r.key == nil {
				if err := members.Set(memberKey(r.id, c), nil); err != nil {
					return out, err
				}
			}
		}
		mc = m.Next
	}
	if listed != r.head.Blocks {
		return out, fmt.Errorf("%w: head of %s version %d says %d blocks, manifests list %d", ErrMalformed, r.id, r.head.Number, r.head.Blocks, listed)
	}
	if err := members.Commit(); err != nil {
		return out, err
	}
	if !out.Held {
		record := r.head.Record
		if r.key != nil {
			p, ok, err := r.plainOf(record)
			if err != nil {
				return out, err
			}
			if !ok {
				return out, fmt.Errorf("share: version record of %s version %d was not received", r.id, r.head.Number)
			}
			record = p
		}
		data, err := r.s.blocks.Get(ctx, record)
		if err != nil {
			return out, err
		}
		v, err := mimei.ParseVersion(data)
		if err != nil {
			return out, err
		}
		if v.Number != r.head.Number {
			return out, fmt.Errorf("%w: head says version %d, record says %d", ErrMalformed, r.head.Number, v.Number)
		}
		if !r.trusted && v.Author != r.rights.Owner && (r.pusher == "" || v.Author != r.pusher) {
			return out, fmt.Errorf("%w: version %d of %s from a cache is signed by %s, not its owner", ErrMalformed, v.Number, r.id, v.Author)
		}
		in := mimei.Import{Spec: r.spec, Rights: r.rights, Record: record, TrustRights: r.trusted}
		if r.trusted || v.Author == r.rights.Owner {
			in.Last, in.Release = r.cat.Last, r.cat.Release
		}
		out.Version, err = r.s.store.ImportVersion(ctx, in)
		switch {
		case errors.Is(err, mimei.ErrConflict):
			out.Conflict, err = err, nil
		case errors.Is(err, mimei.ErrDiverged):
			out.Diverged, err = err, nil
			r.s.event("share.diverged", map[string]any{"mimei": r.id.String(), "version": v.Number, "author": v.Author, "error": out.Diverged.Error()})
		}
		if err != nil {
			return out, err
		}
		out.MovedCur = out.Version.MovedCur
	} else if _, err := r.s.store.RegisterHeld(r.spec, r.rights, r.trusted); err != nil {
		return out, err
	}
	enc, err := EncodeHead(&r.head)
	if err != nil {
		return out, err
	}
	b := r.s.kv.NewBatch()
	defer b.Discard()
	if err := b.Set(manifestRootKey(r.head.Manifest), key(r.id[:], u64(r.head.Number))); err != nil {
		return out, err
	}
	if out.Conflict == nil {
		// A branch keeps our own head for its number: the catalog we
		// serve lists our line; the branch is listed by Branches.
		if err := b.Set(headKey(r.id, r.head.Number), enc); err != nil {
			return out, err
		}
	}
	if err := r.s.blocks.Flush(ctx); err != nil {
		return out, err
	}
	if err := b.Commit(); err != nil {
		return out, err
	}
	return out, r.s.kv.Sync()
}
