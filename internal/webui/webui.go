// Package webui is the node's web app: plain HTML, one CSS file and ES
// modules embedded in the binary, served as they are (no build step, no
// external URLs). The app talks to the node only through /api/v1, like any
// other client; this package holds no state and knows nothing of the API.
//
// It is an edge: only package httpapi imports it.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every answer: scripts, styles and
// connections only from the node itself, images also from data: and blob:
// URLs (previews, QR codes), never framed. It rules out inline scripts and
// styles, so the app has none.
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

// asset is one embedded file, read once.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	assets map[string]asset // by URL path, "/index.html", "/js/app.js", …
}

// Handler serves the app: "/" and any path that does not name a file (the
// app's routes live in the URL's fragment, but a reload of a deep link must
// still find the app) answer index.html; a missing path that looks like a
// file (it has an extension) is 404, so a broken script reference fails
// loudly instead of loading HTML as JavaScript. Only GET and HEAD are
// allowed. Every answer is revalidated (Cache-Control: no-cache with an
// ETag): the files have no hashed names, so an upgraded binary must not
// leave an old script in a browser's cache.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.assets["/"+p] = asset{body: b, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return h
}

// contentType is fixed here rather than taken from the system's MIME
// tables, which differ between machines (and a module script served with
// the wrong type does not run).
func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".json", ".webmanifest":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" is not allowed here", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	a, ok := h.assets[p]
	if !ok {
		if path.Ext(p) != "" {
			http.Error(w, "no such file: "+p, http.StatusNotFound)
			return
		}
		a = h.assets["/index.html"]
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304 and handles HEAD and
	// ranges; the zero time leaves Last-Modified out (the ETag is enough).
	http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(a.body))
}
