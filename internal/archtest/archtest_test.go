package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// load lists the module's packages and their imports with the go command.
func load(t *testing.T, dir string) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []Package
	for {
		var p struct{ Package }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p.Package)
	}
	return pkgs
}

func TestModuleFollowsLayers(t *testing.T) {
	pkgs := load(t, "../..")
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range Check(pkgs) {
		t.Error(v)
	}
}

// TestCheckFailsOnFixture runs the same path as TestModuleFollowsLayers over
// a fixture module that breaks the rules, so the real check is shown to fail.
func TestCheckFailsOnFixture(t *testing.T) {
	var got []string
	for _, v := range Check(load(t, "testdata/badmod")) {
		got = append(got, v.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"internal/identity imports net/http",
		"internal/identity imports github.com/peer-node/peer/internal/node: only cmd/peer",
		"cmd/peer imports github.com/peer-node/peer/internal/keystore",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("fixture violation %q not reported; got:\n%s", want, all)
		}
	}
}

func TestCheckCatchesForbiddenImports(t *testing.T) {
	m := Module + "/internal/"
	tests := []struct {
		name string
		pkg  Package
		want string // substring of the violation; "" = none
	}{
		{"domain imports net/http", Package{ImportPath: m + "identity", Imports: []string{"net/http"}}, "net/http"},
		{"domain depends on libp2p", Package{ImportPath: m + "kv", Deps: []string{"github.com/libp2p/go-libp2p/core/peer"}}, "libp2p"},
		{"domain depends on node", Package{ImportPath: m + "mimei", Imports: []string{m + "node"}, Deps: []string{m + "node"}}, "composition root"},
		{"domain depends on httpapi", Package{ImportPath: m + "kv/pebblekv", Deps: []string{m + "httpapi"}}, "edge"},
		{"edge imports node", Package{ImportPath: m + "httpapi", Imports: []string{m + "node"}}, "composition root"},
		{"cmd reaches keystore", Package{ImportPath: Module + "/cmd/peer", Imports: []string{m + "keystore"}}, "only through node"},
		{"domain may use net/url", Package{ImportPath: m + "identity", Imports: []string{"net/url"}}, ""},
		{"domain depends on net/http indirectly (allowed)", Package{ImportPath: m + "kv/pebblekv", Deps: []string{"net/http"}}, ""},
		{"edge uses net/http and libp2p", Package{ImportPath: m + "p2p", Imports: []string{"net/http"}, Deps: []string{"github.com/libp2p/go-libp2p"}}, ""},
		{"cmd imports node and apiclient", Package{ImportPath: Module + "/cmd/peer", Imports: []string{m + "node", m + "apiclient"}}, ""},
		{"harness imports node", Package{ImportPath: m + "nodetest", Imports: []string{m + "node"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := Check([]Package{tc.pkg})
			if tc.want == "" {
				if len(vs) != 0 {
					t.Fatalf("unexpected violations: %v", vs)
				}
				return
			}
			if len(vs) == 0 {
				t.Fatalf("forbidden import not caught")
			}
			if !strings.Contains(vs[0].String(), tc.want) {
				t.Fatalf("violation %q lacks %q", vs[0], tc.want)
			}
		})
	}
}
