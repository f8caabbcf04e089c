package share

// This file holds the messages of the sharing protocol /peer/share/1.0.0
// (docs/sharing-protocol.md): the Request and Reply that open and answer
// every stream, and the payloads they carry (Head, Catalog, Offer) or point
// to (Manifest blocks). Wire types are kept apart from the domain types of
// internal/mimei; callers convert at the edge.
//
// Every message is a CBOR array in the deterministic encoding of
// internal/codec, carried in one codec frame. Readers bound the frame before
// allocating, accept only the one canonical encoding, check every limit
// below and never panic; anything else is an error wrapping ErrMalformed
// (or ErrUnknownFormat, codec.ErrFrameTooLarge), after which the stream is
// reset.

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/sealing"
)

// ProtocolID is the protocol ID of the sharing protocol. The version is in
// the ID: an incompatible change gets a new ID.
const ProtocolID = "/peer/share/1.0.0"

// Format is the version of the Catalog and OwnList formats.
const Format = 1

// ManifestFormat is the version of the Manifest format. Format 1 had no
// Checks.
const ManifestFormat = 2

// Wire limits. Readers check them before allocating or decoding.
const (
	// MaxRequestFrame bounds the frame of one Request.
	MaxRequestFrame = 64 << 10
	// MaxReplyFrame bounds the frame of one Reply.
	MaxReplyFrame = 1 << 10
	// MaxPayloadFrame bounds the payload frame that follows an OK Reply.
	MaxPayloadFrame = codec.MaxRecordSize
	// MaxRequestPayload bounds Request.Payload, in bytes.
	MaxRequestPayload = 60 << 10
	// MaxHeads bounds the heads of one Catalog.
	MaxHeads = 64
	// MaxManifestEntries bounds the CIDs listed by one manifest block.
	MaxManifestEntries = 1024
	// MaxMessageLen bounds Reply.Message and Offer.Note, in bytes.
	MaxMessageLen = 512
	// MaxTextLen bounds Author, AppType, Ext and Mark, in bytes.
	MaxTextLen = 128
	// MaxPersonaLen bounds each persona in WireRights, in bytes.
	MaxPersonaLen = 128
	// MaxRightsEntries bounds Writers and Readers together.
	MaxRightsEntries = 256
	// MaxPointerLen bounds Catalog.Last and Catalog.Release, in bytes.
	MaxPointerLen = 4 << 10
	// MaxListEntries bounds the entries of one OwnList page.
	MaxListEntries = 1024
	// MiMeiLen is the length of a MiMei ID on the wire.
	MiMeiLen = 20
)

// Errors callers branch on.
var (
	// ErrMalformed: a message is not the canonical encoding of its type or
	// breaks a limit.
	ErrMalformed = errors.New("share: malformed message")
	// ErrUnknownFormat: a Catalog or Manifest carries a Format other than
	// the one this code reads.
	ErrUnknownFormat = errors.New("share: unknown format")

	// Errors a non-OK Reply stands for (Reply.Err).
	ErrDenied      = errors.New("share: denied")
	ErrNotFound    = errors.New("share: not found")
	ErrBadRequest  = errors.New("share: bad request")
	ErrUnavailable = errors.New("share: unavailable")
)

// Kind says what a Request asks or announces.
type Kind uint8

// Request kinds.
const (
	KindCatalog     Kind = 1 // ask for the Catalog of MiMei (payload answer)
	KindKeyRecord   Kind = 2 // ask for the key record of MiMei at Epoch (payload answer)
	KindNotify      Kind = 3 // push: Payload is an encoded Head (a new version)
	KindOffer       Kind = 4 // push: Payload is an encoded Offer ("shared with you")
	KindSubscribe   Kind = 5 // ask to be notified of new versions of MiMei
	KindUnsubscribe Kind = 6 // stop those notifications
	KindList        Kind = 7 // own devices only: list the persona's MiMei from index Epoch on (payload answer: an OwnList)
	KindPush        Kind = 8 // a writer's device: Payload is an encoded Head of a version it made; the owner fetches it
	KindRevoke      Kind = 9 // the owner's device: the asking persona may no longer read MiMei
)

