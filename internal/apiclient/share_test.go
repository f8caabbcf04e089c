package apiclient

import (
	"context"
	"net/http"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

func newShareClient(t *testing.T) (*Client, *httpapitest.Share) {
	t.Helper()
	sh := httpapitest.NewShare()
	ts := httpapitest.Serve(t, httpapi.Options{Share: sh})
	return New(ts.URL, httpapitest.Token), sh
}

func TestShareClient(t *testing.T) {
	c, _ := newShareClient(t)
	ctx := context.Background()
	mid := httpapitest.OwnMiMei

	sh, err := c.Share(ctx, mid, apiv1.ShareRequest{With: "carol"})
	if err != nil || len(sh.Readers) != 1 || sh.Readers[0].Persona != httpapitest.PersonaCarol {
		t.Fatalf("Share: %+v %v", sh, err)
	}
	sh, err = c.Share(ctx, mid, apiv1.ShareRequest{With: httpapitest.PersonaDave, Write: true})
	if err != nil || len(sh.Writers) != 1 {
		t.Fatalf("Share for writing: %+v %v", sh, err)
	}
	_, err = c.Share(ctx, mid, apiv1.ShareRequest{})
	wantCode(t, "Share with nobody", err, http.StatusBadRequest, apiv1.CodeBadRequest)
	_, err = c.Share(ctx, httpapitest.InMiMei, apiv1.ShareRequest{With: "carol"})
	wantCode(t, "Share another's MiMei", err, http.StatusForbidden, apiv1.CodeNotOwner)

	if sh, err = c.Sharing(ctx, mid); err != nil || len(sh.Readers)+len(sh.Writers) != 2 {
		t.Fatalf("Sharing: %+v %v", sh, err)
	}
	// A did:key travels in the path, colons and all.
	if sh, err = c.Unshare(ctx, mid, httpapitest.PersonaDave); err != nil || len(sh.Writers) != 0 || sh.Epoch != 2 {
		t.Fatalf("Unshare: %+v %v", sh, err)
	}
	_, err = c.Unshare(ctx, mid, "dave")
	wantCode(t, "Unshare twice", err, http.StatusForbidden, apiv1.CodeNotShared)
}

func TestSubscribeFetchClient(t *testing.T) {
	c, sh := newShareClient(t)
	ctx := context.Background()
	mid := httpapitest.InMiMei

	in, err := c.SharedWithMe(ctx)
	if err != nil || len(in) != 1 || in[0].MiMei != mid {
		t.Fatalf("SharedWithMe: %+v %v", in, err)
	}
	res, err := c.Subscribe(ctx, mid, "")
	if err != nil || len(res.Versions) != httpapitest.InVersions {
		t.Fatalf("Subscribe: %+v %v", res, err)
	}
	subs, err := c.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].MiMei != mid {
		t.Fatalf("Subscriptions: %+v %v", subs, err)
	}
	v := uint64(0)
	if res, err = c.Fetch(ctx, mid, apiv1.FetchRequest{Version: &v}); err != nil || len(res.Versions) != 1 || res.Versions[0].Version != 0 {
		t.Fatalf("Fetch version 0: %+v %v", res, err)
	}
	if res, err = c.Fetch(ctx, httpapitest.PublicMiMei, apiv1.FetchRequest{Owner: httpapitest.OwnerPublic}); err != nil || len(res.Versions) != 1 {
		t.Fatalf("Fetch public: %+v %v", res, err)
	}
	if err := c.Unsubscribe(ctx, mid); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "Unsubscribe twice", c.Unsubscribe(ctx, mid), http.StatusNotFound, apiv1.CodeNotFound)

	// 0 leaves the limit to the node.
	for limit, want := range map[int]int{0: 100, 1: 1, 500: 500} {
		if _, err := c.AccessLog(ctx, httpapitest.OwnMiMei, limit); err != nil || sh.LastLimit() != want {
			t.Errorf("AccessLog(%d): limit %d at the node, want %d (%v)", limit, sh.LastLimit(), want, err)
		}
	}
	_, err = c.AccessLog(ctx, httpapitest.OwnMiMei, 10001)
	wantCode(t, "AccessLog limit too high", err, http.StatusBadRequest, apiv1.CodeBadRequest)
	if l, err := c.Cache(ctx); err != nil || len(l) != 1 {
		t.Fatalf("Cache: %+v %v", l, err)
	}
	if l, err := c.Branches(ctx, mid); err != nil || len(l) != 1 {
		t.Fatalf("Branches: %+v %v", l, err)
	}
}

func TestShareClientNetworkOff(t *testing.T) {
	ts := httpapitest.Serve(t, httpapi.Options{})
	c := New(ts.URL, httpapitest.Token)
	_, err := c.SharedWithMe(context.Background())
	wantCode(t, "SharedWithMe without the network", err, http.StatusServiceUnavailable, apiv1.CodeNetworkOff)
}
