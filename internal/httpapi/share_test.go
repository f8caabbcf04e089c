package httpapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

func serveShare(t *testing.T, sh *httpapitest.Share) client {
	// The store is plugged in too: the sharing routes live beside the
	// store's under /api/v1/mimei/{mid}/ and must not shadow them.
	opts := httpapi.Options{MaxBodyBytes: 4096, Store: httpapitest.NewStore()}
	if sh != nil {
		opts.Share = sh
	}
	return client{t, httpapitest.Serve(t, opts).URL}
}

const (
	own    = "/api/v1/mimei/" + httpapitest.OwnMiMei
	in     = "/api/v1/mimei/" + httpapitest.InMiMei
	public = "/api/v1/mimei/" + httpapitest.PublicMiMei
)

// shareRoutes is every route of the sharing side, with a path that matches
// it and a body it accepts.
var shareRoutes = []struct {
	method, path string
	body         any
}{
	{"POST", own + "/shares", apiv1.ShareRequest{With: "carol"}},
	{"GET", own + "/shares", nil},
	{"DELETE", own + "/shares/carol", nil},
	{"GET", "/api/v1/shared", nil},
	{"POST", "/api/v1/subscriptions", apiv1.Subscribe{MiMei: httpapitest.InMiMei}},
	{"GET", "/api/v1/subscriptions", nil},
	{"DELETE", "/api/v1/subscriptions/" + httpapitest.InMiMei, nil},
	{"POST", in + "/fetch", apiv1.FetchRequest{}},
	{"GET", own + "/access", nil},
	{"GET", "/api/v1/cache", nil},
	{"GET", in + "/branches", nil},
}

