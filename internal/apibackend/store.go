package apibackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/mimeidb"
)

// Store adapts the MiMei store to the HTTP API (httpapi.StoreBackend): it
// parses IDs and version references, converts domain values to wire types
// and maps domain errors to statuses and codes. MiMei and Keys are
// required; set every field before the API serves.
type Store struct {
	MiMei *mimei.Store
	// Keys resolves the persona a request names (its author); "" is the
	// default persona.
	Keys PersonaResolver
	// AfterBackup is told of every version a backup made (sharing pushes
	// it to subscribers and own devices); nil: nobody is.
	AfterBackup func(id mimei.ID, version uint64)
	// StoreDir is the embedded store's directory, whose size on disk
	// StoreStats reports as IndexBytes; "": 0.
	StoreDir string
}

// PersonaResolver is what Store needs of the key store (*keystore.Store).
type PersonaResolver interface {
	DefaultPersona() keystore.PersonaInfo
	Persona(ref string) (keystore.PersonaInfo, error)
}

var _ PersonaResolver = (*keystore.Store)(nil)

func storeError(err error) error {
	if err == nil {
		return nil
	}
	var he *httpapi.Error
	if errors.As(err, &he) {
		return err
	}
	e := func(status int, code string) error { return httpapi.Errorf(status, code, "%v", err) }
	switch {
	case errors.Is(err, mimei.ErrNotFound), errors.Is(err, mimei.ErrNoFile), errors.Is(err, mimei.ErrNoRef):
		return e(http.StatusNotFound, apiv1.CodeNotFound)
	case errors.Is(err, mimei.ErrNoVersion):
		return e(http.StatusNotFound, apiv1.CodeNoVersion)
	case errors.Is(err, keystore.ErrUnknownPersona):
		return e(http.StatusNotFound, apiv1.CodeUnknownPersona)
	// mimei.ErrBadName (a name put, mkdir, mv or an import may not make) wraps ErrBadPath.
	case errors.Is(err, mimei.ErrBadPath), errors.Is(err, mimei.ErrBadRef), errors.Is(err, mimei.ErrBadSpec),
		errors.Is(err, mimei.ErrBadRights), errors.Is(err, mimei.ErrBadID):
		return e(http.StatusBadRequest, apiv1.CodeBadRequest)
	case errors.Is(err, mimei.ErrExists), errors.Is(err, mimei.ErrExistsAt):
		return e(http.StatusConflict, apiv1.CodeExists)
	case errors.Is(err, mimei.ErrNotDir):
		return e(http.StatusBadRequest, apiv1.CodeNotDir)
	case errors.Is(err, mimei.ErrIsDir):
		return e(http.StatusBadRequest, apiv1.CodeIsDir)
	case errors.Is(err, mimei.ErrNotEmpty):
		return e(http.StatusConflict, apiv1.CodeNotEmpty)
	case errors.Is(err, mimei.ErrProtected):
		return e(http.StatusConflict, apiv1.CodeProtected)
	case errors.Is(err, mimei.ErrReferenced):
		return e(http.StatusConflict, apiv1.CodeReferenced)
	case errors.Is(err, cid.ErrIntegrity):
		return e(http.StatusInternalServerError, apiv1.CodeIntegrity)
	case errors.Is(err, mimei.ErrUnsupportedVersion), errors.Is(err, filetree.ErrUnsupportedVersion),
		errors.Is(err, dirtree.ErrUnsupportedVersion), errors.Is(err, mimeidb.ErrUnsupportedVersion):
		return e(http.StatusInternalServerError, apiv1.CodeUnsupported)
	case errors.Is(err, mimeidb.ErrWrongType):
		return e(http.StatusBadRequest, apiv1.CodeWrongType)
	case errors.Is(err, mimeidb.ErrConflict):
		return e(http.StatusConflict, apiv1.CodeTxConflict)
	case errors.Is(err, mimeidb.ErrReplyTooLarge):
		// The reply would exceed mimeidb.MaxReplyElements; the message says
		// what to use instead (HSCAN, SSCAN, ZSCAN, a smaller range).
		return e(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge)
	case errors.Is(err, mimeidb.ErrReadOnly):
		return e(http.StatusBadRequest, apiv1.CodeDBError)
	case errors.Is(err, mimeidb.ErrCorrupt), errors.Is(err, mimeidb.ErrUnsupportedVersion):
		return err
	}
	if isRedisError(err) {
		return e(http.StatusBadRequest, apiv1.CodeDBError)
	}
	return err
}

