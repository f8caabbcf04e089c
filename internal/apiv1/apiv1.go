// Package apiv1 holds the wire types of the node's HTTP API under /api/v1:
// the JSON bodies the server sends and the Go client decodes. They are kept
// apart from domain types (the server converts at the edge) so the domain can
// change without breaking clients.
//
// It is a leaf package: the HTTP server, the Go client and tests import it.
package apiv1

import (
	"encoding/json"
	"time"
)

// Error codes carried in Error.Code. Clients branch on these, not on text.
const (
	CodeBadRequest     = "bad_request"
	CodeUnauthorized   = "unauthorized"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeMethod         = "method_not_allowed"
	CodeConflict       = "conflict"
	CodeTooLarge       = "too_large"
	CodeUnsupportedMT  = "unsupported_media_type"
	CodeInternal       = "internal"
	CodeUnavailable    = "unavailable"
	CodeUnknownPersona = "unknown_persona"
	CodeDiskFull       = "disk_full" // HTTP 507: the disk's free space is below the node's reserve; free space, then retry
)

// Error is the body of every non-2xx answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Status answers GET /api/v1/status.
type Status struct {
	Version       string    `json:"version"`
	Persona       string    `json:"persona"`
	Device        string    `json:"device"`
	API           string    `json:"api"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Personas      int       `json:"personas"`
	Sealed        bool      `json:"sealed"`
	DataDir       string    `json:"data_dir"`
	Disk          *Disk     `json:"disk,omitempty"`
}

// Disk is the disk under the data directory as the node budgets it
// (docs/api.md, "Disk space"). Level is "ok", "low" (below Warn) or "full"
// (below Reserve: new data is refused with disk_full).
type Disk struct {
	Level   string `json:"level"`
	Free    int64  `json:"free"`
	Total   int64  `json:"total"`
	Reserve int64  `json:"reserve"`
	Warn    int64  `json:"warn"`
	// ReadOnly: the node started on a disk too full to open its store for
	// writing; it serves reads and refuses every write until restarted.
	ReadOnly bool `json:"read_only,omitempty"`
}

// Device describes this node's device identity. It never carries a private key.
type Device struct {
	PeerID    string `json:"peer_id"`
	PublicKey string `json:"public_key"` // base64 (std) of the 32-byte Ed25519 key
}

// IdentityQR answers GET /api/v1/identity/qr: the default persona's ID and
// this device's peer ID, each drawn as an SVG QR code of the ID's text (for
// a phone to scan instead of copying a long string). An ID the node does
// not have yet gives no SVG.
type IdentityQR struct {
	PersonaSVG string `json:"persona_svg,omitempty"`
	DeviceSVG  string `json:"device_svg,omitempty"`
}

// Identity answers GET /api/v1/identity.
type Identity struct {
	Persona  Persona   `json:"persona"` // the default persona
	Device   Device    `json:"device"`
	Personas []Persona `json:"personas"`
}

// Persona is one persona held by this node.
type Persona struct {
	ID      string    `json:"id"` // did:key
	Name    string    `json:"name"`
	Index   uint32    `json:"index"`
	Created time.Time `json:"created"`
	Default bool      `json:"default"`
}

// NewPersona is the body of POST /api/v1/personas.
type NewPersona struct {
	Name string `json:"name,omitempty"`
}

// Personas answers GET /api/v1/personas.
type Personas struct {
	Personas []Persona `json:"personas"`
}

// DeviceCert answers GET /api/v1/personas/{ref}/certificate: the certificate
// by which a persona vouches for this node's device key.
type DeviceCert struct {
	Version   uint16    `json:"version"`
	Persona   string    `json:"persona"`
	Device    string    `json:"device"` // peer ID of the certified device
	Serial    uint64    `json:"serial"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Verified  bool      `json:"verified"`
	Encoded   string    `json:"encoded"` // base64 (std) of the signed, canonical encoding
}

// Event is one message on the event stream (GET /api/v1/events).
type Event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data,omitempty"`
}
