package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// TestListPaging: a directory listing answers a page of ?limit= entries
// (apiv1.ListLimit without one) after ?after=, with next set while more
// follow; a bad limit is a 400.
func TestListPaging(t *testing.T) {
	ctx := context.Background()
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	mid := c.create()
	base := "/api/v1/mimei/" + mid
	put := func(p string) {
		t.Helper()
		if _, err := store.PutFile(ctx, mid, p, strings.NewReader("x"), httpapi.PutFile{Parents: true}); err != nil {
			t.Fatal(err)
		}
	}
	// d: five names, one needing escaping in a query; big: ListLimit+1.
	five := []string{"a", "b & c", "d", "e", "f"}
	for _, n := range five {
		put("d/" + n)
	}
	c.want(201, "", nil, "POST", base+"/mkdir", apiv1.Mkdir{Path: "empty"})
	for i := range apiv1.ListLimit + 1 {
		put(fmt.Sprintf("big/%05d", i))
	}

	tests := []struct {
		name, dir, query string
		want             []string
		next             string
	}{
		{"empty directory", "empty", "", nil, ""},
		{"empty directory, a limit", "empty", "?limit=1", nil, ""},
		{"whole", "d", "", five, ""},
		{"exact page size", "d", "?limit=5", five, ""},
		{"one short", "d", "?limit=4", five[:4], "e"},
		{"first page", "d", "?limit=2", five[:2], "b & c"},
		{"page boundary", "d", "?limit=2&after=" + url.QueryEscape("b & c"), five[2:4], "e"},
		{"last page", "d", "?limit=2&after=e", five[4:], ""},
		{"after a name not present", "d", "?limit=2&after=c", five[2:4], "e"},
		{"after every name", "d", "?after=z", nil, ""},
		{"with a version", "d", "?version=cur&limit=1&after=d", five[3:4], "e"},
		{"the largest limit", "d", fmt.Sprintf("?limit=%d", apiv1.MaxListLimit), five, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fl apiv1.FileList
			c.want(200, "", &fl, "GET", base+"/ls/"+tc.dir+tc.query, nil)
			var got []string
			for _, e := range fl.Entries {
				got = append(got, e.Name)
			}
			if !slices.Equal(got, tc.want) || fl.Next != tc.next || fl.Entries == nil {
				t.Fatalf("entries %q next %q, want %q next %q", got, fl.Next, tc.want, tc.next)
			}
		})
	}
	for _, bad := range []string{"0", "-1", "abc", "", "1.5", fmt.Sprint(apiv1.MaxListLimit + 1)} {
		t.Run("limit="+bad, func(t *testing.T) {
			c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/ls/d?limit="+bad, nil)
		})
	}
	t.Run("default limit", func(t *testing.T) {
		var fl apiv1.FileList
		c.want(200, "", &fl, "GET", base+"/ls/big", nil)
		last := fmt.Sprintf("%05d", apiv1.ListLimit-1)
		if len(fl.Entries) != apiv1.ListLimit || fl.Next != last {
			t.Fatalf("%d entries, next %q; want %d, next %q", len(fl.Entries), fl.Next, apiv1.ListLimit, last)
		}
		var fl2 apiv1.FileList
		c.want(200, "", &fl2, "GET", base+"/ls/big?after="+fl.Next, nil)
		if len(fl2.Entries) != 1 || fl2.Entries[0].Name != fmt.Sprintf("%05d", apiv1.ListLimit) || fl2.Next != "" {
			t.Fatalf("second page: %+v", fl2)
		}
	})
	c.want(400, apiv1.CodeNotDir, nil, "GET", base+"/ls/d/a?limit=1", nil)
}
