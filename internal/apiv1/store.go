package apiv1

import "time"

// Error codes of the MiMei store endpoints.
const (
	CodeIntegrity   = "integrity"   // a stored block failed its hash check; the message names the CID
	CodeUnsupported = "unsupported" // an unknown format version was met
	CodeReferenced  = "referenced"  // the MiMei or version is referenced or pinned; retry with force
	CodeProtected   = "protected"   // the version is the release; retry with force
	CodeNotDir      = "not_a_dir"   // a directory was expected
	CodeIsDir       = "is_a_dir"    // a file was expected
	CodeExists      = "exists"      // the path or MiMei already exists
	CodeWrongType   = "wrong_type"  // a database command met a key of another type (Redis WRONGTYPE)
	CodeDBError     = "db_error"    // a database command failed (Redis-style message)
	CodeTxConflict  = "conflict_tx" // an optimistic transaction lost a race; retry
	CodeNotEmpty    = "not_empty"   // a directory is not empty; retry with recursive
	CodeNoVersion   = "no_version"  // the version asked for does not exist
)

// Version references accepted wherever a "version" parameter is taken:
// "cur" (the live, writable state; the default), "last", "release", or a
// version number in decimal.
const (
	RefCur     = "cur"
	RefLast    = "last"
	RefRelease = "release"
)

// Rights of a MiMei: who may do what. Personas are did:key strings.
type Rights struct {
	Owner   string   `json:"owner"`
	Writers []string `json:"writers,omitempty"`
	Readers []string `json:"readers,omitempty"`
	Public  bool     `json:"public"`
}

// CreateMiMei is the body of POST /api/v1/mimei.
type CreateMiMei struct {
	Persona string  `json:"persona,omitempty"` // author: ID, name or index; default persona if empty
	AppType string  `json:"app_type"`
	Ext     string  `json:"ext,omitempty"`
	Mark    string  `json:"mark,omitempty"` // "auto" (default when empty) gives a fresh ID
	Rights  *Rights `json:"rights,omitempty"`
	Keep    int     `json:"keep,omitempty"` // retention: 0 = keep every version, K = keep the last K
}

// UpdateMiMei is the body of PATCH /api/v1/mimei/{mid}; absent fields are unchanged.
type UpdateMiMei struct {
	Rights *Rights `json:"rights,omitempty"`
	Keep   *int    `json:"keep,omitempty"`
}

// Origin records where a forked MiMei came from.
type Origin struct {
	MiMei   string `json:"mimei"`
	Version uint64 `json:"version"`
	Record  string `json:"record"` // CID of the version record forked
}

// MiMei describes one MiMei (GET /api/v1/mimei/{mid}, items of the list).
type MiMei struct {
	ID       string    `json:"id"`
	Author   string    `json:"author"`
	AppType  string    `json:"app_type"`
	Ext      string    `json:"ext"`
	Mark     string    `json:"mark"`
	Rights   Rights    `json:"rights"`
	Created  time.Time `json:"created"`
	Keep     int       `json:"keep"`              // 0 = keep all versions
	Versions int       `json:"versions"`          // versions held
	Last     *uint64   `json:"last,omitempty"`    // number of the last version
	Release  *uint64   `json:"release,omitempty"` // number of the released version
	Files    int64     `json:"files"`             // files in cur
	Bytes    int64     `json:"bytes"`             // bytes of the files in cur
	Keys     int64     `json:"keys"`              // database keys in cur
	RefsIn   int64     `json:"refs_in"`           // references from other MiMei (counted)
	Pins     int       `json:"pins"`              // pinned versions
	Origin   *Origin   `json:"origin,omitempty"`  // set on forks
	Modified time.Time `json:"modified,omitzero"` // last change to cur
	// Shows is set when the MiMei has no working copy here (received from
	// someone else): reads of cur show this version, and files, bytes,
	// keys and modified are its figures.
	Shows *uint64 `json:"shows,omitempty"`
	// Base is the version cur is based on (the next backup follows it);
	// Diverged counts versions that arrived from another device or a
	// writer and cur did not take because it had changes of its own (see
	// GET …/branches, kind "diverged").
	Base     *uint64 `json:"base,omitempty"`
	Diverged int     `json:"diverged,omitempty"`
}

// MiMeiList answers GET /api/v1/mimei.
type MiMeiList struct {
	MiMei []MiMei `json:"mimei"`
}

