package keystore

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
)

// secrets returns every secret a store holds, by name.
func secrets(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{
		"root seed":          s.st.root,
		"device private key": s.DeviceKey(),
		"device seed":        s.DeviceKey().Seed(),
	}
	for _, p := range s.Personas() {
		k, err := s.PersonaKey(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		out["persona "+p.Name+" private key"] = k
		out["persona "+p.Name+" seed"] = k.Seed()
	}
	return out
}

// encodings returns the forms in which a secret could leak.
func encodings(b []byte) map[string][]byte {
	return map[string][]byte{
		"raw":            b,
		"raw first half": b[:len(b)/2],
		"hex":            []byte(hex.EncodeToString(b)),
		"HEX":            []byte(strings.ToUpper(hex.EncodeToString(b))),
		"base64":         []byte(base64.StdEncoding.EncodeToString(b)),
		"base64 raw":     []byte(base64.RawStdEncoding.EncodeToString(b)),
		"base64url":      []byte(base64.RawURLEncoding.EncodeToString(b)),
	}
}

// leaks lists each secret found, in any encoding, in any file under dir.
func leaks(t *testing.T, dir string, secrets map[string][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, secret := range secrets {
			for enc, needle := range encodings(secret) {
				if bytes.Contains(content, needle) {
					found = append(found, fmt.Sprintf("%s (%s) in %s", name, enc, path))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestSealedFilesHoldNoSecretInClear(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		t.Run(fmt.Sprintf("sealed=%t", sealed), func(t *testing.T) {
			s, dir := newStore(t, sealed)
			if _, err := s.NewPersona("second"); err != nil {
				t.Fatal(err)
			}
			found := leaks(t, dir, secrets(t, s))
			if sealed && len(found) > 0 {
				t.Fatalf("sealed store leaks:\n%s", strings.Join(found, "\n"))
			}
			// The same search over an unsealed store must find every secret,
			// or it proves nothing about the sealed one.
			if !sealed && len(found) == 0 {
				t.Fatal("search found no secret in an unsealed store")
			}
		})
	}
}

// snapshot records every entry under root: mode, size, mtime and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + hex.EncodeToString(b)
		}
		out[path] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	_, dir := newStore(t, true)
	parent := filepath.Dir(dir)
	// Crash leftovers that a successful Open would clean up.
	staleStore := dir + storeStagingInfix + "123"
	stalePersona := filepath.Join(dir, personasDir, personaStagingPrefix+"456")
	for _, d := range []string{staleStore, stalePersona} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "half"), []byte("x"), 0o600)
	}
	before := snapshot(t, parent)
	for _, p := range [][]byte{[]byte("wrong"), nil, {}} {
		if _, err := Open(dir, p); err == nil {
			t.Fatalf("Open with passphrase %q succeeded", p)
		}
		after := snapshot(t, parent)
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("Open with passphrase %q changed the disk", p)
		}
	}
	if _, err := Open(dir, pass); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{staleStore, stalePersona} {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("successful Open left %s", d)
		}
	}
}

func TestPrintingStoreShowsNoSecret(t *testing.T) {
	s, _ := newStore(t, true)
	secret := secrets(t, s)
	// shows names the secret that out reveals, in any encoding fmt might use.
	shows := func(out string) string {
		for name, b := range secret {
			needles := []string{
				strings.TrimSuffix(fmt.Sprint(b[:8]), "]"), // %v of []byte: [12 34 …
				fmt.Sprintf("%x", b[:8]),
				fmt.Sprintf("%X", b[:8]),
				strings.TrimPrefix(strings.TrimSuffix(fmt.Sprintf("%#v", b[:8]), "}"), "[]byte{"), // 0xc, 0x22, …
				fmt.Sprintf("%q", b[:8])[1:12],
			}
			for enc, n := range encodings(b) {
				if !strings.HasPrefix(enc, "raw") {
					needles = append(needles, string(n))
				}
			}
			for _, n := range needles {
				if strings.Contains(out, n) {
					return name
				}
			}
		}
		return ""
	}
	// The detector works: it sees a key printed the usual ways.
	k := s.DeviceKey()
	for _, format := range []string{"%v", "%x", "%#v", "%d"} {
		if shows(fmt.Sprintf(format, struct{ K []byte }{k})) == "" {
			t.Fatalf("detector misses a key printed with %s", format)
		}
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, v := range []any{s, *s, []*Store{s}, struct{ S *Store }{s}, map[string]Store{"s": *s}, s.Personas(), s.DefaultPersona()} {
			out := fmt.Sprintf(format, v)
			if name := shows(out); name != "" {
				t.Fatalf("fmt %s of %T shows the %s: %s", format, v, name, out)
			}
		}
	}
	if got := s.String(); !strings.Contains(got, "sealed: true") || !strings.Contains(got, "personas: 1") {
		t.Fatalf("String() = %q", got)
	}
}

