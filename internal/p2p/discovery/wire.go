package discovery

import (
	"fmt"
	"io"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/idrecord"
)

// Protocol IDs. Each is one request and one response per stream.
const (
	// ProtoID asks a peer for its own identity record.
	ProtoID = "/peer/id/1.0.0"
	// ProtoWhereIs asks a contact for the record of another persona, from
	// what it already knows (it never looks further on the asker's behalf).
	ProtoWhereIs = "/peer/whereis/1.0.0"
	// ProtoIndex registers a record with an index peer or looks one up.
	ProtoIndex = "/peer/index/1.0.0"
)

// WireVersion is the version of the request and response messages.
const WireVersion = 1

// MaxMessage bounds every message of these protocols: a record and a little
// framing.
const MaxMessage = idrecord.MaxSize + 512

// Operations.
const (
	OpLookup   = 1 // give me the record of Persona
	OpRegister = 2 // keep Record (index only)
)

// Status codes.
const (
	StatusOK         = 0
	StatusNotFound   = 1
	StatusRefused    = 2
	StatusBadRequest = 3
)

// Request is the one message a client sends.
type Request struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Op      uint8
	Persona string
	Record  []byte
}

// Response is the one message a server sends back.
type Response struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Status  uint8
	Error   string
	Record  []byte
}

// maxError bounds Response.Error.
const maxError = 256

func marshal(v any) ([]byte, error) { return codec.Marshal(v) }

func writeMsg(w io.Writer, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	return codec.WriteFrame(w, b)
}

// ReadRequest reads and checks one request.
func ReadRequest(r io.Reader) (*Request, error) {
	b, err := codec.ReadFrame(r, MaxMessage)
	if err != nil {
		return nil, err
	}
	return ParseRequest(b)
}

// ParseRequest decodes a request strictly.
func ParseRequest(b []byte) (*Request, error) {
	var q Request
	if err := codec.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("discovery: request: %w", err)
	}
	switch {
	case q.Version != WireVersion:
		return nil, fmt.Errorf("discovery: request version %d, want %d", q.Version, WireVersion)
	case q.Op != OpLookup && q.Op != OpRegister:
		return nil, fmt.Errorf("discovery: unknown operation %d", q.Op)
	case len(q.Persona) > 128:
		return nil, fmt.Errorf("discovery: persona of %d bytes", len(q.Persona))
	case len(q.Record) > idrecord.MaxSize:
		return nil, fmt.Errorf("discovery: record of %d bytes", len(q.Record))
	}
	return &q, nil
}

// ReadResponse reads and checks one response.
func ReadResponse(r io.Reader) (*Response, error) {
	b, err := codec.ReadFrame(r, MaxMessage)
	if err != nil {
		return nil, err
	}
	return ParseResponse(b)
}

// ParseResponse decodes a response strictly.
func ParseResponse(b []byte) (*Response, error) {
	var p Response
	if err := codec.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("discovery: response: %w", err)
	}
	switch {
	case p.Version != WireVersion:
		return nil, fmt.Errorf("discovery: response version %d, want %d", p.Version, WireVersion)
	case p.Status > StatusBadRequest:
		return nil, fmt.Errorf("discovery: unknown status %d", p.Status)
	case len(p.Error) > maxError:
		return nil, fmt.Errorf("discovery: error text of %d bytes", len(p.Error))
	case len(p.Record) > idrecord.MaxSize:
		return nil, fmt.Errorf("discovery: record of %d bytes", len(p.Record))
	}
	return &p, nil
}
