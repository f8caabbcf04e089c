package dirtree

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
)

// Node is one directory block. A directory of at most MaxEntriesPerNode
// entries is one Node with Entries; a larger one is an index Node with Pages
// only, each page being a Node with Entries only. A Node never has both.
type Node struct {
	Entries []Entry // sorted by Name (bytewise), unique
	Pages   []Page  // sorted by FirstName; all full but the last
}

// Page points from an index node to one page of a large directory.
type Page struct {
	FirstName string  // Name of the page's first entry
	CID       cid.CID // the page node (dag-cbor)
	Count     int     // entries in the page
	Size      uint64  // sum of the entries' Size
}

// Wire shapes (all CBOR arrays, in this field order; see
// docs/formats-dirs.md):
//
//	node  = [Version, [entry...], [page...]]
//	entry = [Name, Kind, CID bytes, Size, MIME, ModTime Unix ms]
//	page  = [FirstName, CID bytes, Count, Size]
const (
	nodeFields  = 3
	entryFields = 6
	pageFields  = 4
)

// check validates one entry on its own.
func (e Entry) check() error {
	if !ValidName(e.Name) {
		return malformed("invalid name %q", e.Name)
	}
	if err := cid.Check(e.Root); err != nil {
		return malformedBy(err, "%q", e.Name)
	}
	codec := e.Root.Prefix().Codec
	switch e.Kind {
	case KindFile:
		if len(e.MIME) > MaxMIMELen || !utf8.ValidString(e.MIME) {
			return malformed("%q: MIME type of %d bytes or not UTF-8", e.Name, len(e.MIME))
		}
	case KindDir:
		if codec != cid.DagCBOR {
			return malformed("%q: directory root %s is not a dag-cbor node", e.Name, e.Root)
		}
		if e.MIME != "" {
			return malformed("%q: directory with a MIME type", e.Name)
		}
	default:
		return malformed("%q: unknown kind %d", e.Name, e.Kind)
	}
	if e.Size > math.MaxInt64 {
		return malformed("%q: size %d too large", e.Name, e.Size)
	}
	return nil
}

// addSize adds s to total, refusing sums beyond 2^63-1.
func addSize(total, s uint64) (uint64, bool) {
	if s > math.MaxInt64 || total > math.MaxInt64-s {
		return 0, false
	}
	return total + s, true
}

// validate checks everything about n that one block can show.
func (n Node) validate() error {
	if len(n.Entries) > 0 && len(n.Pages) > 0 {
		return malformed("node has both entries and pages")
	}
	if len(n.Entries) > maxEntries {
		return malformed("node has %d entries, at most %d allowed", len(n.Entries), maxEntries)
	}
	var total uint64
	for i, e := range n.Entries {
		if err := e.check(); err != nil {
			return at(fmt.Sprint("entry ", i), err)
		}
		if i > 0 && n.Entries[i-1].Name >= e.Name {
			return malformed("entry %d: %q does not sort after %q", i, e.Name, n.Entries[i-1].Name)
		}
		var ok bool
		if total, ok = addSize(total, e.Size); !ok {
			return malformed("entry sizes add up to more than 2^63-1")
		}
	}
	if len(n.Pages) == 0 {
		return nil
	}
	if len(n.Pages) == 1 || len(n.Pages) > maxEntries {
		return malformed("index node has %d pages, want 2..%d", len(n.Pages), maxEntries)
	}
	last := len(n.Pages) - 1
	for i, p := range n.Pages {
		if !ValidName(p.FirstName) {
			return malformed("page %d: invalid first name %q", i, p.FirstName)
		}
		if i > 0 && n.Pages[i-1].FirstName >= p.FirstName {
			return malformed("page %d: %q does not sort after %q", i, p.FirstName, n.Pages[i-1].FirstName)
		}
		if err := cid.Check(p.CID); err != nil {
			return malformedBy(err, "page %d", i)
		}
		if p.CID.Prefix().Codec != cid.DagCBOR {
			return malformed("page %d: %s is not a dag-cbor node", i, p.CID)
		}
		if (i < last && p.Count != maxEntries) || p.Count < 1 || p.Count > maxEntries {
			return malformed("page %d of %d holds %d entries; pages hold %d, the last 1..%d", i+1, last+1, p.Count, maxEntries, maxEntries)
		}
		var ok bool
		if total, ok = addSize(total, p.Size); !ok {
			return malformed("page sizes add up to more than 2^63-1")
		}
	}
	return nil
}

// size is the number of bytes beneath n (valid after validate).
func (n Node) size() uint64 {
	var total uint64
	for _, e := range n.Entries {
		total += e.Size
	}
	for _, p := range n.Pages {
		total += p.Size
	}
	return total
}

