package apiv1

import "time"

// Error codes of the sharing endpoints (besides CodeUnavailable: no
// provider of the MiMei answered).
const (
	CodeNotShared = "not_shared" // the MiMei is not shared with that persona (or not with us)
	CodeNotOwner  = "not_owner"  // only the MiMei's owner may do that
)

// ShareRequest is POST /api/v1/mimei/{mid}/shares: share a MiMei with a
// contact (With: pet name or did:key), or make it public.
type ShareRequest struct {
	With   string `json:"with,omitempty"`
	Write  bool   `json:"write,omitempty"`  // may push new versions too
	Public bool   `json:"public,omitempty"` // anyone may fetch it (With empty)
}

// Sharee is a persona a MiMei is shared with.
type Sharee struct {
	Persona string `json:"persona"`
	Name    string `json:"name,omitempty"` // contact pet name, when a contact
}

// Sharing is GET /api/v1/mimei/{mid}/shares: who may fetch a MiMei.
type Sharing struct {
	MiMei       string   `json:"mimei"`
	Owner       string   `json:"owner"`
	Public      bool     `json:"public"`
	Readers     []Sharee `json:"readers"`
	Writers     []Sharee `json:"writers"`
	Epoch       uint32   `json:"epoch"`       // current content-key epoch (0: none yet, or public)
	Subscribers int      `json:"subscribers"` // devices notified of new versions
	Published   int      `json:"published"`   // versions others can fetch
}

// Incoming is one entry of GET /api/v1/shared ("shared with me").
type Incoming struct {
	MiMei      string    `json:"mimei"`
	From       string    `json:"from"`
	FromName   string    `json:"from_name,omitempty"`
	Author     string    `json:"author"`
	AppType    string    `json:"app_type"`
	Ext        string    `json:"ext,omitempty"`
	Mark       string    `json:"mark,omitempty"`
	Write      bool      `json:"write"`
	Received   time.Time `json:"received"`
	Subscribed bool      `json:"subscribed"`
	Versions   int       `json:"versions"` // versions held here
	// Revoked is when the owner stopped sharing it with us (nothing new
	// can be fetched; what was fetched stays); absent while shared.
	Revoked *time.Time `json:"revoked,omitempty"`
}

// Subscribe is POST /api/v1/subscriptions: keep a MiMei shared with us up
// to date. Owner is needed only when no offer names it.
type Subscribe struct {
	MiMei string `json:"mimei"`
	Owner string `json:"owner,omitempty"`
}

// Subscription is one entry of GET /api/v1/subscriptions.
type Subscription struct {
	MiMei   string    `json:"mimei"`
	Owner   string    `json:"owner"`
	Since   time.Time `json:"since"`
	Checked time.Time `json:"checked,omitempty"`
	Have    uint64    `json:"have"` // newest version number held + 1 (0 = none)
	Error   string    `json:"error,omitempty"`
}

// FetchRequest is POST /api/v1/mimei/{mid}/fetch: fetch one version (or
// every published version not held) of a MiMei shared with us or public.
type FetchRequest struct {
	Version *uint64 `json:"version,omitempty"`
	Owner   string  `json:"owner,omitempty"`
}

// Fetched is one version that arrived.
type Fetched struct {
	Version  uint64 `json:"version"`
	Blocks   uint64 `json:"blocks"`  // blocks the version has
	Bytes    uint64 `json:"bytes"`   // their size
	Fetched  int    `json:"fetched"` // blocks that came over the network
	Skipped  int    `json:"skipped"` // blocks already here
	Conflict string `json:"conflict,omitempty"`
	// Diverged: the version is kept, but cur had changes of its own and
	// was kept too (GET …/branches lists it, kind "diverged").
	Diverged string `json:"diverged,omitempty"`
	// MovedCur: cur, unchanged here since its base, moved to the version.
	MovedCur bool `json:"moved_cur,omitempty"`
}

// FetchResult answers a fetch or a subscribe.
type FetchResult struct {
	MiMei    string    `json:"mimei"`
	Versions []Fetched `json:"versions"`
}

// Access is one entry of GET /api/v1/mimei/{mid}/access: who fetched which
// version when.
type Access struct {
	Time    time.Time `json:"time"`
	Version uint64    `json:"version"`
	Persona string    `json:"persona,omitempty"` // empty: a stranger (public MiMei)
	Name    string    `json:"name,omitempty"`
	Peer    string    `json:"peer"`
}

// CacheEntry is one entry of GET /api/v1/cache: a public MiMei kept as a
// cache.
type CacheEntry struct {
	MiMei   string    `json:"mimei"`
	Bytes   int64     `json:"bytes"`
	LastUse time.Time `json:"last_use"`
}

// Branch is one entry of GET /api/v1/mimei/{mid}/branches: a version kept
// beside the main line after a conflict (kind "conflict"), or a version on
// the line that cur did not take because cur had changes of its own
// (kind "diverged"; Base is the version cur was based on then).
type Branch struct {
	Version uint64  `json:"version"`
	Record  string  `json:"record"`
	Author  string  `json:"author,omitempty"`
	Memo    string  `json:"memo,omitempty"`
	Kind    string  `json:"kind,omitempty"`
	Base    *uint64 `json:"base,omitempty"`
}