// isRedisError reports command errors of the database (bad arguments, not
// an integer…), which are the caller's fault.
func isRedisError(err error) bool {
	for _, s := range []error{mimeidb.ErrNotInteger, mimeidb.ErrOverflow, mimeidb.ErrNotFloat, mimeidb.ErrNaN,
		mimeidb.ErrNoSuchKey, mimeidb.ErrIndexOutOfRange, mimeidb.ErrSyntax, mimeidb.ErrWrongArgs,
		mimeidb.ErrUnknownCommand, mimeidb.ErrInvalidCursor, mimeidb.ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func parseMID(s string) (mimei.ID, error) {
	id, err := mimei.ParseID(s)
	if err != nil {
		return id, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "%v", err)
	}
	return id, nil
}

func cidString(c cid.CID) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

func wireRights(r mimei.Rights) apiv1.Rights {
	return apiv1.Rights{Owner: r.Owner, Writers: r.Writers, Readers: r.Readers, Public: r.Public}
}

func domainRights(r *apiv1.Rights, owner string) mimei.Rights {
	if r == nil {
		return mimei.Rights{Owner: owner}
	}
	out := mimei.Rights{Owner: r.Owner, Writers: r.Writers, Readers: r.Readers, Public: r.Public}
	if out.Owner == "" {
		out.Owner = owner
	}
	return out
}

func wireInfo(in mimei.Info) apiv1.MiMei {
	m := apiv1.MiMei{
		ID: in.ID.String(), Author: in.Spec.Author, AppType: in.Spec.AppType, Ext: in.Spec.Ext, Mark: in.Spec.Mark,
		Rights: wireRights(in.Rights), Created: in.Created, Keep: in.Keep, Versions: in.Versions,
		Last: in.Last, Release: in.Release, Files: in.Files, Bytes: in.Bytes, Keys: in.Keys, RefsIn: in.RefsIn,
		Pins: in.Pins, Modified: in.Modified, Shows: in.Shows, Base: in.Base, Diverged: in.Diverged,
	}
	if o := in.Origin; o != nil {
		m.Origin = &apiv1.Origin{MiMei: o.MiMei.String(), Version: o.Version, Record: cidString(o.Record)}
	}
	return m
}

func wireFile(e mimei.Entry) apiv1.FileInfo {
	return apiv1.FileInfo{Path: e.Path, Name: e.Name(), Dir: e.Dir, Size: e.Size, MIME: e.MIME, ModTime: e.ModTime,
		Created: e.Created, Root: cidString(e.Root)}
}

func wireVersion(v mimei.VersionInfo) apiv1.Version {
	return apiv1.Version{
		MiMei: v.MiMei.String(), Number: v.Number, Record: cidString(v.CID), Parent: cidString(v.Parent), Time: v.Time,
		Memo: v.Memo, Files: cidString(v.Files), DB: cidString(v.DB), Author: v.Author, Last: v.Last, Release: v.Release,
		Pinned: v.Pinned, RefsIn: v.RefsIn,
	}
}

func (a *Store) info(id mimei.ID) (apiv1.MiMei, error) {
	in, err := a.MiMei.Info(id)
	if err != nil {
		return apiv1.MiMei{}, storeError(err)
	}
	return wireInfo(in), nil
}

func (a *Store) persona(ref string) (string, error) {
	if ref == "" {
		return a.Keys.DefaultPersona().ID, nil
	}
	p, err := a.Keys.Persona(ref)
	if err != nil {
		return "", storeError(err)
	}
	return p.ID, nil
}

func (a *Store) CreateMiMei(ctx context.Context, req apiv1.CreateMiMei) (apiv1.MiMei, error) {
	author, err := a.persona(req.Persona)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	mark := req.Mark
	if mark == "" {
		mark = mimei.AutoMark
	}
	m, err := a.MiMei.Create(mimei.Spec{Author: author, AppType: req.AppType, Ext: req.Ext, Mark: mark},
		domainRights(req.Rights, author), req.Keep)
	if err != nil {
		return apiv1.MiMei{}, storeError(err)
	}
	return a.info(m.ID)
}

func (a *Store) ListMiMei(ctx context.Context) ([]apiv1.MiMei, error) {
	ms, err := a.MiMei.Registry().List()
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]apiv1.MiMei, 0, len(ms))
	for _, m := range ms {
		w, err := a.info(m.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func (a *Store) GetMiMei(ctx context.Context, mid string) (apiv1.MiMei, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	return a.info(id)
}

func (a *Store) UpdateMiMei(ctx context.Context, mid string, req apiv1.UpdateMiMei) (apiv1.MiMei, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	if req.Rights != nil {
		m, err := a.MiMei.Registry().Get(id)
		if err != nil {
			return apiv1.MiMei{}, storeError(err)
		}
		if _, err := a.MiMei.Registry().SetRights(id, domainRights(req.Rights, m.Rights.Owner)); err != nil {
			return apiv1.MiMei{}, storeError(err)
		}
	}
	if req.Keep != nil {
		if err := a.MiMei.SetKeep(ctx, id, *req.Keep); err != nil {
			return apiv1.MiMei{}, storeError(err)
		}
	}
	return a.info(id)
}

func (a *Store) DeleteMiMei(ctx context.Context, mid string, force bool) error {
	id, err := parseMID(mid)
	if err != nil {
		return err
	}
	return storeError(a.MiMei.Delete(id, force))
}

func (a *Store) PutFile(ctx context.Context, mid, path string, body io.Reader, opts httpapi.PutFile) (apiv1.FileInfo, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	po := mimei.PutOptions{MIME: opts.MIME, Parents: opts.Parents, Progress: opts.Progress}
	if opts.ModTime > 0 {
		po.ModTime = time.UnixMilli(opts.ModTime)
	}
	e, err := a.MiMei.Put(ctx, id, path, body, po)
	if err != nil {
		return apiv1.FileInfo{}, storeError(err)
	}
	return wireFile(e), nil
}

// file is an open file: the tree reader verifies every block it reads.
type file struct{ *filetree.Reader }

func (file) Close() error { return nil }

func (f file) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	return n, storeError(err)
}

func (a *Store) OpenFile(ctx context.Context, mid, version, path string) (apiv1.FileInfo, httpapi.File, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FileInfo{}, nil, err
	}
	e, r, err := a.MiMei.Open(ctx, id, version, path)
	if err != nil {
		return apiv1.FileInfo{}, nil, storeError(err)
	}
	return wireFile(e), file{r}, nil
}