// String returns the name of k.
func (k Kind) String() string {
	switch k {
	case KindCatalog:
		return "catalog"
	case KindKeyRecord:
		return "key-record"
	case KindNotify:
		return "notify"
	case KindOffer:
		return "offer"
	case KindSubscribe:
		return "subscribe"
	case KindUnsubscribe:
		return "unsubscribe"
	case KindList:
		return "list"
	case KindPush:
		return "push"
	case KindRevoke:
		return "revoke"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// HasPayload reports whether an OK Reply to a request of kind k is followed
// by a payload frame.
func (k Kind) HasPayload() bool { return k == KindCatalog || k == KindKeyRecord || k == KindList }

// Status is the outcome a Reply reports.
type Status uint8

// Reply statuses.
const (
	StatusOK          Status = 0
	StatusDenied      Status = 1 // not for this peer
	StatusNotFound    Status = 2 // the server has no such MiMei or epoch
	StatusBadRequest  Status = 3 // the request was malformed or makes no sense
	StatusUnavailable Status = 4 // the server cannot answer now (busy, store error)
)

// String returns the name of s.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusDenied:
		return "denied"
	case StatusNotFound:
		return "not found"
	case StatusBadRequest:
		return "bad request"
	case StatusUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Request is the one message a client sends on a stream.
//
// Wire form: [Kind, MiMei (20 bytes), Epoch, Payload].
type Request struct {
	Kind    Kind
	MiMei   [MiMeiLen]byte
	Epoch   uint32 // the key epoch asked for (KindKeyRecord)
	Payload []byte // ≤ MaxRequestPayload; an encoded Head or Offer for pushes
}

// Reply answers a Request.
//
// Wire form: [Status, Message].
type Reply struct {
	Status  Status
	Message string // why, for a non-OK status; empty when OK; ≤ MaxMessageLen
}

// Err returns nil for StatusOK and otherwise an error wrapping ErrDenied,
// ErrNotFound, ErrBadRequest or ErrUnavailable, with the message.
func (r Reply) Err() error {
	var base error
	switch r.Status {
	case StatusOK:
		return nil
	case StatusDenied:
		base = ErrDenied
	case StatusNotFound:
		base = ErrNotFound
	case StatusBadRequest:
		base = ErrBadRequest
	case StatusUnavailable:
		base = ErrUnavailable
	default:
		return fmt.Errorf("%w: reply %s", ErrMalformed, r.Status)
	}
	if r.Message == "" {
		return base
	}
	return fmt.Errorf("%w: %s", base, r.Message)
}

// Head announces one published version of a MiMei.
//
// Wire form: [MiMei, Number, Time (Unix ms), Record, Manifest, Epoch,
// Blocks, Bytes].
type Head struct {
	MiMei  [MiMeiLen]byte
	Number uint64
	// Time is carried in Unix milliseconds; ParseHead returns it in UTC.
	Time time.Time
	// Record is the CID of the version record as transferred: the sealed
	// CID when Epoch > 0.
	Record cid.CID
	// Manifest is the CID of the first manifest block.
	Manifest cid.CID
	// Epoch is 0 for a plaintext (public) version, otherwise the key epoch
	// whose content key sealed it.
	Epoch uint32
	// Blocks and Bytes count the blocks listed by the manifest chain and
	// their total size, for progress.
	Blocks uint64
	Bytes  uint64
}

// WireRights are the rights of a MiMei as sent in a Catalog.
//
// Wire form: [Owner, Writers, Readers, Public].
type WireRights struct {
	Owner            string
	Writers, Readers []string
	Public           bool
}

// Catalog describes a MiMei and its published versions.
//
// Wire form: [Format, MiMei, Author, AppType, Ext, Mark, Rights, Heads,
// Last, Release, Epoch].
type Catalog struct {
	MiMei                      [MiMeiLen]byte
	Author, AppType, Ext, Mark string
	Rights                     WireRights
	// Heads are at most MaxHeads versions, strictly ascending by Number,
	// each of this MiMei.
	Heads []Head
	// Last and Release are signed pointer records, opaque here; each at
	// most MaxPointerLen bytes, possibly empty.
	Last, Release []byte
	// Epoch is the current key epoch, 0 for a public MiMei.
	Epoch uint32
}

// Offer tells a persona that a MiMei was shared with them.
//
// Wire form: [MiMei, Author, AppType, Ext, Mark, Write, Note].
type Offer struct {
	MiMei                      [MiMeiLen]byte
	Author, AppType, Ext, Mark string
	Write                      bool   // write access, not only read
	Note                       string // ≤ MaxMessageLen
}

// Codec bytes of a Manifest: the codec of each block's plaintext.
const (
	CodecRaw     = 'r'
	CodecDagCBOR = 'c'
)

// Manifest is one block of a manifest chain: the list of blocks a version
// needs. It is stored as a dag-cbor block; its CID is
// cid.Sum(cid.DagCBOR, EncodeManifest(m)).
//
// Wire form: [ManifestFormat, Next, Blocks, Codecs, Checks].
type Manifest struct {
	// Next is the next block of the chain; Undef in the last one.
	Next cid.CID
	// Blocks are 1 to MaxManifestEntries CIDs.
	Blocks []cid.CID
	// Codecs has one byte per block: CodecRaw or CodecDagCBOR, the codec of
	// the block's plaintext (for a sealed block the CID itself is raw).
	Codecs []byte
	// Checks, for a sealed version, has sealing.CheckSize bytes per block:
	// the check each sealed block carries, so that a reader with the key
	// verifies a block by opening it instead of hashing it too. Empty for
	// a version in the clear.
	Checks []byte
}

// Check returns the check listed for block i, if any.
func (m *Manifest) Check(i int) ([sealing.CheckSize]byte, bool) {
	if len(m.Checks) == 0 {
		return [sealing.CheckSize]byte{}, false
	}
	return [sealing.CheckSize]byte(m.Checks[i*sealing.CheckSize:]), true
}

// Links returns the CIDs m refers to: Blocks, then Next if defined.
func (m *Manifest) Links() []cid.CID {
	out := make([]cid.CID, 0, len(m.Blocks)+1)
	out = append(out, m.Blocks...)
	if m.Next.Defined() {
		out = append(out, m.Next)
	}
	return out
}

// Wire structs: the exact CBOR arrays.

type requestWire struct {
	_       struct{} `cbor:",toarray"`
	Kind    uint8
	MiMei   []byte
	Epoch   uint32
	Payload []byte
}

type replyWire struct {
	_       struct{} `cbor:",toarray"`
	Status  uint8
	Message string
}

type headWire struct {
	_        struct{} `cbor:",toarray"`
	MiMei    []byte
	Number   uint64
	Time     int64
	Record   []byte
	Manifest []byte
	Epoch    uint32
	Blocks   uint64
	Bytes    uint64
}

type rightsWire struct {
	_       struct{} `cbor:",toarray"`
	Owner   string
	Writers []string
	Readers []string
	Public  bool
}

type catalogWire struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	MiMei   []byte
	Author  string
	AppType string
	Ext     string
	Mark    string
	Rights  rightsWire
	Heads   []headWire
	Last    []byte
	Release []byte
	Epoch   uint32
}

type offerWire struct {
	_       struct{} `cbor:",toarray"`
	MiMei   []byte
	Author  string
	AppType string
	Ext     string
	Mark    string
	Write   bool
	Note    string
}

type manifestWire struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	Next   []byte
	Blocks [][]byte
	Codecs []byte
	Checks []byte
}

