package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type vectorFile struct {
	Vectors []struct {
		Mnemonic string
		Personas []struct {
			Index uint32
			DID   string
		}
	}
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	b, err := os.ReadFile("../../internal/identity/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil || len(v.Vectors) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	return v
}

// peer init --restore with a committed phrase yields the committed persona,
// and `persona new` the committed second one.
func TestInitRestoreYieldsCommittedPersona(t *testing.T) {
	for _, vec := range loadVectors(t).Vectors {
		t.Run(vec.Personas[0].DID, func(t *testing.T) {
			data := t.TempDir()
			// Words may come on several lines with odd spacing and case.
			words := strings.Fields(vec.Mnemonic)
			in := strings.ToUpper(strings.Join(words[:12], "  ")) + "\n" + strings.Join(words[12:], " ") + "\n"
			r := run(t, in, nil, "init", "--restore", "--data", data, "--json")
			if r.code != 0 {
				t.Fatalf("init --restore: %+v", r)
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatal(err)
			}
			if out["persona"] != vec.Personas[0].DID {
				t.Fatalf("restored persona %v, want %s", out["persona"], vec.Personas[0].DID)
			}
			if _, shown := out["recovery_phrase"]; shown {
				t.Fatal("a restore must not echo the phrase")
			}
			d := startUp(t, data, nil)
			if d.persona != vec.Personas[0].DID {
				t.Fatalf("up after restore: %s", d.persona)
			}
			r = run(t, "", nil, "persona", "new", "--data", data, "--json")
			if r.code != 0 || !strings.Contains(r.stdout, vec.Personas[1].DID) {
				t.Fatalf("second persona %+v, want %s", r, vec.Personas[1].DID)
			}
		})
	}
}

func TestInitBadInput(t *testing.T) {
	vec := loadVectors(t).Vectors[0]
	words := strings.Fields(vec.Mnemonic)
	swapped := append([]string{words[1], words[0]}, words[2:]...)
	swapped[0], swapped[23] = swapped[23], swapped[0]
	tests := []struct {
		name, stdin, want string
	}{
		{"twelve words", strings.Join(words[:12], " "), "24"},
		{"unknown word", strings.Replace(vec.Mnemonic, "art", "arty", 1), `"arty"`},
		{"bad checksum", strings.Join(swapped, " "), "checksum"},
		{"nothing", "", "no recovery phrase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			r := run(t, tc.stdin, nil, "init", "--restore", "--data", data)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want failure mentioning %q: %+v", tc.want, r)
			}
			if _, err := os.Stat(filepath.Join(data, "keys")); !os.IsNotExist(err) {
				t.Fatal("a failed restore left keys behind")
			}
		})
	}
	// init twice refuses and keeps the first identity.
	data := t.TempDir()
	r1 := run(t, "", nil, "init", "--data", data, "--json")
	r2 := run(t, "", nil, "init", "--data", data)
	if r1.code != 0 || r2.code == 0 || !strings.Contains(r2.stderr, "already holds an identity") {
		t.Fatalf("second init: %+v / %+v", r1, r2)
	}
	if !strings.Contains(r1.stdout, `"recovery_phrase"`) {
		t.Fatalf("new identity must show its phrase once: %s", r1.stdout)
	}
}

