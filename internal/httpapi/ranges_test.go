package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// TestRangeRequests sends every kind of Range header RFC 9110 describes to
// a six-byte file and checks status, body and Content-Range.
func TestRangeRequests(t *testing.T) {
	c := serve(t, httpapitest.NewStore(), nil)
	id := c.create()
	c.want(201, "", nil, "PUT", "/api/v1/mimei/"+id+"/files/f", "abcdef")
	u := "/api/v1/mimei/" + id + "/files/f"
	tests := []struct {
		name, rng    string
		status       int
		body, crange string
	}{
		{"simple", "bytes=1-2", 206, "bc", "bytes 1-2/6"},
		{"open end", "bytes=4-", 206, "ef", "bytes 4-5/6"},
		{"end past the file is clamped", "bytes=2-100", 206, "cdef", "bytes 2-5/6"},
		{"huge end is clamped", "bytes=2-99999999999999999999999", 206, "cdef", "bytes 2-5/6"},
		{"suffix", "bytes=-2", 206, "ef", "bytes 4-5/6"},
		{"suffix longer than the file", "bytes=-100", 206, "abcdef", "bytes 0-5/6"},
		{"suffix of zero is unsatisfiable", "bytes=-0", 416, "", "bytes */6"},
		{"start past the end", "bytes=6-", 416, "", "bytes */6"},
		{"start far past the end", "bytes=100-200", 416, "", "bytes */6"},
		{"unit in capitals", "BYTES=0-0", 206, "a", "bytes 0-0/6"},
		{"spaces around ranges", "bytes= 1-1 ", 206, "b", "bytes 1-1/6"},
		{"several ranges: the first is served", "bytes=0-1,3-4", 206, "ab", "bytes 0-1/6"},
		{"several ranges: the first that overlaps", "bytes=10-20,3-4", 206, "de", "bytes 3-4/6"},
		{"several, none overlapping", "bytes=10-20,30-", 416, "", "bytes */6"},
		{"empty list elements", "bytes=,1-1,", 206, "b", "bytes 1-1/6"},
		{"bad syntax is ignored", "bytes=abc", 200, "abcdef", ""},
		{"no dash is ignored", "bytes=3", 200, "abcdef", ""},
		{"end before start is ignored", "bytes=3-1", 200, "abcdef", ""},
		{"signs are ignored", "bytes=+1-2", 200, "abcdef", ""},
		{"empty set is ignored", "bytes=", 200, "abcdef", ""},
		{"one bad range spoils the set", "bytes=0-1,x", 200, "abcdef", ""},
		{"another unit is ignored", "items=0-1", 200, "abcdef", ""},
		{"no unit is ignored", "0-1", 200, "abcdef", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD"} {
				resp, data := c.do(method, u, nil, "Range", tc.rng)
				if resp.StatusCode != tc.status {
					t.Fatalf("%s Range %q: status %d, want %d: %s", method, tc.rng, resp.StatusCode, tc.status, data)
				}
				if got := resp.Header.Get("Content-Range"); got != tc.crange {
					t.Errorf("%s Range %q: Content-Range %q, want %q", method, tc.rng, got, tc.crange)
				}
				if method == "GET" && tc.status != http.StatusRequestedRangeNotSatisfiable && string(data) != tc.body {
					t.Errorf("GET Range %q: body %q, want %q", tc.rng, data, tc.body)
				}
			}
		})
	}
}

// TestUncleanPaths: a // or a . or .. segment in an API path is 400, as
// docs/api.md says, not a redirect to the cleaned path.
func TestUncleanPaths(t *testing.T) {
	c := serve(t, httpapitest.NewStore(), nil)
	id := c.create()
	c.want(201, "", nil, "PUT", "/api/v1/mimei/"+id+"/files/a/f?parents=1", "x")
	for _, p := range []string{
		"/api/v1/mimei/" + id + "/files/a//f",
		"/api/v1/mimei/" + id + "/files/a/./f",
		"/api/v1/mimei/" + id + "/files/./a/f",
		"/api/v1/mimei/" + id + "/files/a/../a/f",
		"/api/v1/mimei/" + id + "/files/a/.",
		"/api/v1//mimei/" + id + "/files/a/f",
		"/api/v1/./status",
	} {
		t.Run(p, func(t *testing.T) {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, err := http.NewRequest("GET", c.url+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = "//" + req.URL.Host + p // as sent, not cleaned by the client
			req.Header.Set("Authorization", "Bearer "+httpapitest.Token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("GET %s: status %d, want 400", p, resp.StatusCode)
			}
		})
	}
}