// Checks shared by encoders and parsers.

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func checkText(what, s string, max int) error {
	if len(s) > max {
		return malformed("%s of %d bytes, limit %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return malformed("%s is not valid UTF-8", what)
	}
	return nil
}

func checkTexts(author, appType, ext, mark string) error {
	for _, f := range []struct{ what, s string }{
		{"author", author}, {"app type", appType}, {"extension", ext}, {"mark", mark},
	} {
		if err := checkText(f.what, f.s, MaxTextLen); err != nil {
			return err
		}
	}
	return nil
}

func mimeiFrom(what string, b []byte) ([MiMeiLen]byte, error) {
	var m [MiMeiLen]byte
	if len(b) != MiMeiLen {
		return m, malformed("%s MiMei of %d bytes, want %d", what, len(b), MiMeiLen)
	}
	copy(m[:], b)
	return m, nil
}

// checkCID accepts only a CID we produce (cid.Check: CIDv1, raw or
// dag-cbor, BLAKE3-256).
func checkCID(what string, c cid.CID) error {
	if err := cid.Check(c); err != nil {
		return malformed("%s: %w", what, err)
	}
	return nil
}

func castCID(what string, b []byte) (cid.CID, error) {
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, malformed("%s: %w", what, err)
	}
	return c, nil
}