func TestSealedKeys(t *testing.T) {
	data := t.TempDir()
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("correct horse battery staple\n"), 0o600)
	r := run(t, "", nil, "init", "--data", data, "--passphrase-file", pf, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"sealed": true`) {
		t.Fatalf("init sealed: %+v", r)
	}
	// Without a passphrase, with a wrong one: clear errors, nothing starts.
	r = run(t, "", nil, "up", "--data", data, "--api-listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "sealed") || !strings.Contains(r.stderr, "PEER_PASSPHRASE") {
		t.Fatalf("up without passphrase: %+v", r)
	}
	r = run(t, "", []string{"PEER_PASSPHRASE=wrong"}, "up", "--data", data, "--api-listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("up with wrong passphrase: %+v", r)
	}
	d := startUp(t, data, nil, "--passphrase-file", pf)
	r = run(t, "", nil, "persona", "new", "sealed-two", "--data", data)
	if r.code != 0 {
		t.Fatalf("persona new on sealed store: %+v", r)
	}
	if err := d.stop(t, syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	d2 := startUp(t, data, []string{"PEER_PASSPHRASE=correct horse battery staple"})
	if d2.persona != d.persona {
		t.Fatal("identity changed")
	}
	r = run(t, "", nil, "status", "--data", data, "--json")
	if !strings.Contains(r.stdout, `"sealed": true`) || !strings.Contains(r.stdout, `"personas": 2`) {
		t.Fatalf("status: %+v", r)
	}
}

func TestMalformedConfigChangesNothing(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "[api]\nlistn = \"127.0.0.1:1\"\n", `config.toml:2: unknown key "api.listn"`},
		{"bad value", "[log]\n\nlevel = \"loud\"\n", "config.toml:3: log.level"},
		{"wrong type", "[api]\nmax_body_bytes = \"big\"\n", "config.toml:2: api.max_body_bytes"},
		{"syntax", "[api\n", "config.toml:1"},
		{"remote without consent", "[api]\nlisten = \"0.0.0.0:7357\"\n", "allow_remote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			os.WriteFile(filepath.Join(data, "config.toml"), []byte(tc.config), 0o600)
			r := run(t, "", nil, "up", "--data", data)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want failure with %q: %+v", tc.want, r)
			}
			ents, _ := os.ReadDir(data)
			for _, e := range ents {
				if e.Name() != "config.toml" && e.Name() != "LOCK" {
					t.Errorf("bad config still created %s", e.Name())
				}
			}
		})
	}
	// Flags and env are checked the same way.
	data := t.TempDir()
	r := run(t, "", []string{"PEER_LOG_LEVEL=chatty"}, "up", "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, "PEER_LOG_LEVEL") {
		t.Fatalf("bad env: %+v", r)
	}
	r = run(t, "", nil, "up", "--data", data, "--set", "api.nope=1")
	if r.code == 0 || !strings.Contains(r.stderr, "api.nope") {
		t.Fatalf("bad --set: %+v", r)
	}
}

// TestKillDuringFirstInit SIGKILLs `peer init` (sealed, so the key
// derivation takes a while) at many points. Every time, the next `peer up`
// must either start with a complete identity or create a fresh one; never
// fail on, or run with, half an identity.
func TestKillDuringFirstInit(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("pw\n"), 0o600)
	env := []string{"PEER_PASSPHRASE=pw"}
	outcomes := map[string]int{}
	for i := 0; i < 20; i++ {
		data := t.TempDir()
		cmd := exec.Command(peerBin, "init", "--data", data, "--passphrase-file", pf)
		cmd.Env = envClean()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 12 * time.Millisecond) // a kill point, not a wait for anything
		cmd.Process.Kill()
		err := cmd.Wait()
		killed := err != nil
		d, err := tryUp(data, env)
		if err != nil {
			t.Fatalf("kill point %d (killed=%v): next start failed: %v\nkeys: %s", i, killed, err, listDir(data))
		}
		r := run(t, "", nil, "persona", "show", "--data", data)
		if r.code != 0 || !strings.Contains(r.stdout, "verified true") || !strings.Contains(r.stdout, d.persona) {
			t.Fatalf("kill point %d: identity after restart: %+v", i, r)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		<-d.done
		leftovers, _ := filepath.Glob(filepath.Join(data, "keys.init-*"))
		if len(leftovers) > 0 {
			t.Fatalf("kill point %d: staging left after a clean start: %v", i, leftovers)
		}
		outcomes[fmt.Sprint("killed=", killed)]++
	}
	t.Logf("outcomes: %v", outcomes)
}

func envClean() []string { return env() }

func listDir(dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %d\n", p, info.Size())
		}
		return nil
	})
	return b.String()
}
