package keystore

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
)

// fastKDF makes sealed stores cheap in tests; TestRealKDFParams uses the
// real ones.
var fastKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestMain(m *testing.M) {
	DefaultKDFParams = fastKDF
	os.Exit(m.Run())
}

var (
	pass  = []byte("correct horse battery staple")
	clock = func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }
)

// vectors are the committed derivation vectors of internal/identity.
type vectors struct {
	Vectors []struct {
		Mnemonic string
		Seed     string
		Personas []struct {
			Index uint32
			DID   string
		}
	}
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("../identity/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const abandonArt = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art"

// newStore creates a store in a fresh temporary directory.
func newStore(t *testing.T, sealed bool) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	opts := CreateOptions{Mnemonic: abandonArt, Now: clock}
	if sealed {
		opts.Passphrase = pass
	}
	s, _, err := Create(dir, opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s, dir
}

func passFor(sealed bool) []byte {
	if sealed {
		return pass
	}
	return nil
}

func TestCreateAndOpen(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%t", sealed), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			opts := CreateOptions{Now: clock, FirstPersonaName: "alice"}
			if sealed {
				opts.Passphrase = pass
			}
			s, mnemonic, err := Create(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := identity.ValidateMnemonic(mnemonic); err != nil {
				t.Fatalf("Create returned an invalid phrase: %v", err)
			}
			if s.Sealed() != sealed || s.Dir() != dir {
				t.Fatalf("Sealed=%t Dir=%q", s.Sealed(), s.Dir())
			}
			if ok, err := Exists(dir); !ok || err != nil {
				t.Fatalf("Exists = %t, %v", ok, err)
			}
			if got, err := IsSealed(dir); got != sealed || err != nil {
				t.Fatalf("IsSealed = %t, %v", got, err)
			}
			def := s.DefaultPersona()
			want := PersonaInfo{ID: def.ID, Name: "alice", Index: 0, Created: clock(), Default: true}
			if def != want {
				t.Fatalf("DefaultPersona = %+v, want %+v", def, want)
			}
			// The phrase restores the same persona.
			seed, _ := identity.SeedFromMnemonic(mnemonic)
			if id := identity.DID(identity.PersonaKey(seed, 0).Public().(ed25519.PublicKey)); id != def.ID {
				t.Fatalf("persona 0 is %s, the phrase gives %s", def.ID, id)
			}

			o, err := Open(dir, passFor(sealed))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if fmt.Sprint(o.Personas()) != fmt.Sprint(s.Personas()) {
				t.Fatalf("reopened personas %+v, want %+v", o.Personas(), s.Personas())
			}
			if !bytes.Equal(o.DeviceKey(), s.DeviceKey()) || !bytes.Equal(o.DevicePublicKey(), s.DevicePublicKey()) {
				t.Fatal("device key changed across Open")
			}
			k1, _ := s.PersonaKey(def.ID)
			k2, _ := o.PersonaKey("alice")
			if !bytes.Equal(k1, k2) {
				t.Fatal("persona key changed across Open")
			}
			c, err := o.DeviceCert(def.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Verify(time.Now(), nil); err != nil {
				t.Fatal(err)
			}
			if c.Persona != def.ID || !bytes.Equal(c.Device, o.DevicePublicKey()) || c.ExpiresAt != 0 || c.Serial == 0 {
				t.Fatalf("unexpected device certificate %+v", c)
			}
		})
	}
}

func TestRestoreFromCommittedVectors(t *testing.T) {
	v := loadVectors(t)
	for _, vec := range v.Vectors {
		t.Run(vec.Mnemonic[:20], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			// Restoring tolerates case and spacing, as a user types.
			s, m, err := Create(dir, CreateOptions{Mnemonic: "  " + strings.ToUpper(vec.Mnemonic) + "\n", Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if m != vec.Mnemonic {
				t.Fatalf("normalised phrase %q, want %q", m, vec.Mnemonic)
			}
			if got := s.DefaultPersona().ID; got != vec.Personas[0].DID {
				t.Fatalf("persona 0 = %s, want %s", got, vec.Personas[0].DID)
			}
			p1, err := s.NewPersona("")
			if err != nil {
				t.Fatal(err)
			}
			if p1.ID != vec.Personas[1].DID || p1.Index != 1 || p1.Name != "persona-1" || p1.Default {
				t.Fatalf("NewPersona = %+v, want index 1 %s", p1, vec.Personas[1].DID)
			}
		})
	}
}

// Two devices restored from one phrase share personas but not device keys,
// and their certificate serials differ, so a revocation hits only one.
func TestTwoDevicesOnePhrase(t *testing.T) {
	a, _ := newStore(t, false)
	b, _ := newStore(t, false)
	if a.DefaultPersona().ID != b.DefaultPersona().ID {
		t.Fatal("same phrase, different personas")
	}
	if bytes.Equal(a.DevicePublicKey(), b.DevicePublicKey()) {
		t.Fatal("device key derived from the phrase")
	}
	ca, _ := a.DeviceCert(a.DefaultPersona().ID)
	cb, _ := b.DeviceCert(b.DefaultPersona().ID)
	if ca.Serial == cb.Serial {
		t.Fatal("two devices got the same certificate serial")
	}
}

// TestCreateFromRootSeed: a device paired by handing over the root seed
// gets the same personas, its own device key and no recovery phrase.
func TestCreateFromRootSeed(t *testing.T) {
	a, _ := newStore(t, false)
	seed := a.RootSeed()
	b, phrase, err := Create(filepath.Join(t.TempDir(), "k"), CreateOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if phrase != "" {
		t.Fatal("a store made from a seed returned a phrase")
	}
	if a.DefaultPersona().ID != b.DefaultPersona().ID || !bytes.Equal(b.RootSeed(), seed) {
		t.Fatal("same seed, different persona")
	}
	if bytes.Equal(a.DevicePublicKey(), b.DevicePublicKey()) {
		t.Fatal("device key shared")
	}
	seed[0] ^= 1
	if bytes.Equal(a.RootSeed(), seed) {
		t.Fatal("RootSeed returned the store's own slice")
	}
}

func TestCreateErrors(t *testing.T) {
	_, existingDir := newStore(t, false)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "something"), []byte("x"), 0o600)
	tests := []struct {
		name string
		dir  string
		opts CreateOptions
		want error
	}{
		{"store exists", existingDir, CreateOptions{}, ErrExists},
		{"directory not empty", full, CreateOptions{}, ErrExists},
		{"bad phrase", filepath.Join(t.TempDir(), "k"), CreateOptions{Mnemonic: "abandon abandon"}, identity.ErrBadMnemonic},
		{"bad first name", filepath.Join(t.TempDir(), "k"), CreateOptions{FirstPersonaName: "has space"}, ErrBadName},
		{"short seed", filepath.Join(t.TempDir(), "k"), CreateOptions{Seed: make([]byte, 32)}, nil},
		{"seed and phrase", filepath.Join(t.TempDir(), "k"), CreateOptions{Seed: make([]byte, 64), Mnemonic: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Create(tt.dir, tt.opts)
			if tt.want == nil && err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Open(existingDir, nil); err != nil {
		t.Fatalf("failed Create damaged the existing store: %v", err)
	}
}

func TestCreateInEmptyDir(t *testing.T) {
	dir := t.TempDir() // exists, empty
	if ok, err := Exists(dir); ok || err != nil {
		t.Fatalf("Exists(empty) = %t, %v", ok, err)
	}
	if _, err := Open(dir, nil); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("Open(empty) = %v, want ErrNotInitialised", err)
	}
	if _, _, err := Create(dir, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	_, sealedDir := newStore(t, true)
	missing := filepath.Join(t.TempDir(), "nothing")
	tests := []struct {
		name string
		dir  string
		pass []byte
		want error
	}{
		{"missing", missing, nil, ErrNotInitialised},
		{"no passphrase", sealedDir, nil, ErrPassphraseRequired},
		{"empty passphrase", sealedDir, []byte{}, ErrPassphraseRequired},
		{"wrong passphrase", sealedDir, []byte("wrong"), ErrWrongPassphrase},
		{"passphrase with extra byte", sealedDir, append(append([]byte{}, pass...), ' '), ErrWrongPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.dir, tt.pass); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Open(sealedDir, []byte("wrong")); err.Error() != "wrong passphrase" {
		t.Fatalf("message %q, want \"wrong passphrase\"", err)
	}
	if _, err := IsSealed(missing); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("IsSealed(missing) = %v", err)
	}
	if ok, err := Exists(missing); ok || err != nil {
		t.Fatalf("Exists(missing) = %t, %v", ok, err)
	}
}

func TestUnsealedIgnoresPassphrase(t *testing.T) {
	_, dir := newStore(t, false)
	if _, err := Open(dir, []byte("anything")); err != nil {
		t.Fatal(err)
	}
}

func TestPersonas(t *testing.T) {
	s, dir := newStore(t, true)
	tests := []struct {
		name    string
		in      string
		want    string // name the persona gets
		wantErr error
	}{
		{"named", "work", "work", nil},
		{"auto name", "", "persona-2", nil},
		{"all allowed characters", "A-z_0.9", "A-z_0.9", nil},
		{"64 characters", strings.Repeat("n", 64), strings.Repeat("n", 64), nil},
		{"taken", "work", "", ErrNameTaken},
		{"taken by default persona", "default", "", ErrNameTaken},
		{"65 characters", strings.Repeat("n", 65), "", ErrBadName},
		{"space", "my work", "", ErrBadName},
		{"slash", "a/b", "", ErrBadName},
		{"colon", "did:key:x", "", ErrBadName},
		{"non-ASCII", "café", "", ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.NewPersona(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Fatalf("name %q, want %q", p.Name, tt.want)
			}
		})
	}
	// A user may take the auto name of a future persona; the next auto
	// name then gets a suffix.
	if _, err := s.NewPersona("persona-6"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.NewPersona(""); err != nil || p.Name != "persona-6-2" {
		t.Fatalf("NewPersona(\"\") = %+v, %v", p, err)
	}

	ps := s.Personas()
	for i, p := range ps {
		if p.Index != uint32(i) || p.Default != (i == 0) {
			t.Fatalf("Personas()[%d] = %+v", i, p)
		}
	}
	// Lookup by ID and by name.
	for _, p := range ps {
		for _, ref := range []string{p.ID, p.Name} {
			got, err := s.Persona(ref)
			if err != nil || got != p {
				t.Fatalf("Persona(%q) = %+v, %v", ref, got, err)
			}
		}
	}
	_, err := s.Persona("nobody")
	if !errors.Is(err, ErrUnknownPersona) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("Persona(nobody) = %v", err)
	}
	if _, err := s.PersonaKey("nobody"); !errors.Is(err, ErrUnknownPersona) {
		t.Fatalf("PersonaKey(nobody) = %v", err)
	}
	if _, err := s.DeviceCert("nobody"); !errors.Is(err, ErrUnknownPersona) {
		t.Fatalf("DeviceCert(nobody) = %v", err)
	}

	// Everything survives a restart.
	o, err := Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(o.Personas()) != fmt.Sprint(ps) {
		t.Fatalf("after Open: %+v\nwant %+v", o.Personas(), ps)
	}
	for _, p := range ps {
		c, err := o.DeviceCert(p.ID)
		if err != nil || c.Verify(time.Now(), nil) != nil || c.Persona != p.ID {
			t.Fatalf("certificate of %s: %+v, %v", p.Name, c, err)
		}
	}
}

func TestReturnedValuesAreCopies(t *testing.T) {
	s, _ := newStore(t, false)
	id := s.DefaultPersona().ID
	k, _ := s.PersonaKey(id)
	clear(k)
	d := s.DeviceKey()
	clear(d)
	c, _ := s.DeviceCert(id)
	c.Sig[0] ^= 1
	c.Device[0] ^= 1
	k2, _ := s.PersonaKey(id)
	c2, _ := s.DeviceCert(id)
	if bytes.Equal(k2, k) || bytes.Equal(s.DeviceKey(), d) || c2.Verify(time.Now(), nil) != nil {
		t.Fatal("caller changed the store's keys through a returned value")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, dir := newStore(t, true)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				if _, err := s.NewPersona(""); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for _, p := range s.Personas() {
					if _, err := s.PersonaKey(p.ID); err != nil {
						t.Error(err)
					}
				}
				_ = s.String()
				s.DevicePublicKey()
			}
		}()
	}
	wg.Wait()
	ps := s.Personas()
	if len(ps) != 13 {
		t.Fatalf("%d personas, want 13", len(ps))
	}
	o, err := Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Personas()) != 13 {
		t.Fatalf("reopened: %d personas", len(o.Personas()))
	}
}

func TestFilePermissions(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		s, dir := newStore(t, sealed)
		if _, err := s.NewPersona("second"); err != nil {
			t.Fatal(err)
		}
		n := 0
		err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = os.ModeDir | 0o700
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// dir, store.json, root.key, device.key, personas, 2 × (dir + 3 files)
		if n != 13 {
			t.Errorf("sealed=%t: %d entries under the store, want 13", sealed, n)
		}
	}
}
