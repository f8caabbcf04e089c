package webui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, p string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", p, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestServe(t *testing.T) {
	h := Handler()
	for _, c := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/index.html", "text/html; charset=utf-8"},
		{"/files/m123/some/dir", "text/html; charset=utf-8"}, // a deep link reloads the app
		{"/app.css", "text/css; charset=utf-8"},
		{"/js/app.js", "text/javascript; charset=utf-8"},
		{"/js/pages/files.js", "text/javascript; charset=utf-8"},
		{"/icon.svg", "image/svg+xml"},
	} {
		resp := get(t, h, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes), want 200 %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), c.ctype)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": CSP,
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-cache",
			"X-Frame-Options":         "DENY",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", c.path, k, got, want)
			}
		}
		if strings.HasPrefix(c.ctype, "text/html") && !strings.Contains(string(body), `src="/js/app.js"`) {
			t.Errorf("GET %s: not index.html", c.path)
		}
	}
	if !strings.Contains(CSP, "default-src 'self'") || !strings.Contains(CSP, "frame-ancestors 'none'") || strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP %q is not strict", CSP)
	}

	// Revalidation: the ETag answers 304.
	resp := get(t, h, "/js/app.js")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp := get(t, h, "/js/app.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}

	// A missing file is 404, not index.html served as a script.
	for _, p := range []string{"/js/missing.js", "/nope.css", "/favicon.ico"} {
		if resp := get(t, h, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	req := httptest.NewRequest("PUT", "/", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("PUT /: %d Allow %q, want 405 GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}

var (
	importRe   = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	refRe      = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)
	externalRe = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
)

// TestAssetsSelfContained checks, without a browser, what the CSP and the
// no-build-step rule demand: every module import and every reference of
// index.html resolves to an embedded file, nothing is loaded from another
// host, and no script or style is inline (the CSP would block it).
func TestAssetsSelfContained(t *testing.T) {
	sub, _ := fs.Sub(static, "static")
	files := 0
	err := fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, _ := fs.ReadFile(sub, p)
		s := string(b)
		for _, m := range externalRe.FindAllString(s, -1) {
			if m != "http://www.w3.org" { // the SVG namespace is a name, not a load
				t.Errorf("%s: external URL %q", p, m)
			}
		}
		switch path.Ext(p) {
		case ".js":
			for _, m := range importRe.FindAllStringSubmatch(s, -1) {
				target := path.Join(path.Dir(p), m[1])
				if !strings.HasPrefix(m[1], ".") {
					t.Errorf("%s: import %q is not relative", p, m[1])
				} else if _, err := fs.Stat(sub, target); err != nil {
					t.Errorf("%s: import %q: no file %s", p, m[1], target)
				}
			}
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s uses %s: build DOM nodes instead", p, bad)
				}
			}
		case ".html":
			for _, m := range refRe.FindAllStringSubmatch(s, -1) {
				if _, err := fs.Stat(sub, strings.TrimPrefix(m[1], "/")); err != nil {
					t.Errorf("%s: %q: no such file", p, m[1])
				}
			}
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(s) || strings.Contains(s, "<style") ||
				regexp.MustCompile(`\s(style|on[a-z]+)=`).MatchString(s) {
				t.Errorf("%s has an inline script, style or event handler", p)
			}
		}
		return nil
	})
	if err != nil || files < 8 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}
