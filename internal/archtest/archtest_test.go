package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// load lists the module's packages and their imports with the go command.
func load(t *testing.T, dir string) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Dir,GoFiles,Imports,Deps", "./...")
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
	// A declared package that is renamed or gone would leave its rule
	// checking nothing.
	for name := range declared {
		found := false
		for _, p := range pkgs {
			found = found || p.ImportPath == internal(name)
		}
		if !found {
			t.Errorf("declared package internal/%s is not in the module", name)
		}
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
		"internal/share imports github.com/libp2p/go-libp2p/core/host: domain packages must not depend on libp2p",
		"internal/share imports github.com/libp2p/go-libp2p/core/host: only internal/p2p/",
		"internal/devices imports github.com/libp2p/go-libp2p/core/host: domain packages must not depend on libp2p",
		"internal/httpapi imports github.com/libp2p/go-libp2p/core/host: only internal/p2p/",
		"internal/node: call SetStreamHandler at node.go:19: node only wires",
		"internal/node: call Handle at node.go:20: node only wires",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("fixture violation %q not reported; got:\n%s", want, all)
		}
	}
	// What the rules allow must stay quiet: the adapter's libp2p import, an
	// indirect libp2p dependency outside the domain's dependency rule, and
	// stream calls in the composition root's test files.
	for _, unwanted := range []string{
		"internal/p2p imports",
		"internal/devices imports github.com/libp2p/go-libp2p/core/host: only internal/p2p/",
		"call NewStream",
	} {
		if strings.Contains(all, unwanted) {
			t.Errorf("fixture reported %q, which the rules allow; got:\n%s", unwanted, all)
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
		{"capability imports libp2p", Package{ImportPath: m + "share", Imports: []string{"github.com/libp2p/go-libp2p/core/host"}}, "only internal/p2p/"},
		{"port imports libp2p", Package{ImportPath: m + "netport", Imports: []string{"github.com/libp2p/go-libp2p/core/network"}}, "only internal/p2p/"},
		{"node imports libp2p", Package{ImportPath: m + "node", Imports: []string{"github.com/libp2p/go-libp2p/core/host"}}, "only internal/p2p/"},
		{"apibackend imports libp2p", Package{ImportPath: m + "apibackend", Imports: []string{"github.com/libp2p/go-libp2p/core/peer"}}, "only internal/p2p/"},
		{"httpapi imports libp2p", Package{ImportPath: m + "httpapi", Imports: []string{"github.com/libp2p/go-libp2p-kad-dht"}}, "only internal/p2p/"},
		{"cmd imports libp2p", Package{ImportPath: Module + "/cmd/peer", Imports: []string{"github.com/libp2p/go-libp2p"}}, "only internal/p2p/"},
		{"edge depends on libp2p through p2p (allowed)", Package{ImportPath: m + "node", Imports: []string{m + "p2p"}, Deps: []string{m + "p2p", "github.com/libp2p/go-libp2p"}}, ""},
		{"adapter imports libp2p", Package{ImportPath: m + "p2p", Imports: []string{"github.com/libp2p/go-libp2p"}}, ""},
		{"package under p2p imports libp2p", Package{ImportPath: m + "p2p/discovery", Imports: []string{"github.com/libp2p/go-libp2p/core/host"}}, ""},
		{"nodetest imports libp2p", Package{ImportPath: m + "nodetest", Imports: []string{"github.com/libp2p/go-libp2p"}}, ""},
		{"test harness imports libp2p", Package{ImportPath: Module + "/test/e2e", Imports: []string{"github.com/libp2p/go-libp2p/core/host"}}, ""},
		{"persona imports its declared packages", Package{ImportPath: m + "persona", Imports: []string{m + "identity", m + "codec", m + "kv", "crypto/ed25519"}}, ""},
		{"persona imports an undeclared package", Package{ImportPath: m + "persona", Imports: []string{m + "keystore"}}, "persona declares the module packages it may import"},
		{"persona imports net/http", Package{ImportPath: m + "persona", Imports: []string{"net/http"}}, "net/http"},
		{"persona depends on libp2p", Package{ImportPath: m + "persona", Deps: []string{"github.com/libp2p/go-libp2p/core/peer"}}, "libp2p"},
		{"lookalike of p2p imports libp2p", Package{ImportPath: m + "p2pish", Imports: []string{"github.com/libp2p/go-libp2p"}}, "only internal/p2p/"},
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

// TestCheckCatchesStreamCalls runs the source rule over small node packages
// written to a temporary directory.
func TestCheckCatchesStreamCalls(t *testing.T) {
	node := Module + "/internal/node"
	tests := []struct {
		name string
		pkg  string // import path the source is checked as
		body string // function body in a file of package node
		want string // substring of the violation; "" = none
	}{
		{"SetStreamHandler", node, `var h host; h.SetStreamHandler("/p/1", nil)`, "call SetStreamHandler at node.go:"},
		{"SetStreamHandlerMatch", node, `var h host; h.SetStreamHandlerMatch("/p/1", nil, nil)`, "call SetStreamHandlerMatch"},
		{"RemoveStreamHandler", node, `var h host; h.RemoveStreamHandler("/p/1")`, "call RemoveStreamHandler"},
		{"NewStream", node, `var h host; h.NewStream(nil, "", "/p/1")`, "call NewStream"},
		{"netport Handle", node, `var n host; n.Handle("/p/1", nil)`, "call Handle"},
		{"through a field", node, `var s struct{ net host }; s.net.Handle("/p/1", nil)`, "call Handle"},
		{"generic method call", node, `var g gen; g.Handle[int]()`, "call Handle"},
		{"in a subpackage", node + "/wiring", `var h host; h.NewStream(nil, "", "/p/1")`, "call NewStream"},
		{"other calls", node, `var h host; h.Start(); h.Close()`, ""},
		{"plain function named Handle", node, `Handle()`, ""},
		{"outside node", Module + "/internal/share", `var n host; n.Handle("/p/1", nil)`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package node\n\ntype host struct{}\n\n" +
				"func (host) SetStreamHandler(...any)      {}\n" +
				"func (host) SetStreamHandlerMatch(...any) {}\n" +
				"func (host) RemoveStreamHandler(...any)   {}\n" +
				"func (host) NewStream(...any)             {}\n" +
				"func (host) Handle(...any)                {}\n" +
				"func (host) Start()                       {}\n" +
				"func (host) Close()                       {}\n\n" +
				"type gen struct{}\n\nfunc Handle() {}\n\n" +
				"func wire() { " + tc.body + " }\n"
			if err := os.WriteFile(filepath.Join(dir, "node.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			vs := Check([]Package{{ImportPath: tc.pkg, Dir: dir, GoFiles: []string{"node.go"}}})
			if tc.want == "" {
				if len(vs) != 0 {
					t.Fatalf("unexpected violations: %v", vs)
				}
				return
			}
			if len(vs) != 1 || !strings.Contains(vs[0].String(), tc.want) {
				t.Fatalf("got %v, want one violation containing %q", vs, tc.want)
			}
		})
	}
}

func TestCheckReportsUnparsableNode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node.go"), []byte("package node\nfunc {"), 0o644); err != nil {
		t.Fatal(err)
	}
	vs := Check([]Package{{ImportPath: Module + "/internal/node", Dir: dir, GoFiles: []string{"node.go"}}})
	if len(vs) != 1 || !strings.Contains(vs[0].String(), "parse node.go") {
		t.Fatalf("got %v, want one parse violation", vs)
	}
}

// maxNodeLines bounds the composition root: internal/node only wires
// (issue 15); a capability's flows belong in its own package.
const maxNodeLines = 1500

// TestNodeOnlyWires counts the non-test lines of internal/node and prints
// them per file.
func TestNodeOnlyWires(t *testing.T) {
	files, err := filepath.Glob("../node/*.go")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := bytes.Count(b, []byte("\n"))
		total += n
		t.Logf("%5d %s", n, filepath.Base(f))
	}
	t.Logf("%5d internal/node in all (limit %d)", total, maxNodeLines)
	if total == 0 || total >= maxNodeLines {
		t.Fatalf("internal/node has %d non-test lines; the composition root should only wire (under %d)", total, maxNodeLines)
	}
}