func (a *Store) Stat(ctx context.Context, mid, version, path string) (apiv1.FileInfo, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	e, err := a.MiMei.Stat(ctx, id, version, path)
	if err != nil {
		return apiv1.FileInfo{}, storeError(err)
	}
	return wireFile(e), nil
}

func (a *Store) List(ctx context.Context, mid, version, path, after string, limit int) ([]apiv1.FileInfo, bool, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, false, err
	}
	es, more, err := a.MiMei.ListPage(ctx, id, version, path, after, limit)
	if err != nil {
		return nil, false, storeError(err)
	}
	out := make([]apiv1.FileInfo, len(es))
	for i, e := range es {
		out[i] = wireFile(e)
	}
	return out, more, nil
}

func (a *Store) Mkdir(ctx context.Context, mid string, req apiv1.Mkdir) (apiv1.FileInfo, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	e, err := a.MiMei.Mkdir(id, req.Path, req.Parents)
	if err != nil {
		return apiv1.FileInfo{}, storeError(err)
	}
	return wireFile(e), nil
}

func (a *Store) Move(ctx context.Context, mid string, req apiv1.Move) (apiv1.FileInfo, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	e, err := a.MiMei.Move(id, req.From, req.To)
	if err != nil {
		return apiv1.FileInfo{}, storeError(err)
	}
	return wireFile(e), nil
}

