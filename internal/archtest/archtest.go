// Package archtest enforces the layering of docs/architecture.md: domain and
// storage packages never reach libp2p, net/http or the edges; only the
// network port's libp2p adapter (internal/p2p/…) imports libp2p; the
// composition root registers no stream handlers and opens no streams; only
// the command and test harnesses import the composition root; the command
// reaches the node's internals only through node and the API client.
//
// It has no importers; its test runs the rules over the module's real
// import graph (from `go list`) and over a fixture module and synthetic
// graphs that must fail.
package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Module is the module path the rules are written against.
const Module = "github.com/peer-node/peer"

// Package is one node of the import graph, as `go list -json` reports it.
type Package struct {
	ImportPath string
	Dir        string   // directory holding the sources; "" skips the source rules
	GoFiles    []string // non-test Go files, relative to Dir
	Imports    []string // direct imports of the non-test files
	Deps       []string // every transitive dependency
}

// edges are the packages at the edge of the system: network, HTTP, the
// composition root and their harnesses. Everything else under internal/ is
// domain or storage (capabilities, stores, and the network port netport).
// Everything under internal/p2p — the port's libp2p adapter and what sits
// beside it, such as discovery — is an edge through the "p2p" entry.
var edges = []string{"p2p", "httpapi", "apibackend", "apiclient", "webui", "webdav", "node", "nodetest", "archtest"}

// declared lists, for the domain packages that declare them, every package
// of the module they may import (by name under internal/); anything else
// of the module is a violation. Standard-library and other modules'
// imports are left to the rules above.
var declared = map[string][]string{
	// persona: the persona state (docs/identity.md section 14) verifies
	// with identity, encodes with codec, stores over kv and syncs over the
	// network port (step 13).
	"persona": {"identity", "codec", "kv", "netport"},
}

func internal(name string) string { return Module + "/internal/" + name }

func isEdge(pkg string) bool {
	for _, e := range edges {
		if under(pkg, internal(e)) {
			return true
		}
	}
	return false
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

func isLibp2p(imp string) bool { return strings.HasPrefix(imp, "github.com/libp2p/") }

// mayImportLibp2p reports whether pkg may import a libp2p module directly:
// the libp2p adapter of the network port (internal/p2p and below), and the
// test harnesses internal/nodetest and test/…, which may build libp2p hosts
// for integration tests and benchmarks and are never linked into the binary.
func mayImportLibp2p(pkg string) bool {
	return under(pkg, internal("p2p")) || under(pkg, internal("nodetest")) || strings.HasPrefix(pkg, Module+"/test/")
}

// streamMethods are the calls that register a stream handler or open a
// stream, on a libp2p host or on a netport.Network. The composition root
// makes none of them: each capability's service does, through the port.
var streamMethods = map[string]bool{
	"SetStreamHandler":      true,
	"SetStreamHandlerMatch": true,
	"RemoveStreamHandler":   true,
	"NewStream":             true,
	"Handle":                true, // netport.Network.Handle
}

// Violation is one broken rule. Import is what breaks it: an import path,
// or, for the source rules, "call X at file:line".
type Violation struct {
	Package, Import, Rule string
}

func (v Violation) String() string {
	if strings.HasPrefix(v.Import, "call ") || strings.HasPrefix(v.Import, "parse ") {
		return fmt.Sprintf("%s: %s: %s", v.Package, v.Import, v.Rule)
	}
	return fmt.Sprintf("%s imports %s: %s", v.Package, v.Import, v.Rule)
}

// Check applies the layering rules to a graph and returns what breaks them.
// For packages under internal/node with a Dir it also parses their non-test
// sources for stream calls.
func Check(pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		path := p.ImportPath
		domain := under(path, Module+"/internal") && !isEdge(path)
		if domain {
			for _, imp := range p.Imports {
				if imp == "net/http" || strings.HasPrefix(imp, "net/http/") {
					out = append(out, Violation{path, imp, "domain packages must not use net/http; declare an interface and let node plug the edge in"})
				}
			}
			for _, dep := range p.Deps {
				switch {
				case isLibp2p(dep):
					out = append(out, Violation{path, dep, "domain packages must not depend on libp2p"})
				case isEdge(dep):
					out = append(out, Violation{path, dep, "domain packages must not depend on edge packages or the composition root"})
				}
			}
		}
		for name, allowed := range declared {
			if path != internal(name) {
				continue
			}
			for _, imp := range p.Imports {
				if under(imp, Module) && !slices.ContainsFunc(allowed, func(a string) bool { return imp == internal(a) }) {
					out = append(out, Violation{path, imp, fmt.Sprintf("%s declares the module packages it may import: %s", name, strings.Join(allowed, ", "))})
				}
			}
		}
		if !mayImportLibp2p(path) {
			for _, imp := range p.Imports {
				if isLibp2p(imp) {
					out = append(out, Violation{path, imp, "only internal/p2p/… (the network port's libp2p adapter) and the test harnesses import libp2p; reach the network through netport"})
				}
			}
		}
		for _, imp := range p.Imports {
			if under(imp, internal("node")) && !under(path, Module+"/cmd/peer") && !under(path, internal("nodetest")) && !strings.HasPrefix(path, Module+"/test/") {
				out = append(out, Violation{path, imp, "only cmd/peer and test harnesses import the composition root"})
			}
		}
		if under(path, Module+"/cmd/peer") {
			for _, imp := range p.Imports {
				if under(imp, Module+"/internal") && !allowedInCmd(imp) {
					out = append(out, Violation{path, imp, "the command reaches the node only through node (to run it) and apiclient (to talk to it)"})
				}
			}
		}
		if under(path, internal("node")) && p.Dir != "" {
			out = append(out, streamCalls(p)...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

const streamRule = "node only wires: capability services register their protocol handlers and open their streams through netport"

// streamCalls parses p's non-test sources and reports every call of a
// method named in streamMethods, whatever its receiver.
func streamCalls(p Package) []Violation {
	var out []Violation
	fset := token.NewFileSet()
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			out = append(out, Violation{p.ImportPath, "parse " + name, err.Error()})
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fun := ast.Unparen(call.Fun)
			switch x := fun.(type) { // x.M[T](…)
			case *ast.IndexExpr:
				fun = x.X
			case *ast.IndexListExpr:
				fun = x.X
			}
			if sel, ok := fun.(*ast.SelectorExpr); ok && streamMethods[sel.Sel.Name] {
				pos := fset.Position(sel.Sel.Pos())
				out = append(out, Violation{p.ImportPath, fmt.Sprintf("call %s at %s:%d", sel.Sel.Name, name, pos.Line), streamRule})
			}
			return true
		})
	}
	return out
}

func allowedInCmd(imp string) bool {
	for _, ok := range []string{"node", "apiclient", "apiv1", "datadir", "version"} {
		if imp == internal(ok) {
			return true
		}
	}
	return false
}