// TestRealKDFParams runs the production Argon2id parameters once.
func TestRealKDFParams(t *testing.T) {
	DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}
	defer func() { DefaultKDFParams = fastKDF }()
	dir := filepath.Join(t.TempDir(), "keys")
	start := time.Now()
	s, _, err := Create(dir, CreateOptions{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create with t=3 m=64MiB p=2 took %v", time.Since(start))
	var sf storeFile
	b, _ := os.ReadFile(filepath.Join(dir, storeFileName))
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	if !sf.Sealed || sf.KDF.Alg != "argon2id" || sf.KDF.Time != 3 || sf.KDF.MemoryKiB != 65536 || sf.KDF.Threads != 2 || len(sf.KDF.Salt) != 16 {
		t.Fatalf("store.json kdf = %+v", sf.KDF)
	}
	DefaultKDFParams = fastKDF // Open must use the stored parameters, not the package's
	if _, err := Open(dir, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	o, err := Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(o.DeviceKey(), s.DeviceKey()) {
		t.Fatal("device key differs after Open")
	}
}

func TestSaltIsPerStore(t *testing.T) {
	_, a := newStore(t, true)
	_, b := newStore(t, true)
	read := func(dir string) storeFile {
		var sf storeFile
		raw, _ := os.ReadFile(filepath.Join(dir, storeFileName))
		json.Unmarshal(raw, &sf)
		return sf
	}
	if bytes.Equal(read(a).KDF.Salt, read(b).KDF.Salt) {
		t.Fatal("two stores share a salt")
	}
}

// TestDamage breaks one thing in a store at a time; Open must refuse with
// the right error, naming the file.
func TestDamage(t *testing.T) {
	type damage struct {
		name string
		do   func(t *testing.T, dir string)
		want error
		file string // named in the message
	}
	p := func(parts ...string) string { return filepath.Join(parts...) }
	rewriteJSON := func(rel string, edit func(m map[string]any)) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, filepath.FromSlash(rel))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			b, _ = json.Marshal(m)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	flipByte := func(rel string, at int) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, filepath.FromSlash(rel))
			b, _ := os.ReadFile(path)
			b[at] ^= 0x20
			os.WriteFile(path, b, 0o600)
		}
	}
	swap := func(a, b string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			pa, pb := filepath.Join(dir, filepath.FromSlash(a)), filepath.Join(dir, filepath.FromSlash(b))
			ba, _ := os.ReadFile(pa)
			bb, _ := os.ReadFile(pb)
			os.WriteFile(pa, bb, 0o600)
			os.WriteFile(pb, ba, 0o600)
		}
	}
	remove := func(rel string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, filepath.FromSlash(rel))) }
	}
	otherDeviceCert := func(t *testing.T, dir string) {
		seed, _ := identity.SeedFromMnemonic(abandonArt)
		_, dev, _ := ed25519.GenerateKey(nil)
		c, _ := identity.IssueDeviceCertV1(identity.PersonaKey(seed, 0), dev.Public().(ed25519.PublicKey), 5, clock(), 0)
		b, _ := c.Marshal()
		os.WriteFile(p(dir, "personas", "0", "device-cert.cbor"), b, 0o600)
	}
	cases := []damage{
		{"store.json garbage", func(t *testing.T, dir string) { os.WriteFile(p(dir, "store.json"), []byte("{"), 0o600) }, ErrCorrupt, "store.json"},
		{"store.json missing", remove("store.json"), ErrCorrupt, "store.json"},
		{"store.json version 2", rewriteJSON("store.json", func(m map[string]any) { m["version"] = 2 }), ErrUnsupportedVersion, "store.json"},
		{"store.json unknown field", rewriteJSON("store.json", func(m map[string]any) { m["extra"] = 1 }), ErrCorrupt, "store.json"},
		{"root.key missing", remove("root.key"), ErrCorrupt, "root.key"},
		{"root.key version 2", rewriteJSON("root.key", func(m map[string]any) { m["version"] = 2 }), ErrUnsupportedVersion, "root.key"},
		{"root.key bit flip", rewriteJSON("root.key", func(m map[string]any) {
			b, _ := base64.StdEncoding.DecodeString(m["data"].(string))
			b[3] ^= 1
			m["data"] = base64.StdEncoding.EncodeToString(b)
		}), ErrCorrupt, "root.key"}, // sealed: cannot decrypt; unsealed: no longer derives the personas
		{"device.key truncated", func(t *testing.T, dir string) { os.WriteFile(p(dir, "device.key"), []byte(`{"version":1`), 0o600) }, ErrCorrupt, "device.key"},
		{"device.key moved to root.key", swap("device.key", "root.key"), ErrCorrupt, ".key"},
		{"persona keys swapped", swap("personas/0/persona.key", "personas/1/persona.key"), ErrCorrupt, "persona.key"},
		{"persona.json index wrong", rewriteJSON("personas/1/persona.json", func(m map[string]any) { m["index"] = 7 }), ErrCorrupt, "personas/1/persona.json"},
		{"persona.json bad name", rewriteJSON("personas/1/persona.json", func(m map[string]any) { m["name"] = "a b" }), ErrCorrupt, "personas/1/persona.json"},
		{"persona.json duplicate name", rewriteJSON("personas/1/persona.json", func(m map[string]any) { m["name"] = "default" }), ErrCorrupt, "persona.json"},
		{"persona.json other DID", rewriteJSON("personas/1/persona.json", func(m map[string]any) { m["did"] = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp" }), ErrCorrupt, "personas/1/persona.key"},
		{"persona.json version 9", rewriteJSON("personas/1/persona.json", func(m map[string]any) { m["version"] = 9 }), ErrUnsupportedVersion, "personas/1/persona.json"},
		{"persona.key missing", remove("personas/1/persona.key"), ErrCorrupt, "personas/1/persona.key"},
		{"certificate missing", remove("personas/0/device-cert.cbor"), ErrCorrupt, "personas/0/device-cert.cbor"},
		{"certificate bit flip", flipByte("personas/0/device-cert.cbor", 40), ErrCorrupt, "personas/0/device-cert.cbor"},
		{"certificate for another device", otherDeviceCert, ErrCorrupt, "personas/0/device-cert.cbor"},
		{"certificates swapped", swap("personas/0/device-cert.cbor", "personas/1/device-cert.cbor"), ErrCorrupt, "device-cert.cbor"},
		{"default persona missing", remove("personas/0"), ErrCorrupt, "personas/0"},
		{"personas missing", remove("personas"), ErrCorrupt, "personas"},
		{"persona is a file", func(t *testing.T, dir string) { os.WriteFile(p(dir, "personas", "2"), nil, 0o600) }, ErrCorrupt, "personas/2"},
	}
	for _, sealed := range []bool{true, false} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("sealed=%t/%s", sealed, c.name), func(t *testing.T) {
				s, dir := newStore(t, sealed)
				if _, err := s.NewPersona("second"); err != nil {
					t.Fatal(err)
				}
				c.do(t, dir)
				_, err := Open(dir, passFor(sealed))
				if err == nil {
					t.Fatal("Open accepted a damaged store")
				}
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				if !strings.Contains(err.Error(), c.file) {
					t.Fatalf("err %q does not name %s", err, c.file)
				}
			})
		}
	}
}