func (a *Store) Remove(ctx context.Context, mid, path string, recursive bool) error {
	id, err := parseMID(mid)
	if err != nil {
		return err
	}
	return storeError(a.MiMei.Remove(id, path, recursive))
}

func (a *Store) Import(ctx context.Context, mid, dir string, tar io.Reader) (apiv1.ImportResult, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.ImportResult{}, err
	}
	res, err := a.MiMei.Import(ctx, id, dir, tar, nil)
	out := apiv1.ImportResult{Files: res.Files, Dirs: res.Dirs, Bytes: res.Bytes}
	if err != nil {
		return out, storeError(fmt.Errorf("after %d files: %w", res.Files, err))
	}
	return out, nil
}

var replyKinds = map[mimeidb.ReplyKind]string{
	mimeidb.KindNil: "nil", mimeidb.KindInt: "int", mimeidb.KindBulk: "bulk", mimeidb.KindFloat: "float",
	mimeidb.KindStatus: "status", mimeidb.KindArray: "array",
}

func wireReply(r mimeidb.Reply, top bool) apiv1.DBReply {
	out := apiv1.DBReply{Kind: replyKinds[r.Kind], Int: r.Int, Status: r.Status}
	switch r.Kind {
	case mimeidb.KindBulk:
		s := string(r.Bulk)
		out.Bulk = &s
	case mimeidb.KindFloat:
		out.Float = mimeidb.FormatFloat(r.Float)
	case mimeidb.KindArray:
		out.Array = make([]apiv1.DBReply, len(r.Array))
		for i, x := range r.Array {
			out.Array[i] = wireReply(x, false)
		}
	}
	if top {
		out.Text = r.String()
	}
	return out
}

func (a *Store) DB(ctx context.Context, mid string, cmd apiv1.DBCommand) (apiv1.DBReply, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.DBReply{}, err
	}
	if len(cmd.Args) == 0 {
		return apiv1.DBReply{}, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "no command: send args like [\"GET\", \"key\"]")
	}
	var r mimeidb.Reply
	if cmd.Version == "" || cmd.Version == mimei.RefCur {
		db, err := a.MiMei.DB(id)
		if err != nil {
			return apiv1.DBReply{}, storeError(err)
		}
		r, err = db.ExecStrings(cmd.Args...)
		if err != nil {
			return apiv1.DBReply{}, storeError(err)
		}
	} else {
		view, err := a.MiMei.VersionDB(ctx, id, cmd.Version)
		if err != nil {
			return apiv1.DBReply{}, storeError(err)
		}
		if r, err = view.ExecStrings(cmd.Args...); err != nil {
			return apiv1.DBReply{}, storeError(err)
		}
	}
	return wireReply(r, true), nil
}

func (a *Store) ReadRef(ctx context.Context, mid, version string) (string, bool, error) {
	id, err := parseMID(mid)
	if err != nil {
		return "", false, err
	}
	v, received, err := a.MiMei.ReadRef(id, version)
	return v, received, storeError(err)
}

func (a *Store) Backup(ctx context.Context, mid, memo string) (apiv1.Version, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	v, err := a.MiMei.Backup(ctx, id, memo)
	if err != nil {
		return apiv1.Version{}, storeError(err)
	}
	if a.AfterBackup != nil {
		a.AfterBackup(id, v.Number)
	}
	return wireVersion(v), nil
}