// unmarshal decodes b strictly into v, wrapping errors in ErrMalformed.
func unmarshal(what string, b []byte, max int, v any) error {
	if len(b) > max {
		return malformed("%s of %d bytes, limit %d", what, len(b), max)
	}
	if err := codec.Unmarshal(b, v); err != nil {
		return malformed("%s: %w", what, err)
	}
	return nil
}

// checkFormat reads the leading Format field of an encoded record before
// its shape, so a newer format is reported as ErrUnknownFormat.
func checkFormat(what string, b []byte) error { return checkFormatIs(what, b, Format) }

func checkFormatIs(what string, b []byte, want uint16) error {
	v, err := codec.RecordVersion(b)
	if err != nil {
		return malformed("%s: %w", what, err)
	}
	if v != want {
		return fmt.Errorf("%w: %s format %d, want %d", ErrUnknownFormat, what, v, want)
	}
	return nil
}

// Request.

func checkRequest(q *Request) error {
	switch {
	case q.Kind < KindCatalog || q.Kind > KindRevoke:
		return malformed("request %s", q.Kind)
	case len(q.Payload) > MaxRequestPayload:
		return malformed("request payload of %d bytes, limit %d", len(q.Payload), MaxRequestPayload)
	}
	return nil
}

// EncodeRequest encodes q and checks the limits a reader applies.
func EncodeRequest(q *Request) ([]byte, error) {
	if err := checkRequest(q); err != nil {
		return nil, err
	}
	return marshal("request", &requestWire{Kind: uint8(q.Kind), MiMei: q.MiMei[:], Epoch: q.Epoch, Payload: q.Payload}, MaxRequestFrame)
}

// ParseRequest decodes one Request strictly.
func ParseRequest(b []byte) (*Request, error) {
	var w requestWire
	if err := unmarshal("request", b, MaxRequestFrame, &w); err != nil {
		return nil, err
	}
	m, err := mimeiFrom("request", w.MiMei)
	if err != nil {
		return nil, err
	}
	q := &Request{Kind: Kind(w.Kind), MiMei: m, Epoch: w.Epoch, Payload: w.Payload}
	if len(q.Payload) == 0 {
		q.Payload = nil
	}
	if err := checkRequest(q); err != nil {
		return nil, err
	}
	return q, nil
}

// WriteRequest writes one Request frame.
func WriteRequest(w io.Writer, q *Request) error {
	b, err := EncodeRequest(q)
	if err != nil {
		return err
	}
	return codec.WriteFrame(w, b)
}

