package mimei

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
)

// MetaFormat is the version of the stored MiMei metadata record.
const MetaFormat = 1

// Registry errors.
var (
	ErrExists    = errors.New("MiMei already exists")
	ErrNotFound  = errors.New("no such MiMei")
	ErrBadRights = errors.New("bad rights")
)

// MaxRightsEntries bounds the writers and readers of one MiMei.
const MaxRightsEntries = 256

// Rights record who may do what with a MiMei. The sharing layer enforces
// them for remote peers; locally the owner may do anything.
type Rights struct {
	_       struct{} `cbor:",toarray"`
	Owner   string   // did:key; defaults to the author
	Writers []string // personas that may push new versions
	Readers []string // personas that may fetch versions
	Public  bool     // anyone may fetch
}

// Validate checks every persona named and the bounds.
func (r Rights) Validate() error {
	if _, err := identity.ParseDID(r.Owner); err != nil {
		return fmt.Errorf("%w: owner: %w", ErrBadRights, err)
	}
	if len(r.Writers)+len(r.Readers) > MaxRightsEntries {
		return fmt.Errorf("%w: more than %d writers and readers", ErrBadRights, MaxRightsEntries)
	}
	for _, d := range append(slices.Clone(r.Writers), r.Readers...) {
		if _, err := identity.ParseDID(d); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrBadRights, d, err)
		}
	}
	return nil
}

// Meta is what the node keeps about a MiMei beside its spaces.
type Meta struct {
	ID      ID
	Spec    Spec
	Rights  Rights
	Created time.Time
	Origin  *Origin // set on a fork: where it came from
}

// Origin records the MiMei version a fork was made from. Record is Undef
// when the fork was taken from the source's unfrozen cur.
type Origin struct {
	MiMei   ID
	Version uint64
	Record  cid.CID
}

type metaWire struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	ID      []byte
	Author  string
	AppType string
	Ext     string
	Mark    string
	Rights  Rights
	Created int64 // Unix ms
	// Origin of a fork: [MiMei ID, version number, record CID] or empty.
	Origin []originWire
}

type originWire struct {
	_       struct{} `cbor:",toarray"`
	MiMei   []byte
	Version uint64
	Record  []byte
}

func (m Meta) wire() metaWire {
	w := metaWire{Format: MetaFormat, ID: m.ID[:], Author: m.Spec.Author, AppType: m.Spec.AppType,
		Ext: m.Spec.Ext, Mark: m.Spec.Mark, Rights: m.Rights, Created: m.Created.UnixMilli(), Origin: []originWire{}}
	if o := m.Origin; o != nil {
		w.Origin = []originWire{{MiMei: o.MiMei[:], Version: o.Version, Record: cidBytes(o.Record)}}
	}
	return w
}

// keyspace: "mm/" + 20-byte ID + "/" + part. Everything of one MiMei shares
// the prefix "mm/" + ID, so Delete is one range.
func mmPrefix(id ID) []byte { return append([]byte("mm/"), id[:]...) }

func metaKey(id ID) []byte { return append(mmPrefix(id), "/meta"...) }

// Registry keeps the MiMei a node holds in a key-value store. It is safe for
// concurrent use.
type Registry struct {
	kv  kv.Store
	mu  sync.Mutex
	now func() time.Time
}

// NewRegistry returns a registry over store.
func NewRegistry(store kv.Store) *Registry {
	return &Registry{kv: store, now: time.Now}
}

// Create registers a new MiMei from spec (an auto mark is resolved) with
// rights (the owner defaults to the author). ErrExists if the derived ID is
// already held.
func (r *Registry) Create(spec Spec, rights Rights) (Meta, error) {
	return r.create(spec, rights, nil)
}

func (r *Registry) create(spec Spec, rights Rights, origin *Origin) (Meta, error) {
	id, spec, err := NewID(spec)
	if err != nil {
		return Meta{}, err
	}
	if rights.Owner == "" {
		rights.Owner = spec.Author
	}
	if err := rights.Validate(); err != nil {
		return Meta{}, err
	}
	m := Meta{ID: id, Spec: spec, Rights: rights, Created: r.now().UTC().Truncate(time.Millisecond), Origin: origin}
	enc, err := codec.Marshal(m.wire())
	if err != nil {
		return Meta{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok, err := r.kv.Has(metaKey(id)); err != nil {
		return Meta{}, err
	} else if ok {
		return Meta{}, fmt.Errorf("%w: %s", ErrExists, id)
	}
	if err := r.kv.Set(metaKey(id), enc); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var w metaWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return Meta{}, fmt.Errorf("%w: MiMei metadata: %w", ErrMalformed, err)
	}
	if w.Format != MetaFormat {
		return Meta{}, fmt.Errorf("%w: MiMei metadata format %d, want %d", ErrUnsupportedVersion, w.Format, MetaFormat)
	}
	if len(w.ID) != IDLen {
		return Meta{}, fmt.Errorf("%w: MiMei metadata: ID of %d bytes", ErrMalformed, len(w.ID))
	}
	m := Meta{Spec: Spec{Author: w.Author, AppType: w.AppType, Ext: w.Ext, Mark: w.Mark}, Rights: w.Rights,
		Created: time.UnixMilli(w.Created).UTC()}
	copy(m.ID[:], w.ID)
	switch len(w.Origin) {
	case 0:
	case 1:
		o := &Origin{Version: w.Origin[0].Version}
		if len(w.Origin[0].MiMei) != IDLen {
			return Meta{}, fmt.Errorf("%w: MiMei metadata: origin ID of %d bytes", ErrMalformed, len(w.Origin[0].MiMei))
		}
		copy(o.MiMei[:], w.Origin[0].MiMei)
		var err error
		if o.Record, err = bytesCID(w.Origin[0].Record, "origin record"); err != nil {
			return Meta{}, err
		}
		m.Origin = o
	default:
		return Meta{}, fmt.Errorf("%w: MiMei metadata: %d origins", ErrMalformed, len(w.Origin))
	}
	return m, nil
}

// Get returns a MiMei's metadata, or ErrNotFound.
func (r *Registry) Get(id ID) (Meta, error) {
	b, err := r.kv.Get(metaKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	} else if err != nil {
		return Meta{}, err
	}
	return decodeMeta(b)
}

// List returns every MiMei held, oldest first.
func (r *Registry) List() ([]Meta, error) {
	it := r.kv.Iter(kv.IterOptions{Prefix: []byte("mm/")})
	defer it.Close()
	var out []Meta
	for it.Next() {
		k := it.Key()
		if len(k) != len("mm/")+IDLen+len("/meta") || string(k[len(k)-5:]) != "/meta" {
			continue
		}
		m, err := decodeMeta(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Meta) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// SetRights replaces a MiMei's rights.
func (r *Registry) SetRights(id ID, rights Rights) (Meta, error) {
	if err := rights.Validate(); err != nil {
		return Meta{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.Get(id)
	if err != nil {
		return Meta{}, err
	}
	m.Rights = rights
	enc, err := codec.Marshal(m.wire())
	if err != nil {
		return Meta{}, err
	}
	return m, r.kv.Set(metaKey(id), enc)
}

// Delete removes a MiMei and everything kept under its prefix (metadata,
// spaces, version list) in one atomic batch. Its blocks stay until garbage
// collection finds them unreferenced.
func (r *Registry) Delete(id ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.Get(id); err != nil {
		return err
	}
	b := r.kv.NewBatch()
	defer b.Discard()
	it := r.kv.Iter(kv.IterOptions{Prefix: append(mmPrefix(id), '/')})
	for it.Next() {
		if err := b.Delete(it.Key()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return b.Commit()
}
