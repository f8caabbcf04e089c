package keystore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests simulate power cuts: crashHook makes Create or NewPersona
// return at a given point without any cleanup, leaving the disk as a crash
// would (files are synced as they are written, so nothing else is lost).
// They change a package variable, so they must not run in parallel.

func crashAt(t *testing.T, point string) {
	t.Helper()
	hit := false
	crashHook = func(p string) bool {
		if p == point && !hit {
			hit = true
			return true
		}
		return false
	}
	t.Cleanup(func() {
		crashHook = nil
		if !hit {
			t.Errorf("crash point %q never reached", point)
		}
	})
}

// stagingDirs lists entries of dir whose names start with prefix.
func stagingDirs(t *testing.T, dir, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestCrashDuringCreate(t *testing.T) {
	for _, point := range []string{"create:after-root", "persona:after-meta", "create:before-rename"} {
		for _, next := range []string{"create", "open"} {
			t.Run(point+"/then-"+next, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "keys")
				crashAt(t, point)
				if _, _, err := Create(dir, CreateOptions{Passphrase: pass}); !errors.Is(err, errSimulatedCrash) {
					t.Fatalf("Create: %v", err)
				}
				crashHook = nil
				parent := filepath.Dir(dir)
				if got := stagingDirs(t, parent, "keys.init-"); len(got) != 1 {
					t.Fatalf("want one staging leftover, got %v", got)
				}
				// dir does not exist: the store was never half there.
				if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("crashed Create left %s: %v", dir, err)
				}
				if ok, err := Exists(dir); ok || err != nil {
					t.Fatalf("Exists = %t, %v", ok, err)
				}
				if _, err := Open(dir, pass); !errors.Is(err, ErrNotInitialised) {
					t.Fatalf("Open = %v, want ErrNotInitialised", err)
				}
				switch next {
				case "create":
					// The next Create succeeds and clears the leftover.
					if _, _, err := Create(dir, CreateOptions{Passphrase: pass}); err != nil {
						t.Fatal(err)
					}
					if _, err := Open(dir, pass); err != nil {
						t.Fatal(err)
					}
				case "open":
					// A store created elsewhere and moved into place (Create
					// would itself clear the leftover): Open clears it too.
					other := filepath.Join(parent, "elsewhere")
					if _, _, err := Create(other, CreateOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(other, dir); err != nil {
						t.Fatal(err)
					}
					if got := stagingDirs(t, parent, "keys.init-"); len(got) != 1 {
						t.Fatalf("leftover gone before Open: %v", got)
					}
					if _, err := Open(dir, nil); err != nil {
						t.Fatal(err)
					}
				}
				if got := stagingDirs(t, parent, "keys.init-"); len(got) != 0 {
					t.Fatalf("leftover not removed: %v", got)
				}
			})
		}
	}
}

func TestCrashDuringNewPersona(t *testing.T) {
	for _, point := range []string{"persona:after-meta", "persona:before-rename"} {
		t.Run(point, func(t *testing.T) {
			s, dir := newStore(t, true)
			if _, err := s.NewPersona("kept"); err != nil {
				t.Fatal(err)
			}
			crashAt(t, point)
			if _, err := s.NewPersona("lost"); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("NewPersona: %v", err)
			}
			crashHook = nil
			pdir := filepath.Join(dir, personasDir)
			if got := stagingDirs(t, pdir, personaStagingPrefix); len(got) != 1 {
				t.Fatalf("want one persona staging leftover, got %v", got)
			}
			// After the "reboot" the half persona is gone, the rest intact.
			o, err := Open(dir, pass)
			if err != nil {
				t.Fatal(err)
			}
			if got := stagingDirs(t, pdir, personaStagingPrefix); len(got) != 0 {
				t.Fatalf("Open left %v", got)
			}
			ps := o.Personas()
			if len(ps) != 2 || ps[1].Name != "kept" {
				t.Fatalf("personas after crash: %+v", ps)
			}
			// The index is free again and the next persona takes it.
			p, err := o.NewPersona("lost")
			if err != nil {
				t.Fatal(err)
			}
			if p.Index != 2 {
				t.Fatalf("index %d, want 2", p.Index)
			}
		})
	}
}

// A staging directory by hand, as another implementation's crash might
// leave it: half a persona with a name that would clash.
func TestHalfPersonaLeftByHand(t *testing.T) {
	_, dir := newStore(t, false)
	staging := filepath.Join(dir, personasDir, personaStagingPrefix+"x")
	if err := os.Mkdir(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(staging, personaMetaFile), []byte(`{"version":1,"did":"x","name":"default","index":1}`), 0o600)
	o, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Personas()) != 1 {
		t.Fatalf("personas: %+v", o.Personas())
	}
	if _, err := os.Stat(staging); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("staging directory not removed")
	}
}