// ReadRequest reads and parses one Request frame.
func ReadRequest(r io.Reader) (*Request, error) {
	b, err := codec.ReadFrame(r, MaxRequestFrame)
	if err != nil {
		return nil, err
	}
	return ParseRequest(b)
}

// Reply.

func checkReply(p *Reply) error {
	switch {
	case p.Status > StatusUnavailable:
		return malformed("reply %s", p.Status)
	case p.Status == StatusOK && p.Message != "":
		return malformed("message with status ok")
	}
	return checkText("reply message", p.Message, MaxMessageLen)
}

// EncodeReply encodes p and checks the limits a reader applies.
func EncodeReply(p *Reply) ([]byte, error) {
	if err := checkReply(p); err != nil {
		return nil, err
	}
	return marshal("reply", &replyWire{Status: uint8(p.Status), Message: p.Message}, MaxReplyFrame)
}

// ParseReply decodes one Reply strictly.
func ParseReply(b []byte) (*Reply, error) {
	var w replyWire
	if err := unmarshal("reply", b, MaxReplyFrame, &w); err != nil {
		return nil, err
	}
	p := &Reply{Status: Status(w.Status), Message: w.Message}
	if err := checkReply(p); err != nil {
		return nil, err
	}
	return p, nil
}

// WriteReply writes one Reply frame.
func WriteReply(w io.Writer, p *Reply) error {
	b, err := EncodeReply(p)
	if err != nil {
		return err
	}
	return codec.WriteFrame(w, b)
}

// ReadReply reads and parses one Reply frame.
func ReadReply(r io.Reader) (*Reply, error) {
	b, err := codec.ReadFrame(r, MaxReplyFrame)
	if err != nil {
		return nil, err
	}
	return ParseReply(b)
}

// Payload.

// WritePayload writes the payload frame that follows an OK Reply.
func WritePayload(w io.Writer, b []byte) error {
	if len(b) > MaxPayloadFrame {
		return malformed("payload of %d bytes, limit %d", len(b), MaxPayloadFrame)
	}
	return codec.WriteFrame(w, b)
}

// ReadPayload reads the payload frame that follows an OK Reply. Its
// contents are the caller's to parse.
func ReadPayload(r io.Reader) ([]byte, error) {
	return codec.ReadFrame(r, MaxPayloadFrame)
}

// marshal encodes v with codec and checks the frame bound.
func marshal(what string, v any, max int) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return nil, malformed("%s: %w", what, err)
	}
	if len(b) > max {
		return nil, malformed("%s of %d bytes, limit %d", what, len(b), max)
	}
	return b, nil
}

// Head.

func checkHead(h *Head) error {
	if err := checkCID("head record", h.Record); err != nil {
		return err
	}
	return checkCID("head manifest", h.Manifest)
}

func headToWire(h *Head) headWire {
	return headWire{
		MiMei: h.MiMei[:], Number: h.Number, Time: h.Time.UnixMilli(),
		Record: h.Record.Bytes(), Manifest: h.Manifest.Bytes(),
		Epoch: h.Epoch, Blocks: h.Blocks, Bytes: h.Bytes,
	}
}

func headFromWire(w *headWire) (Head, error) {
	m, err := mimeiFrom("head", w.MiMei)
	if err != nil {
		return Head{}, err
	}
	rec, err := castCID("head record", w.Record)
	if err != nil {
		return Head{}, err
	}
	man, err := castCID("head manifest", w.Manifest)
	if err != nil {
		return Head{}, err
	}
	return Head{
		MiMei: m, Number: w.Number, Time: time.UnixMilli(w.Time).UTC(),
		Record: rec, Manifest: man, Epoch: w.Epoch, Blocks: w.Blocks, Bytes: w.Bytes,
	}, nil
}

