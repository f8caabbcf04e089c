package apibackend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/mimeidb"
)

// fixture is what the adapters stand on: a key store and a MiMei store in
// memory, signing with the key store's device key.
type fixture struct {
	keys  *keystore.Store
	mimei *mimei.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ks, _, err := keystore.Create(filepath.Join(t.TempDir(), "keys"), keystore.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mimei.NewStore(mimei.Options{
		KV: memkv.New(), Blocks: memstore.New(),
		Signer: func(persona string) (mimei.Signer, error) {
			cert, err := ks.DeviceCert(persona)
			if err != nil {
				return mimei.Signer{}, err
			}
			return mimei.Signer{Device: ks.DeviceKey(), Cert: cert}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{keys: ks, mimei: st}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Code != code {
		t.Fatalf("%s: got %v, want an API error with code %s", what, err, code)
	}
}

// TestStore follows a MiMei through the adapter: made by the default
// persona, a file put, a backup that tells AfterBackup, and the size of the
// store directory in the stats.
func TestStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index"), make([]byte, 1234), 0o600); err != nil {
		t.Fatal(err)
	}
	type backup struct {
		id mimei.ID
		n  uint64
	}
	var told []backup
	a := &Store{MiMei: f.mimei, Keys: f.keys, StoreDir: dir,
		AfterBackup: func(id mimei.ID, n uint64) { told = append(told, backup{id, n}) }}

	m, err := a.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "files"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Author != f.keys.DefaultPersona().ID || m.Rights.Owner != m.Author {
		t.Fatalf("author %s owner %s, want the default persona %s", m.Author, m.Rights.Owner, f.keys.DefaultPersona().ID)
	}
	if _, err := a.CreateMiMei(ctx, apiv1.CreateMiMei{Persona: "nobody"}); err == nil {
		t.Fatal("a MiMei by an unknown persona was made")
	} else {
		wantCode(t, "unknown persona", err, apiv1.CodeUnknownPersona)
	}
	if _, err := a.PutFile(ctx, m.ID, "/notes.txt", strings.NewReader("hello"), httpapi.PutFile{}); err != nil {
		t.Fatal(err)
	}
	v, err := a.Backup(ctx, m.ID, "first")
	if err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0].id.String() != m.ID || told[0].n != v.Number {
		t.Fatalf("AfterBackup was told %v, want once of %s version %d", told, m.ID, v.Number)
	}
	_, err = a.GetMiMei(ctx, "not-an-id")
	wantCode(t, "bad ID", err, apiv1.CodeBadRequest)

	s, err := a.StoreStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.IndexBytes != 1234 || s.MiMei != 1 {
		t.Fatalf("stats %+v, want 1 MiMei and 1234 index bytes", s)
	}

	// Without a hook or a directory, the same calls work.
	bare := &Store{MiMei: f.mimei, Keys: f.keys}
	if _, err := bare.Backup(ctx, m.ID, "second"); err != nil {
		t.Fatal(err)
	}
	if s, err := bare.StoreStats(ctx); err != nil || s.IndexBytes != 0 {
		t.Fatalf("bare stats %+v %v, want 0 index bytes", s, err)
	}
}

// TestStoreGCReportsVersionDBs: GC's answer counts the read copy of a
// version's database that it drops once the version is gone, and its bytes.
func TestStoreGCReportsVersionDBs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := &Store{MiMei: f.mimei, Keys: f.keys}
	m, err := a.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"HSET", "h", "f", "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Backup(ctx, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Reading version 0's database makes its read copy.
	if r, err := a.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"HGET", "h", "f"}, Version: "0"}); err != nil || r.Bulk == nil || *r.Bulk != "v" {
		t.Fatalf("HGET h f of version 0: %+v, %v", r, err)
	}
	if rep, err := a.StoreGC(ctx); err != nil || rep.VersionDBs != 0 {
		t.Fatalf("GC with the version kept: %+v, %v; want no version database dropped", rep, err)
	}
	if err := a.DeleteVersion(ctx, m.ID, "0", true); err != nil {
		t.Fatal(err)
	}
	rep, err := a.StoreGC(ctx)
	if err != nil || rep.VersionDBs != 1 || rep.VersionDBBytes <= 0 {
		t.Fatalf("GC after the version was deleted: %+v, %v; want 1 version database and its bytes", rep, err)
	}
}

