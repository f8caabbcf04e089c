package mimei

import "github.com/peer-node/peer/internal/kv"

// Space is the disk-space budget new data is asked against (the node's
// diskspace.Guard): Check(n) is nil, or an error wrapping
// diskspace.ErrDiskFull. Deleting, GC and verification never ask.
type Space interface {
	Check(n int64) error
}

// room asks the budget for n bytes of new data (nil when there is no
// budget).
func (s *Store) room(n int64) error {
	if s.opts.Space == nil {
		return nil
	}
	return s.opts.Space.Check(n)
}

// newDataBytes is what an operation that makes a small record (a MiMei, a
// directory, a file entry) asks the budget for before it starts.
const newDataBytes = 64 << 10

// spaceKV is the store as databases see it: writes that add data ask the
// budget first; deletes never do, so a database can be emptied on a full
// disk.
type spaceKV struct {
	kv.Store
	space Space
}

// growing returns st with writes asked against space (st itself when
// there is no budget).
func growing(st kv.Store, space Space) kv.Store {
	if space == nil {
		return st
	}
	return spaceKV{st, space}
}

func (s spaceKV) Set(key, value []byte) error {
	if err := s.space.Check(int64(len(key) + len(value))); err != nil {
		return err
	}
	return s.Store.Set(key, value)
}

func (s spaceKV) NewBatch() kv.Batch { return &spaceBatch{Batch: s.Store.NewBatch(), space: s.space} }

// spaceBatch counts what a batch adds; a batch that deletes and adds only
// a little (a counter, a timestamp) is a removal and goes through.
type spaceBatch struct {
	kv.Batch
	space   Space
	adds    int64
	deletes int
}

// smallAdds is what a removal batch may add without asking.
const smallAdds = 4 << 10

func (b *spaceBatch) Set(key, value []byte) error {
	b.adds += int64(len(key) + len(value))
	return b.Batch.Set(key, value)
}

func (b *spaceBatch) Delete(key []byte) error {
	b.deletes++
	return b.Batch.Delete(key)
}

func (b *spaceBatch) Commit() error {
	if b.adds > 0 && (b.deletes == 0 || b.adds > smallAdds) {
		if err := b.space.Check(b.adds); err != nil {
			b.Batch.Discard()
			return err
		}
	}
	return b.Batch.Commit()
}