// EncodeHead encodes h. Time is truncated to the millisecond.
func EncodeHead(h *Head) ([]byte, error) {
	if err := checkHead(h); err != nil {
		return nil, err
	}
	w := headToWire(h)
	return marshal("head", &w, MaxRequestPayload)
}

// ParseHead decodes one Head strictly.
func ParseHead(b []byte) (*Head, error) {
	var w headWire
	if err := unmarshal("head", b, MaxRequestPayload, &w); err != nil {
		return nil, err
	}
	h, err := headFromWire(&w)
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Catalog.

func checkRights(r *WireRights) error {
	if n := len(r.Writers) + len(r.Readers); n > MaxRightsEntries {
		return malformed("rights of %d entries, limit %d", n, MaxRightsEntries)
	}
	if err := checkText("owner", r.Owner, MaxPersonaLen); err != nil {
		return err
	}
	for _, list := range []struct {
		what string
		ps   []string
	}{{"writer", r.Writers}, {"reader", r.Readers}} {
		for i, p := range list.ps {
			if err := checkText(fmt.Sprintf("%s %d", list.what, i), p, MaxPersonaLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCatalog checks c; heads must already have passed checkHead.
func checkCatalog(c *Catalog) error {
	if err := checkTexts(c.Author, c.AppType, c.Ext, c.Mark); err != nil {
		return err
	}
	if err := checkRights(&c.Rights); err != nil {
		return err
	}
	switch {
	case len(c.Heads) > MaxHeads:
		return malformed("catalog of %d heads, limit %d", len(c.Heads), MaxHeads)
	case len(c.Last) > MaxPointerLen:
		return malformed("last pointer of %d bytes, limit %d", len(c.Last), MaxPointerLen)
	case len(c.Release) > MaxPointerLen:
		return malformed("release pointer of %d bytes, limit %d", len(c.Release), MaxPointerLen)
	}
	for i := range c.Heads {
		h := &c.Heads[i]
		if h.MiMei != c.MiMei {
			return malformed("catalog head %d is of another MiMei", i)
		}
		if i > 0 && h.Number <= c.Heads[i-1].Number {
			return malformed("catalog heads not strictly ascending at %d", i)
		}
	}
	return nil
}

// EncodeCatalog encodes c and checks the limits a reader applies.
func EncodeCatalog(c *Catalog) ([]byte, error) {
	for i := range c.Heads {
		if err := checkHead(&c.Heads[i]); err != nil {
			return nil, err
		}
	}
	if err := checkCatalog(c); err != nil {
		return nil, err
	}
	w := catalogWire{
		Format: Format, MiMei: c.MiMei[:],
		Author: c.Author, AppType: c.AppType, Ext: c.Ext, Mark: c.Mark,
		Rights: rightsWire{Owner: c.Rights.Owner, Writers: c.Rights.Writers, Readers: c.Rights.Readers, Public: c.Rights.Public},
		Heads:  make([]headWire, len(c.Heads)),
		Last:   c.Last, Release: c.Release, Epoch: c.Epoch,
	}
	for i := range c.Heads {
		w.Heads[i] = headToWire(&c.Heads[i])
	}
	return marshal("catalog", &w, MaxPayloadFrame)
}

// ParseCatalog decodes one Catalog strictly. A Format other than 1 gives
// ErrUnknownFormat.
func ParseCatalog(b []byte) (*Catalog, error) {
	if len(b) > MaxPayloadFrame {
		return nil, malformed("catalog of %d bytes, limit %d", len(b), MaxPayloadFrame)
	}
	if err := checkFormat("catalog", b); err != nil {
		return nil, err
	}
	var w catalogWire
	if err := unmarshal("catalog", b, MaxPayloadFrame, &w); err != nil {
		return nil, err
	}
	if len(w.Heads) > MaxHeads {
		return nil, malformed("catalog of %d heads, limit %d", len(w.Heads), MaxHeads)
	}
	m, err := mimeiFrom("catalog", w.MiMei)
	if err != nil {
		return nil, err
	}
	c := &Catalog{
		MiMei: m, Author: w.Author, AppType: w.AppType, Ext: w.Ext, Mark: w.Mark,
		Rights: WireRights{Owner: w.Rights.Owner, Writers: nonEmpty(w.Rights.Writers), Readers: nonEmpty(w.Rights.Readers), Public: w.Rights.Public},
		Last:   nonEmpty(w.Last), Release: nonEmpty(w.Release), Epoch: w.Epoch,
	}
	if len(w.Heads) > 0 {
		c.Heads = make([]Head, len(w.Heads))
		for i := range w.Heads {
			if c.Heads[i], err = headFromWire(&w.Heads[i]); err != nil {
				return nil, fmt.Errorf("catalog head %d: %w", i, err)
			}
		}
	}
	if err := checkCatalog(c); err != nil {
		return nil, err
	}
	return c, nil
}

// nonEmpty returns s, or nil if it is empty: nil and empty are one value on
// the wire, and parsers return nil.
func nonEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Offer.

func checkOffer(o *Offer) error {
	if err := checkTexts(o.Author, o.AppType, o.Ext, o.Mark); err != nil {
		return err
	}
	return checkText("offer note", o.Note, MaxMessageLen)
}

// EncodeOffer encodes o and checks the limits a reader applies.
func EncodeOffer(o *Offer) ([]byte, error) {
	if err := checkOffer(o); err != nil {
		return nil, err
	}
	return marshal("offer", &offerWire{
		MiMei: o.MiMei[:], Author: o.Author, AppType: o.AppType, Ext: o.Ext, Mark: o.Mark,
		Write: o.Write, Note: o.Note,
	}, MaxRequestPayload)
}

// ParseOffer decodes one Offer strictly.
func ParseOffer(b []byte) (*Offer, error) {
	var w offerWire
	if err := unmarshal("offer", b, MaxRequestPayload, &w); err != nil {
		return nil, err
	}
	m, err := mimeiFrom("offer", w.MiMei)
	if err != nil {
		return nil, err
	}
	o := &Offer{MiMei: m, Author: w.Author, AppType: w.AppType, Ext: w.Ext, Mark: w.Mark, Write: w.Write, Note: w.Note}
	if err := checkOffer(o); err != nil {
		return nil, err
	}
	return o, nil
}

// Manifest.

func checkManifestShape(nBlocks int, codecs, checks []byte) error {
	switch {
	case nBlocks == 0 || nBlocks > MaxManifestEntries:
		return malformed("manifest of %d blocks, want 1 to %d", nBlocks, MaxManifestEntries)
	case len(codecs) != nBlocks:
		return malformed("manifest of %d blocks has %d codec bytes", nBlocks, len(codecs))
	case len(checks) != 0 && len(checks) != nBlocks*sealing.CheckSize:
		return malformed("manifest of %d blocks has %d check bytes, want none or %d", nBlocks, len(checks), nBlocks*sealing.CheckSize)
	}
	for i, c := range codecs {
		if c != CodecRaw && c != CodecDagCBOR {
			return malformed("manifest codec byte %d is %#x", i, c)
		}
	}
	return nil
}

// EncodeManifest encodes m and checks the limits a reader applies.
func EncodeManifest(m *Manifest) ([]byte, error) {
	if err := checkManifestShape(len(m.Blocks), m.Codecs, m.Checks); err != nil {
		return nil, err
	}
	w := manifestWire{Format: ManifestFormat, Blocks: make([][]byte, len(m.Blocks)), Codecs: m.Codecs, Checks: m.Checks}
	if m.Next.Defined() {
		if err := checkCID("manifest next", m.Next); err != nil {
			return nil, err
		}
		w.Next = m.Next.Bytes()
	}
	for i, c := range m.Blocks {
		if err := checkCID(fmt.Sprintf("manifest block %d", i), c); err != nil {
			return nil, err
		}
		w.Blocks[i] = c.Bytes()
	}
	return marshal("manifest", &w, codec.MaxRecordSize)
}

// ParseManifest decodes one manifest block strictly. A Format other than
// ManifestFormat gives ErrUnknownFormat.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > codec.MaxRecordSize {
		return nil, malformed("manifest of %d bytes, limit %d", len(b), codec.MaxRecordSize)
	}
	if err := checkFormatIs("manifest", b, ManifestFormat); err != nil {
		return nil, err
	}
	var w manifestWire
	if err := unmarshal("manifest", b, codec.MaxRecordSize, &w); err != nil {
		return nil, err
	}
	if err := checkManifestShape(len(w.Blocks), w.Codecs, w.Checks); err != nil {
		return nil, err
	}
	m := &Manifest{Blocks: make([]cid.CID, len(w.Blocks)), Codecs: w.Codecs}
	if len(w.Checks) > 0 {
		m.Checks = w.Checks
	}
	if len(w.Next) > 0 {
		next, err := castCID("manifest next", w.Next)
		if err != nil {
			return nil, err
		}
		m.Next = next
	}
	for i, raw := range w.Blocks {
		c, err := castCID(fmt.Sprintf("manifest block %d", i), raw)
		if err != nil {
			return nil, err
		}
		m.Blocks[i] = c
	}
	return m, nil
}

// OwnList.

// OwnEntry is one MiMei of the persona in an OwnList: its ID and the
// number of versions it has (the newest is Versions-1; 0: none yet).
type OwnEntry struct {
	MiMei    [MiMeiLen]byte
	Versions uint64
}

// OwnList answers KindList: one page of the MiMei the persona owns, as a
// device of that persona holds them, in ID order from the request's
// index. More says another page follows.
//
// Wire form: [Format, [[MiMei (20 bytes), Versions]…], More].
type OwnList struct {
	Entries []OwnEntry
	More    bool
}

type ownEntryWire struct {
	_        struct{} `cbor:",toarray"`
	MiMei    []byte
	Versions uint64
}

type ownListWire struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	Entries []ownEntryWire
	More    bool
}

// EncodeOwnList encodes l and checks the limits a reader applies.
func EncodeOwnList(l *OwnList) ([]byte, error) {
	if len(l.Entries) > MaxListEntries {
		return nil, malformed("list of %d entries, limit %d", len(l.Entries), MaxListEntries)
	}
	w := ownListWire{Format: Format, Entries: make([]ownEntryWire, len(l.Entries)), More: l.More}
	for i, e := range l.Entries {
		w.Entries[i] = ownEntryWire{MiMei: e.MiMei[:], Versions: e.Versions}
	}
	return marshal("list", &w, MaxPayloadFrame)
}

// ParseOwnList decodes one OwnList strictly. A Format other than 1 gives
// ErrUnknownFormat.
func ParseOwnList(b []byte) (*OwnList, error) {
	if len(b) > MaxPayloadFrame {
		return nil, malformed("list of %d bytes, limit %d", len(b), MaxPayloadFrame)
	}
	if err := checkFormat("list", b); err != nil {
		return nil, err
	}
	var w ownListWire
	if err := unmarshal("list", b, MaxPayloadFrame, &w); err != nil {
		return nil, err
	}
	if len(w.Entries) > MaxListEntries {
		return nil, malformed("list of %d entries, limit %d", len(w.Entries), MaxListEntries)
	}
	l := &OwnList{Entries: make([]OwnEntry, len(w.Entries)), More: w.More}
	for i, e := range w.Entries {
		m, err := mimeiFrom("list entry", e.MiMei)
		if err != nil {
			return nil, err
		}
		l.Entries[i] = OwnEntry{MiMei: m, Versions: e.Versions}
	}
	return l, nil
}
