package httpapi

import (
	"context"
	"io"

	"github.com/peer-node/peer/internal/apiv1"
)

// File is an open file of a MiMei's file space: seekable for range requests.
type File interface {
	io.ReadSeeker
	io.Closer
}

// PutFile carries what a file upload says about the file besides its bytes.
type PutFile struct {
	MIME    string // from Content-Type; empty = guess from the name
	ModTime int64  // Unix ms from X-Peer-Mtime; 0 = now
	Parents bool   // create missing parent directories
	// Progress, if set, is called with the bytes stored so far.
	Progress func(n int64)
}

// StoreBackend is the MiMei store the API serves under /api/v1/mimei and
// /api/v1/store. Version arguments are apiv1.RefCur, RefLast, RefRelease or a
// decimal number; "" means cur. Paths are slash-separated without a leading
// slash; "" is the root directory. Errors map to statuses as for Backend.
type StoreBackend interface {
	CreateMiMei(ctx context.Context, req apiv1.CreateMiMei) (apiv1.MiMei, error)
	ListMiMei(ctx context.Context) ([]apiv1.MiMei, error)
	GetMiMei(ctx context.Context, mid string) (apiv1.MiMei, error)
	UpdateMiMei(ctx context.Context, mid string, req apiv1.UpdateMiMei) (apiv1.MiMei, error)
	DeleteMiMei(ctx context.Context, mid string, force bool) error

	PutFile(ctx context.Context, mid, path string, body io.Reader, opts PutFile) (apiv1.FileInfo, error)
	OpenFile(ctx context.Context, mid, version, path string) (apiv1.FileInfo, File, error)
	Stat(ctx context.Context, mid, version, path string) (apiv1.FileInfo, error)
	// List returns at most limit (positive) entries of the directory at
	// path whose names sort after after (bytewise; "" from the first), in
	// name order, and whether more follow.
	List(ctx context.Context, mid, version, path, after string, limit int) ([]apiv1.FileInfo, bool, error)
	Mkdir(ctx context.Context, mid string, req apiv1.Mkdir) (apiv1.FileInfo, error)
	Move(ctx context.Context, mid string, req apiv1.Move) (apiv1.FileInfo, error)
	Remove(ctx context.Context, mid, path string, recursive bool) error
	// Import unpacks a tar stream (regular files and directories only)
	// under dir.
	Import(ctx context.Context, mid, dir string, tar io.Reader) (apiv1.ImportResult, error)

	DB(ctx context.Context, mid string, cmd apiv1.DBCommand) (apiv1.DBReply, error)

	// ReadRef says which version a read of version of mid shows: for cur
	// ("" too) of a MiMei with no working copy here (received from
	// someone else, cur empty), the number of its newest version and
	// true; otherwise version as given and false.
	ReadRef(ctx context.Context, mid, version string) (string, bool, error)

	Backup(ctx context.Context, mid, memo string) (apiv1.Version, error)
	Versions(ctx context.Context, mid string) ([]apiv1.Version, error)
	Release(ctx context.Context, mid, version string) (apiv1.Version, error)
	Restore(ctx context.Context, mid, version string) (apiv1.Version, error)
	DeleteVersion(ctx context.Context, mid, version string, force bool) error
	// Diff lists at most limit (1 to apiv1.DiffMaxLimit) changes of each
	// kind and counts them all.
	Diff(ctx context.Context, mid, from, to string, limit int) (apiv1.Diff, error)
	Fork(ctx context.Context, mid string, req apiv1.Fork) (apiv1.MiMei, error)

	Refs(ctx context.Context, mid string) (apiv1.Refs, error)
	AddRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error)
	DropRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error)
	Pin(ctx context.Context, mid, version string) (apiv1.Version, error)
	Unpin(ctx context.Context, mid, version string) (apiv1.Version, error)

	StoreStats(ctx context.Context) (apiv1.StoreStats, error)
	StoreVerify(ctx context.Context) (apiv1.VerifyReport, error)
	StoreGC(ctx context.Context) (apiv1.GCReport, error)
}