func (a *Store) Versions(ctx context.Context, mid string) ([]apiv1.Version, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, err
	}
	vs, err := a.MiMei.Versions(ctx, id)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]apiv1.Version, len(vs))
	for i, v := range vs {
		out[i] = wireVersion(v)
	}
	return out, nil
}

func (a *Store) Release(ctx context.Context, mid, version string) (apiv1.Version, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	v, err := a.MiMei.Release(ctx, id, version)
	if err != nil {
		return apiv1.Version{}, storeError(err)
	}
	return wireVersion(v), nil
}

func (a *Store) Restore(ctx context.Context, mid, version string) (apiv1.Version, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	v, err := a.MiMei.Restore(ctx, id, version)
	if err != nil {
		return apiv1.Version{}, storeError(err)
	}
	return wireVersion(v), nil
}

func (a *Store) DeleteVersion(ctx context.Context, mid, version string, force bool) error {
	id, err := parseMID(mid)
	if err != nil {
		return err
	}
	return storeError(a.MiMei.DeleteVersion(ctx, id, version, force))
}

func (a *Store) Diff(ctx context.Context, mid, from, to string, limit int) (apiv1.Diff, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Diff{}, err
	}
	d, err := a.MiMei.DiffWith(ctx, id, from, to, mimei.DiffOptions{Limit: limit})
	if err != nil {
		return apiv1.Diff{}, storeError(err)
	}
	out := apiv1.Diff{From: from, To: to, Files: make([]apiv1.FileChange, 0, len(d.Files)), Keys: make([]apiv1.KeyChange, 0, len(d.Keys)),
		FileCount: d.FileCount, KeyCount: d.KeyCount, FilesTruncated: d.FilesTruncated, KeysTruncated: d.KeysTruncated}
	for _, c := range d.Files {
		fc := apiv1.FileChange{Path: c.Path, Op: string(c.Op), Old: cidString(c.Old.Root), New: cidString(c.New.Root)}
		fc.Dir = c.Old.Kind == dirtree.KindDir || c.New.Kind == dirtree.KindDir
		out.Files = append(out.Files, fc)
	}
	for _, k := range d.Keys {
		out.Keys = append(out.Keys, apiv1.KeyChange{Key: string(k.Key), Op: string(k.Op)})
	}
	return out, nil
}

func (a *Store) Fork(ctx context.Context, mid string, req apiv1.Fork) (apiv1.MiMei, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	src, err := a.MiMei.Registry().Get(id)
	if err != nil {
		return apiv1.MiMei{}, storeError(err)
	}
	author, err := a.persona(req.Persona)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	spec := mimei.Spec{Author: author, AppType: req.AppType, Ext: req.Ext, Mark: req.Mark}
	if spec.AppType == "" {
		spec.AppType, spec.Ext = src.Spec.AppType, src.Spec.Ext
	}
	if spec.Mark == "" {
		spec.Mark = mimei.AutoMark
	}
	m, err := a.MiMei.Fork(ctx, id, req.Version, spec, mimei.Rights{Owner: author}, 0)
	if err != nil {
		return apiv1.MiMei{}, storeError(err)
	}
	return a.info(m.ID)
}

func wireRef(r mimei.RefCount) apiv1.RefCount {
	return apiv1.RefCount{From: r.From.String(), To: r.To.String(), Version: r.Version, Count: r.Count}
}

func (a *Store) Refs(ctx context.Context, mid string) (apiv1.Refs, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Refs{}, err
	}
	out, in, err := a.MiMei.Refs(id)
	if err != nil {
		return apiv1.Refs{}, storeError(err)
	}
	res := apiv1.Refs{Out: []apiv1.RefCount{}, In: []apiv1.RefCount{}}
	for _, r := range out {
		res.Out = append(res.Out, wireRef(r))
	}
	for _, r := range in {
		res.In = append(res.In, wireRef(r))
	}
	return res, nil
}

