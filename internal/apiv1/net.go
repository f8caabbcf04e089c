package apiv1

import "time"

// Error codes of the network endpoints.
const (
	CodeNetworkOff    = "network_off"    // the node runs without the peer-to-peer network
	CodeNotFoundPeer  = "peer_not_found" // no discovery source knows the persona or peer
	CodeUnreachable   = "unreachable"    // found, but no device could be connected to
	CodeBadInvite     = "bad_invite"     // the invite is malformed or was tampered with
	CodeInviteExpired = "invite_expired" // the invite's time is up
	CodeInviteUsed    = "invite_used"    // the invite was already accepted
	CodeBlocked       = "blocked"        // the target is blocked
)

// Conn is one open connection to another peer.
type Conn struct {
	PeerID    string    `json:"peer_id"`
	Persona   string    `json:"persona,omitempty"` // when known
	Name      string    `json:"name,omitempty"`    // contact pet name, when a contact
	Addr      string    `json:"addr"`
	Direction string    `json:"direction"` // "inbound" or "outbound"
	Relayed   bool      `json:"relayed"`
	Transport string    `json:"transport"` // "tcp", "quic", "relay", …
	Opened    time.Time `json:"opened"`
}

// NetStatus is GET /api/v1/net: how this node stands on the network.
type NetStatus struct {
	Enabled      bool      `json:"enabled"`
	PeerID       string    `json:"peer_id"`
	Reachability string    `json:"reachability"` // "public", "private" or "unknown"
	NATType      string    `json:"nat_type"`     // "cone", "symmetric" or "unknown"
	ListenAddrs  []string  `json:"listen_addrs"`
	Addrs        []string  `json:"addrs"`  // advertised, relay addresses included
	Relays       []string  `json:"relays"` // relays holding a reservation for us
	DHTMode      string    `json:"dht_mode"`
	RoutingTable int       `json:"routing_table"`
	Index        bool      `json:"index"` // serving as an index peer
	IndexEntries int       `json:"index_entries"`
	Indexes      []string  `json:"indexes"` // index peers configured
	Published    time.Time `json:"published,omitzero"`
	PublishError string    `json:"publish_error,omitempty"`
	Direct       int       `json:"direct"`
	RelayedConns int       `json:"relayed_conns"`
	Conns        []Conn    `json:"conns"`
	HolePunch    HolePunch `json:"hole_punch"`
}

// HolePunch counts hole punches (DCUtR: turning a relayed connection into
// a direct one) since the node started.
type HolePunch struct {
	Succeeded int       `json:"succeeded"`
	Failed    int       `json:"failed"`
	LastPeer  string    `json:"last_peer,omitempty"`
	LastError string    `json:"last_error,omitempty"` // of the latest one, if it failed
	Last      time.Time `json:"last,omitzero"`
}

// Target is the body of POST /api/v1/peers/ping and /api/v1/peers/connect:
// a persona did:key, a contact's pet name, a peer ID or a multiaddr ending
// in /p2p/<peer ID>.
type Target struct {
	Target string `json:"target"`
}

// PingResult is the answer of POST /api/v1/peers/ping.
type PingResult struct {
	PeerID  string  `json:"peer_id"`
	Persona string  `json:"persona,omitempty"`
	RTTMs   float64 `json:"rtt_ms"`
	Relayed bool    `json:"relayed"`
	Source  string  `json:"source,omitempty"` // where the persona was found: cache, dht, index …, contact …
}

// ConnectResult is the answer of POST /api/v1/peers/connect.
type ConnectResult struct {
	PeerID  string `json:"peer_id"`
	Persona string `json:"persona,omitempty"`
	Relayed bool   `json:"relayed"`
	Source  string `json:"source,omitempty"`
}

// CreateInvite is the body of POST /api/v1/invites.
type CreateInvite struct {
	TTLSeconds int64  `json:"ttl_seconds,omitempty"` // default 24 h; at most 30 days
	Name       string `json:"name,omitempty"`        // how we suggest being called; default the persona's name
	// ContactName is the pet name whoever accepts gets here; default the
	// name they suggest (unless "default"), else contact-<6 characters>.
	ContactName string `json:"contact_name,omitempty"`
}

// Invite is a new invite: give Link (or its QR code) to one person.
type Invite struct {
	ID      string    `json:"id"`
	Link    string    `json:"link"`
	Expires time.Time `json:"expires"`
	QRSVG   string    `json:"qr_svg,omitempty"` // an SVG QR code of Link, when asked for (?qr=1)
}

// PendingInvite is an invite not yet used and not expired.
type PendingInvite struct {
	ID          string    `json:"id"`
	Expires     time.Time `json:"expires"`
	ContactName string    `json:"contact_name,omitempty"` // the pet name whoever accepts gets
}

// AcceptInvite is the body of POST /api/v1/invites/accept.
type AcceptInvite struct {
	Link string `json:"link"`
	Name string `json:"name,omitempty"` // pet name for the inviter; default the name the invite suggests
}

// Contact is a persona added as a contact.
type Contact struct {
	Persona  string    `json:"persona"`
	Name     string    `json:"name"`
	Added    time.Time `json:"added"`
	Blocked  bool      `json:"blocked"`
	Online   bool      `json:"online"`
	Devices  []string  `json:"devices,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// AddContact is the body of POST /api/v1/contacts (add by persona ID).
type AddContact struct {
	Persona string `json:"persona"`
	Name    string `json:"name"`
}

// UpdateContact is the body of PATCH /api/v1/contacts/{ref}.
type UpdateContact struct {
	Name *string `json:"name,omitempty"`
}

// Blocked lists what is blocked: personas and raw peer IDs.
type Blocked struct {
	Personas []string `json:"personas"`
	Peers    []string `json:"peers"`
}

// PairDevice is the body of POST /api/v1/devices/pair.
type PairDevice struct {
	TTLSeconds int64 `json:"ttl_seconds,omitempty"` // default 10 minutes; at most 1 hour
}

// PairCode is a one-time code by which one new device joins this persona
// (`peer device join CODE` on the new device).
type PairCode struct {
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// OwnDevice is one device of this persona.
type OwnDevice struct {
	PeerID string    `json:"peer_id"`
	Name   string    `json:"name,omitempty"`
	This   bool      `json:"this"`            // the device answering
	Online bool      `json:"online"`          // connected to it now
	Added  time.Time `json:"added,omitzero"`  // when it was paired (not for this device)
	Addrs  []string  `json:"addrs,omitempty"` // last known addresses
}