// FileInfo describes a file or directory in a MiMei's file space.
type FileInfo struct {
	Path    string    `json:"path"` // slash-separated, no leading slash; "" is the root
	Name    string    `json:"name"`
	Dir     bool      `json:"dir"`
	Size    int64     `json:"size"` // file bytes; for a directory, bytes of all files beneath (frozen versions) or 0
	MIME    string    `json:"mime,omitempty"`
	ModTime time.Time `json:"mod_time"`
	Created time.Time `json:"created,omitzero"`
	Root    string    `json:"root,omitempty"` // CID of the file's Merkle root
}

// A directory listing (GET /api/v1/mimei/{mid}/ls) answers a page of at
// most ?limit= entries, ListLimit if not given, at most MaxListLimit.
const (
	ListLimit    = 1000
	MaxListLimit = 10000
)

// FileList answers GET /api/v1/mimei/{mid}/ls/{path...}.
type FileList struct {
	Path    string     `json:"path"`
	Version string     `json:"version"`
	Entries []FileInfo `json:"entries"`
	// Next is set when more entries follow: ask again with ?after=Next
	// (the last name of Entries) for the next page.
	Next string `json:"next,omitempty"`
	// Received: cur was asked for, but the MiMei has no working copy here
	// (received from someone else): Version is the newest version, shown
	// instead.
	Received bool `json:"received,omitempty"`
}

// Mkdir is the body of POST /api/v1/mimei/{mid}/mkdir.
type Mkdir struct {
	Path    string `json:"path"`
	Parents bool   `json:"parents,omitempty"` // create missing parents, no error if it exists
}

// Move is the body of POST /api/v1/mimei/{mid}/mv.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ImportResult answers POST /api/v1/mimei/{mid}/import (a tar stream).
type ImportResult struct {
	Files int   `json:"files"`
	Dirs  int   `json:"dirs"`
	Bytes int64 `json:"bytes"`
}

// DBCommand is the body of POST /api/v1/mimei/{mid}/db.
type DBCommand struct {
	Args    []string `json:"args"`              // e.g. ["HSET", "h", "f", "v"]
	Version string   `json:"version,omitempty"` // read-only commands may target a frozen version
}

// DBReply answers a database command. Kind is one of "nil", "int", "bulk",
// "float", "status", "array"; the value is in the matching field.
type DBReply struct {
	Kind   string    `json:"kind"`
	Int    int64     `json:"int,omitempty"`
	Bulk   *string   `json:"bulk,omitempty"`
	Float  string    `json:"float,omitempty"` // formatted as Redis does
	Status string    `json:"status,omitempty"`
	Array  []DBReply `json:"array,omitempty"`
	Text   string    `json:"text"` // how redis-cli would print it
	// Version and Received (top level only): a read of cur of a MiMei
	// with no working copy here ran on its newest version, Version.
	Version  string `json:"version,omitempty"`
	Received bool   `json:"received,omitempty"`
}

// Backup is the body of POST /api/v1/mimei/{mid}/backup.
type Backup struct {
	Memo string `json:"memo,omitempty"`
}

// Version describes one frozen version.
type Version struct {
	MiMei   string    `json:"mimei"`
	Number  uint64    `json:"number"`
	Record  string    `json:"record"`           // CID of the signed version record
	Parent  string    `json:"parent,omitempty"` // CID of the parent record
	Time    time.Time `json:"time"`
	Memo    string    `json:"memo,omitempty"`
	Files   string    `json:"files,omitempty"` // CID of the directory tree
	DB      string    `json:"db,omitempty"`    // CID of the database export
	Author  string    `json:"author"`
	Last    bool      `json:"last,omitempty"`
	Release bool      `json:"release,omitempty"`
	Pinned  bool      `json:"pinned,omitempty"`
	RefsIn  int64     `json:"refs_in,omitempty"`
}

// VersionList answers GET /api/v1/mimei/{mid}/versions.
type VersionList struct {
	Versions []Version `json:"versions"`
}

// VersionRef is the body of release and restore: which version.
type VersionRef struct {
	Version string `json:"version"`
}

// FileChange is one line of a diff.
type FileChange struct {
	Path string `json:"path"`
	Op   string `json:"op"` // "added", "removed", "changed"
	Dir  bool   `json:"dir,omitempty"`
	Old  string `json:"old,omitempty"` // root CIDs
	New  string `json:"new,omitempty"`
}