func (a *Store) changeRef(ctx context.Context, mid string, ref apiv1.Ref, add bool) (apiv1.RefCount, error) {
	from, err := parseMID(mid)
	if err != nil {
		return apiv1.RefCount{}, err
	}
	to, err := parseMID(ref.To)
	if err != nil {
		return apiv1.RefCount{}, err
	}
	var r mimei.RefCount
	if add {
		r, err = a.MiMei.AddRef(ctx, from, to, ref.Version)
	} else {
		r, err = a.MiMei.DropRef(ctx, from, to, ref.Version)
	}
	if err != nil {
		return apiv1.RefCount{}, storeError(err)
	}
	return wireRef(r), nil
}

func (a *Store) AddRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	return a.changeRef(ctx, mid, ref, true)
}

func (a *Store) DropRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	return a.changeRef(ctx, mid, ref, false)
}

func (a *Store) pin(ctx context.Context, mid, version string, on bool) (apiv1.Version, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	var v mimei.VersionInfo
	if on {
		v, err = a.MiMei.Pin(ctx, id, version)
	} else {
		v, err = a.MiMei.Unpin(ctx, id, version)
	}
	if err != nil {
		return apiv1.Version{}, storeError(err)
	}
	return wireVersion(v), nil
}

func (a *Store) Pin(ctx context.Context, mid, version string) (apiv1.Version, error) {
	return a.pin(ctx, mid, version, true)
}

func (a *Store) Unpin(ctx context.Context, mid, version string) (apiv1.Version, error) {
	return a.pin(ctx, mid, version, false)
}

func (a *Store) StoreStats(ctx context.Context) (apiv1.StoreStats, error) {
	s, err := a.MiMei.Stats(ctx)
	if err != nil {
		return apiv1.StoreStats{}, storeError(err)
	}
	out := apiv1.StoreStats{Blocks: s.Blocks, LiveBytes: s.LiveBytes, OverheadBytes: s.OverheadBytes, DeadBytes: s.DeadBytes,
		DiskBytes: s.DiskBytes, Packs: s.Packs, MiMei: s.MiMei, Versions: s.Versions}
	if a.StoreDir != "" {
		out.IndexBytes = dirSize(a.StoreDir)
	}
	return out, nil
}

func (a *Store) StoreVerify(ctx context.Context) (apiv1.VerifyReport, error) {
	r, err := a.MiMei.Verify(ctx)
	if err != nil {
		return apiv1.VerifyReport{}, storeError(err)
	}
	out := apiv1.VerifyReport{Checked: r.Checked, Bytes: r.Bytes, Problems: []apiv1.StoreProblem{}, OK: r.OK()}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, apiv1.StoreProblem{CID: cidString(p.CID), Kind: string(p.Kind), Detail: p.Err})
	}
	for _, c := range r.Missing {
		out.Missing = append(out.Missing, c.String())
	}
	for _, b := range r.Broken {
		out.Problems = append(out.Problems, apiv1.StoreProblem{Kind: "unreadable", Detail: b})
	}
	return out, nil
}

func (a *Store) StoreGC(ctx context.Context) (apiv1.GCReport, error) {
	r, err := a.MiMei.GC(ctx)
	if err != nil {
		return apiv1.GCReport{}, storeError(err)
	}
	return apiv1.GCReport{Marked: r.Marked, Swept: r.Swept, SweptBytes: r.SweptBytes,
		VersionDBs: r.VersionDBs, VersionDBBytes: r.VersionDBBytes, PacksRewritten: r.Compact.PacksRewritten,
		PacksPunched: r.Compact.PacksPunched, BytesPunched: r.Compact.BytesPunched,
		BytesFreed: r.Compact.BytesFreed, DiskBefore: r.DiskBefore, DiskAfter: r.DiskAfter}, nil
}

var _ httpapi.StoreBackend = (*Store)(nil)

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