func TestShareRoutesNeedToken(t *testing.T) {
	sh := httpapitest.NewShare()
	c := serveShare(t, sh)
	for _, rt := range shareRoutes {
		req, _ := http.NewRequest(rt.method, c.url+rt.path, strings.NewReader(`{"with":"carol"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: status %d, want 401", rt.method, rt.path, resp.StatusCode)
		}
	}
	if n := sh.Calls(); n != 0 {
		t.Errorf("%d unauthenticated calls reached the backend", n)
	}
}

func TestShareOff(t *testing.T) {
	c := serveShare(t, nil)
	for _, rt := range shareRoutes {
		resp, data := c.do(rt.method, rt.path, rt.body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(data), `"code": "network_off"`) {
			t.Errorf("%s %s without sharing: %d %s, want 503 network_off", rt.method, rt.path, resp.StatusCode, data)
		}
	}
	// The store's routes under the same prefix still answer.
	c.want(200, "", nil, "GET", "/api/v1/mimei", nil)
}

func TestShareAndUnshare(t *testing.T) {
	c := serveShare(t, httpapitest.NewShare())

	// Nobody yet: the lists are [], never null.
	_, data := c.do("GET", own+"/shares", nil)
	if !strings.Contains(string(data), `"readers": []`) || !strings.Contains(string(data), `"writers": []`) {
		t.Fatalf("sharing: %s", data)
	}

	var sh apiv1.Sharing
	c.want(200, "", &sh, "POST", own+"/shares", apiv1.ShareRequest{With: "carol"})
	if len(sh.Readers) != 1 || sh.Readers[0].Persona != httpapitest.PersonaCarol || sh.Readers[0].Name != "carol" || sh.Epoch != 1 {
		t.Fatalf("shared with carol: %+v", sh)
	}
	c.want(200, "", &sh, "POST", own+"/shares", apiv1.ShareRequest{With: " " + httpapitest.PersonaDave + " ", Write: true})
	if len(sh.Writers) != 1 || sh.Writers[0].Name != "dave" {
		t.Fatalf("shared with dave for writing: %+v", sh)
	}
	c.want(200, "", &sh, "GET", own+"/shares", nil)
	if len(sh.Readers) != 1 || len(sh.Writers) != 1 || sh.Subscribers != 2 {
		t.Fatalf("sharing: %+v", sh)
	}

	// Revoking rotates the key; a ref is a pet name or a did:key, escaped
	// or not.
	c.want(200, "", &sh, "DELETE", own+"/shares/carol", nil)
	if len(sh.Readers) != 0 || sh.Epoch != 2 {
		t.Fatalf("after unsharing carol: %+v", sh)
	}
	c.want(200, "", &sh, "DELETE", own+"/shares/"+url.PathEscape(httpapitest.PersonaDave), nil)
	if len(sh.Writers) != 0 || sh.Epoch != 3 {
		t.Fatalf("after unsharing dave: %+v", sh)
	}
	c.want(403, apiv1.CodeNotShared, nil, "DELETE", own+"/shares/carol", nil)

	c.want(200, "", &sh, "POST", own+"/shares", apiv1.ShareRequest{Public: true})
	if !sh.Public {
		t.Fatalf("made public: %+v", sh)
	}

	// What the backend refuses, with the status its code goes with.
	c.want(404, apiv1.CodeNotFound, nil, "POST", own+"/shares", apiv1.ShareRequest{With: "nobody"})
	c.want(403, apiv1.CodeNotOwner, nil, "POST", in+"/shares", apiv1.ShareRequest{With: "carol"})
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/mimei/mnothing/shares", nil)
}

func TestShareBadInput(t *testing.T) {
	sh := httpapitest.NewShare()
	c := serveShare(t, sh)
	long := strings.Repeat("x", httpapi.MaxTargetBytes+1)
	for _, tc := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"POST", own + "/shares", apiv1.ShareRequest{}, `in \"with\"`},
		{"POST", own + "/shares", apiv1.ShareRequest{With: "   "}, `in \"with\"`},
		{"POST", own + "/shares", apiv1.ShareRequest{With: "carol", Public: true}, "not both"},
		{"POST", own + "/shares", apiv1.ShareRequest{Public: true, Write: true}, "never public"},
		{"POST", own + "/shares", apiv1.ShareRequest{With: long}, "exceeds"},
		{"POST", own + "/shares", apiv1.ShareRequest{With: "a\x00b"}, "control"},
		{"POST", own + "/shares", `{"with":"carol","read":true}`, "unknown field"},
		{"POST", own + "/shares", "", "empty"},
		{"POST", "/api/v1/mimei/" + strings.Repeat("m", 129) + "/shares", apiv1.ShareRequest{With: "carol"}, "MiMei ID"},
		{"GET", "/api/v1/mimei/" + strings.Repeat("m", 129) + "/shares", nil, "MiMei ID"},
		{"DELETE", own + "/shares/" + long, nil, "contact"},
		{"DELETE", own + "/shares/a%0Ab", nil, "control"},
		{"POST", "/api/v1/subscriptions", apiv1.Subscribe{}, `in \"mimei\"`},
		{"POST", "/api/v1/subscriptions", apiv1.Subscribe{MiMei: " "}, `in \"mimei\"`},
		{"POST", "/api/v1/subscriptions", apiv1.Subscribe{MiMei: httpapitest.InMiMei, Owner: long}, "owner"},
		{"POST", "/api/v1/subscriptions", "", "empty"},
		{"DELETE", "/api/v1/subscriptions/a%01b", nil, "control"},
		{"POST", in + "/fetch", apiv1.FetchRequest{Owner: "a\tb"}, "control"},
		{"POST", in + "/fetch", `{"version":-1}`, "invalid JSON"},
		{"POST", in + "/fetch", `{"version":"last"}`, "invalid JSON"},
		{"POST", in + "/fetch", " ", "empty"},
		{"GET", own + "/access?limit=-1", nil, "limit"},
		{"GET", own + "/access?limit=10001", nil, "limit"},
		{"GET", own + "/access?limit=ten", nil, "limit"},
		{"GET", "/api/v1/mimei/a%7Fb/branches", nil, "control"},
	} {
		resp, data := c.do(tc.method, tc.path, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(string(data), `"bad_request"`) || !strings.Contains(string(data), tc.want) {
			t.Errorf("%s %s %v: %d %s, want 400 bad_request saying %s", tc.method, tc.path, tc.body, resp.StatusCode, data, tc.want)
		}
	}
	if n := sh.Calls(); n != 0 {
		t.Errorf("%d bad requests reached the backend", n)
	}
	// Too large for the body limit.
	c.want(413, apiv1.CodeTooLarge, nil, "POST", own+"/shares", apiv1.ShareRequest{With: strings.Repeat("x", 5000)})
}

func TestSubscribeAndFetch(t *testing.T) {
	sh := httpapitest.NewShare()
	c := serveShare(t, sh)

	var in0 []apiv1.Incoming
	c.want(200, "", &in0, "GET", "/api/v1/shared", nil)
	if len(in0) != 1 || in0[0].MiMei != httpapitest.InMiMei || in0[0].FromName != "carol" || in0[0].Subscribed {
		t.Fatalf("shared with me: %+v", in0)
	}
	if _, data := c.do("GET", "/api/v1/subscriptions", nil); strings.TrimSpace(string(data)) != "[]" {
		t.Fatalf("subscriptions before any: %s, want []", data)
	}

	// Subscribing fetches what there is.
	var res apiv1.FetchResult
	c.want(200, "", &res, "POST", "/api/v1/subscriptions", apiv1.Subscribe{MiMei: " " + httpapitest.InMiMei})
	if res.MiMei != httpapitest.InMiMei || len(res.Versions) != httpapitest.InVersions || res.Versions[1].Version != 1 {
		t.Fatalf("subscribe: %+v", res)
	}
	var subs []apiv1.Subscription
	c.want(200, "", &subs, "GET", "/api/v1/subscriptions", nil)
	if len(subs) != 1 || subs[0].Owner != httpapitest.PersonaCarol || subs[0].Have != httpapitest.InVersions {
		t.Fatalf("subscriptions: %+v", subs)
	}
	c.want(200, "", &in0, "GET", "/api/v1/shared", nil)
	if !in0[0].Subscribed || in0[0].Versions != httpapitest.InVersions {
		t.Fatalf("shared with me after subscribing: %+v", in0)
	}

	// Nothing new: the list is [], never null.
	_, data := c.do("POST", in+"/fetch", nil)
	if !strings.Contains(string(data), `"versions": []`) {
		t.Fatalf("fetch with nothing new: %s", data)
	}
	// An empty body, sent with a length or chunked, is {}.
	for _, body := range []any{"", io.MultiReader(strings.NewReader("")), apiv1.FetchRequest{}, "{}"} {
		c.want(200, "", nil, "POST", in+"/fetch", body)
	}
	one := uint64(1)
	c.want(200, "", &res, "POST", in+"/fetch", apiv1.FetchRequest{Version: &one})
	if len(res.Versions) != 1 || res.Versions[0].Version != 1 || res.Versions[0].Blocks != 4 {
		t.Fatalf("fetch version 1: %+v", res)
	}
	nine := uint64(9)
	c.want(404, apiv1.CodeNoVersion, nil, "POST", in+"/fetch", apiv1.FetchRequest{Version: &nine})
	c.want(503, apiv1.CodeUnavailable, nil, "POST", public+"/fetch", nil)
	c.want(200, "", &res, "POST", public+"/fetch", apiv1.FetchRequest{Owner: httpapitest.OwnerPublic})
	if len(res.Versions) != 1 {
		t.Fatalf("fetch public: %+v", res)
	}
	c.want(403, apiv1.CodeNotShared, nil, "POST", "/api/v1/subscriptions", apiv1.Subscribe{MiMei: "mnothing"})

	c.want(204, "", nil, "DELETE", "/api/v1/subscriptions/"+httpapitest.InMiMei, nil)
	c.want(404, apiv1.CodeNotFound, nil, "DELETE", "/api/v1/subscriptions/"+httpapitest.InMiMei, nil)

	sh.Fail("Fetch", errors.New("the exchange fell over"))
	c.want(500, apiv1.CodeInternal, nil, "POST", in+"/fetch", nil)
}

func TestAccessCacheBranches(t *testing.T) {
	sh := httpapitest.NewShare()
	c := serveShare(t, sh)

	for _, tc := range []struct {
		query      string
		limit, got int
	}{
		{"", 100, 2},
		{"?limit=1", 1, 1},
		{"?limit=0", 100, 2},
		{"?limit=10000", 10000, 2},
	} {
		var l []apiv1.Access
		_, data := c.do("GET", own+"/access"+tc.query, nil)
		c.want(200, "", &l, "GET", own+"/access"+tc.query, nil)
		if len(l) != tc.got || sh.LastLimit() != tc.limit || !strings.HasPrefix(string(data), "[") {
			t.Errorf("access%s: %d entries with limit %d (%s), want %d with limit %d", tc.query, len(l), sh.LastLimit(), data, tc.got, tc.limit)
		}
	}
	var l []apiv1.Access
	c.want(200, "", &l, "GET", own+"/access", nil)
	if l[1].Name != "carol" || l[1].Peer != httpapitest.PeerAlice || l[0].Persona != "" {
		t.Fatalf("access: %+v", l)
	}
	if _, data := c.do("GET", in+"/access", nil); strings.TrimSpace(string(data)) != "[]" {
		t.Errorf("access of a MiMei nobody fetched from us: %s, want []", data)
	}
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/mimei/mnothing/access", nil)

	// Empty lists are [], never null.
	for _, p := range []string{"/api/v1/cache", own + "/branches"} {
		if _, data := c.do("GET", p, nil); strings.TrimSpace(string(data)) != "[]" {
			t.Errorf("GET %s: %s, want []", p, data)
		}
	}
	var bs []apiv1.Branch
	c.want(200, "", &bs, "GET", in+"/branches", nil)
	if len(bs) != 1 || bs[0].Version != 7 || bs[0].Memo == "" {
		t.Fatalf("branches: %+v", bs)
	}
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/mimei/mnothing/branches", nil)

	c.want(200, "", nil, "POST", public+"/fetch", apiv1.FetchRequest{Owner: httpapitest.OwnerPublic})
	var cache []apiv1.CacheEntry
	c.want(200, "", &cache, "GET", "/api/v1/cache", nil)
	if len(cache) != 1 || cache[0].MiMei != httpapitest.PublicMiMei || cache[0].Bytes == 0 {
		t.Fatalf("cache: %+v", cache)
	}
}

func TestShareErrorf(t *testing.T) {
	for code, status := range map[string]int{
		apiv1.CodeNotShared: 403, apiv1.CodeNotOwner: 403, apiv1.CodeUnavailable: 503,
		apiv1.CodeNoVersion: 404, apiv1.CodeUnreachable: 502, "no_such_code": 500,
	} {
		if e := httpapi.ShareErrorf(code, "x"); e.Status != status || e.Code != code {
			t.Errorf("ShareErrorf(%s): %d %s, want %d", code, e.Status, e.Code, status)
		}
	}
}