// KeyChange is one changed database key.
type KeyChange struct {
	Key string `json:"key"`
	Op  string `json:"op"` // "added", "removed", "changed"
}

// Diff limits: how many changes of each kind GET .../diff lists without
// ?limit= and the most ?limit= may ask for.
const (
	DiffDefaultLimit = 10_000
	DiffMaxLimit     = 100_000
)

// Diff answers GET /api/v1/mimei/{mid}/diff?from=A&to=B&limit=N: the first
// N file changes (walk order) and the first N key changes (bytewise key
// order), and how many there are in all. A truncated list holds the first
// changes only; the counts count every change.
type Diff struct {
	From           string       `json:"from"`
	To             string       `json:"to"`
	Files          []FileChange `json:"files"`
	Keys           []KeyChange  `json:"keys"`
	FileCount      int          `json:"file_count"`
	KeyCount       int          `json:"key_count"`
	FilesTruncated bool         `json:"files_truncated"`
	KeysTruncated  bool         `json:"keys_truncated"`
}

// Fork is the body of POST /api/v1/mimei/{mid}/fork.
type Fork struct {
	Version string `json:"version,omitempty"` // default "last", else "cur" if there is no version
	Persona string `json:"persona,omitempty"`
	AppType string `json:"app_type,omitempty"` // default: the source's
	Ext     string `json:"ext,omitempty"`
	Mark    string `json:"mark,omitempty"` // default "auto"
}

// Ref is the body of POST/DELETE /api/v1/mimei/{mid}/refs: a reference from
// {mid} to another MiMei, optionally to one of its versions.
type Ref struct {
	To      string  `json:"to"`
	Version *uint64 `json:"version,omitempty"`
}

// RefCount is one outgoing or incoming reference.
type RefCount struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Version *uint64 `json:"version,omitempty"`
	Count   int64   `json:"count"`
}

// Refs answers GET /api/v1/mimei/{mid}/refs.
type Refs struct {
	Out []RefCount `json:"out"`
	In  []RefCount `json:"in"`
}

// Pin is the body of POST/DELETE /api/v1/mimei/{mid}/pins.
type Pin struct {
	Version string `json:"version"`
}

// StoreStats answers GET /api/v1/store/stats.
type StoreStats struct {
	Blocks        int64 `json:"blocks"`
	LiveBytes     int64 `json:"live_bytes"`
	OverheadBytes int64 `json:"overhead_bytes"`
	DeadBytes     int64 `json:"dead_bytes"`
	DiskBytes     int64 `json:"disk_bytes"`
	IndexBytes    int64 `json:"index_bytes"`
	Packs         int   `json:"packs"`
	MiMei         int   `json:"mimei"`
	Versions      int   `json:"versions"`
}

// StoreProblem is one bad block found by verify.
type StoreProblem struct {
	CID    string `json:"cid"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// VerifyReport answers POST /api/v1/store/verify.
type VerifyReport struct {
	Checked  int            `json:"checked"`
	Bytes    int64          `json:"bytes"`
	Problems []StoreProblem `json:"problems"`
	// Missing lists blocks that kept versions or cur need but the store lacks.
	Missing []string `json:"missing,omitempty"`
	OK      bool     `json:"ok"`
}

// GCReport answers POST /api/v1/store/gc.
type GCReport struct {
	Marked     int   `json:"marked"`
	Swept      int   `json:"swept"`
	SweptBytes int64 `json:"swept_bytes"`
	// VersionDBs are the read copies of versions' databases (vdb/)
	// dropped because their versions are gone, and VersionDBBytes the
	// bytes they held in the key-value store.
	VersionDBs     int   `json:"version_dbs"`
	VersionDBBytes int64 `json:"version_db_bytes"`
	PacksRewritten int   `json:"packs_rewritten"`
	// PacksPunched: packs too large to rewrite in the free space left,
	// whose dead records were given back in place (holes); BytesPunched is
	// what that gave back.
	PacksPunched int   `json:"packs_punched"`
	BytesPunched int64 `json:"bytes_punched"`
	BytesFreed   int64 `json:"bytes_freed"`
	DiskBefore   int64 `json:"disk_before"`
	DiskAfter    int64 `json:"disk_after"`
}