// EncodeNode returns the block bytes of n (its CID is cid.Sum(cid.DagCBOR,
// bytes)). It refuses, with ErrMalformed, a node that DecodeNode would
// refuse. ModTime is kept to the millisecond.
func EncodeNode(n Node) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, 64+80*len(n.Entries)+64*len(n.Pages))}
	e.array(nodeFields)
	e.uint(Version)
	e.array(len(n.Entries))
	for _, en := range n.Entries {
		e.array(entryFields)
		e.text(en.Name)
		e.uint(uint64(en.Kind))
		e.bytes(en.Root.Bytes())
		e.uint(en.Size)
		e.text(en.MIME)
		e.int(en.ModTime.UnixMilli())
	}
	e.array(len(n.Pages))
	for _, p := range n.Pages {
		e.array(pageFields)
		e.text(p.FirstName)
		e.bytes(p.CID.Bytes())
		e.uint(uint64(p.Count))
		e.uint(p.Size)
	}
	// Cannot happen within the limits above (a full node of the longest
	// names and types is under 2.5 MiB); checked so that no block is ever
	// written that DecodeNode refuses.
	if len(e.b) > blockstore.MaxBlockSize {
		return nil, fmt.Errorf("%w: node encodes to %d bytes, limit %d", ErrTooLarge, len(e.b), blockstore.MaxBlockSize)
	}
	return e.b, nil
}

// DecodeNode parses and checks the bytes of a node block: the version first
// (ErrUnsupportedVersion), then the shape, the canonical encoding and every
// rule of docs/formats-dirs.md that one block can show (ErrMalformed, with
// the reason).
func DecodeNode(data []byte) (Node, error) {
	if len(data) > blockstore.MaxBlockSize {
		return Node{}, malformed("node of %d bytes, limit %d", len(data), blockstore.MaxBlockSize)
	}
	d := decoder{b: data}
	fields, err := d.array("node", math.MaxInt)
	if err != nil {
		return Node{}, err
	}
	if fields == 0 {
		return Node{}, malformed("empty node record")
	}
	v, err := d.uint("version")
	if err != nil {
		return Node{}, err
	}
	if v != Version {
		return Node{}, fmt.Errorf("%w: version %d, this build reads %d", ErrUnsupportedVersion, v, Version)
	}
	if fields != nodeFields {
		return Node{}, malformed("node has %d fields, want %d", fields, nodeFields)
	}
	var n Node
	ne, err := d.array("entries", maxEntries)
	if err != nil {
		return Node{}, err
	}
	if ne > 0 {
		n.Entries = make([]Entry, ne)
	}
	for i := range n.Entries {
		if n.Entries[i], err = d.entry(); err != nil {
			return Node{}, at(fmt.Sprint("entry ", i), err)
		}
	}
	np, err := d.array("pages", maxEntries)
	if err != nil {
		return Node{}, err
	}
	if np > 0 {
		n.Pages = make([]Page, np)
	}
	for i := range n.Pages {
		if n.Pages[i], err = d.page(); err != nil {
			return Node{}, at(fmt.Sprint("page ", i), err)
		}
	}
	if err := d.end(); err != nil {
		return Node{}, err
	}
	if err := n.validate(); err != nil {
		return Node{}, err
	}
	return n, nil
}

func (d *decoder) fields(what string, want int) error {
	n, err := d.array(what, math.MaxInt)
	if err != nil {
		return err
	}
	if n != want {
		return malformed("%s has %d fields, want %d", what, n, want)
	}
	return nil
}

func (d *decoder) cid(what string) (cid.CID, error) {
	b, err := d.bytes(what, cid.MaxEncodedLen)
	if err != nil {
		return cid.Undef, err
	}
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, malformedBy(err, "%s", what)
	}
	return c, nil
}

func (d *decoder) entry() (Entry, error) {
	var e Entry
	if err := d.fields("entry", entryFields); err != nil {
		return e, err
	}
	var err error
	if e.Name, err = d.text("name", MaxNameLen); err != nil {
		return e, err
	}
	k, err := d.uint("kind")
	if err != nil {
		return e, err
	}
	if k != uint64(KindFile) && k != uint64(KindDir) {
		return e, malformed("%q: unknown kind %d", e.Name, k)
	}
	e.Kind = Kind(k)
	if e.Root, err = d.cid("root"); err != nil {
		return e, err
	}
	if e.Size, err = d.uint("size"); err != nil {
		return e, err
	}
	if e.MIME, err = d.text("MIME type", MaxMIMELen); err != nil {
		return e, err
	}
	ms, err := d.int("modification time")
	if err != nil {
		return e, err
	}
	e.ModTime = time.UnixMilli(ms).UTC()
	return e, nil
}

func (d *decoder) page() (Page, error) {
	var p Page
	if err := d.fields("page", pageFields); err != nil {
		return p, err
	}
	var err error
	if p.FirstName, err = d.text("first name", MaxNameLen); err != nil {
		return p, err
	}
	if p.CID, err = d.cid("page CID"); err != nil {
		return p, err
	}
	count, err := d.uint("count")
	if err != nil {
		return p, err
	}
	if count > uint64(maxEntries) {
		return p, malformed("page of %d entries, at most %d allowed", count, maxEntries)
	}
	p.Count = int(count)
	if p.Size, err = d.uint("size"); err != nil {
		return p, err
	}
	return p, nil
}