func TestIdentityStatus(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	started := time.Now().Add(-time.Minute)
	id := &Identity{Keys: f.keys, Device: "12D3KooWdevice", Started: started, DataDir: "/data"}
	st, err := id.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.API != "" || st.Device != "12D3KooWdevice" || st.Persona != f.keys.DefaultPersona().ID || st.Personas != 1 ||
		st.DataDir != "/data" || st.UptimeSeconds < 60 {
		t.Fatalf("status %+v", st)
	}
	id.APIURL = func() string { return "http://127.0.0.1:5050" }
	if st, _ := id.Status(ctx); st.API != "http://127.0.0.1:5050" {
		t.Fatalf("API %q, want the URL APIURL gives", st.API)
	}
	p, err := id.NewPersona(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.NewPersona(ctx, "work"); err == nil {
		t.Fatal("a second persona named work was made")
	} else {
		wantCode(t, "name taken", err, apiv1.CodeConflict)
	}
	c, err := id.DeviceCert(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Persona != p.ID || !c.Verified {
		t.Fatalf("device cert %+v, want a verified one for %s", c, p.ID)
	}
}

// TestShareNetworkOff: without the sharing service or its flows the
// endpoints answer network_off rather than failing on a nil pointer.
func TestShareNetworkOff(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m, err := f.mimei.Create(mimei.Spec{Author: f.keys.DefaultPersona().ID, AppType: "files", Mark: mimei.AutoMark},
		mimei.Rights{Owner: f.keys.DefaultPersona().ID}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := &Share{MiMei: f.mimei, Contacts: nil}
	_, err = a.Sharing(ctx, m.ID.String())
	wantCode(t, "Sharing", err, apiv1.CodeNetworkOff)
	_, err = a.Share(ctx, m.ID.String(), apiv1.ShareRequest{Public: true})
	wantCode(t, "Share", err, apiv1.CodeNetworkOff)
	_, err = a.Fetch(ctx, m.ID.String(), apiv1.FetchRequest{})
	wantCode(t, "Fetch", err, apiv1.CodeNetworkOff)
	_, err = a.SharedWithMe(ctx)
	wantCode(t, "SharedWithMe", err, apiv1.CodeNetworkOff)
	bs, err := a.Branches(ctx, m.ID.String())
	if err != nil || len(bs) != 0 {
		t.Fatalf("branches %v %v, want none (they need no network)", bs, err)
	}
}

// TestDBReplyBudget: a database command whose reply would exceed
// mimeidb.MaxReplyElements is refused with 413 too_large and the Redis-style
// message, on cur and on a frozen version.
func TestDBReplyBudget(t *testing.T) {
	old := mimeidb.MaxReplyElements
	mimeidb.MaxReplyElements = 2
	t.Cleanup(func() { mimeidb.MaxReplyElements = old })
	ctx := context.Background()
	f := newFixture(t)
	a := &Store{MiMei: f.mimei, Keys: f.keys}
	m, err := a.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"HSET", "h", "a", "1", "b", "2", "c", "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Backup(ctx, m.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"", "0"} {
		_, err := a.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"HGETALL", "h"}, Version: version})
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != 413 || he.Code != apiv1.CodeTooLarge ||
			he.Message != "ERR reply too large: HGETALL of 3 fields exceeds 2; use HSCAN" {
			t.Fatalf("HGETALL of version %q: %#v, want 413 too_large", version, err)
		}
		if r, err := a.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"HSCAN", "h", "0", "COUNT", "10"}, Version: version}); err != nil || len(r.Array) != 2 || len(r.Array[1].Array) != 4 {
			t.Fatalf("HSCAN of version %q: %+v, %v; want 2 fields and a cursor", version, r, err)
		}
	}
}
