// Package archtest enforces the layering of docs/architecture.md: domain and
// storage packages never reach libp2p, net/http or the edges; only the
// command and test harnesses import the composition root; the command
// reaches the node's internals only through node and the API client.
//
// It has no importers; its test runs the rules over the module's real
// import graph (from `go list`) and over synthetic graphs that must fail.
package archtest

import (
	"fmt"
	"sort"
	"strings"
)

// Module is the module path the rules are written against.
const Module = "github.com/peer-node/peer"

// Package is one node of the import graph.
type Package struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // every transitive dependency
}

// edges are the packages at the edge of the system: network, HTTP, the
// composition root and their harnesses. Everything else under internal/ is
// domain or storage.
var edges = []string{"p2p", "discovery", "httpapi", "apibackend", "apiclient", "webui", "webdav", "node", "nodetest", "archtest"}

func internal(name string) string { return Module + "/internal/" + name }

func isEdge(pkg string) bool {
	for _, e := range edges {
		if pkg == internal(e) || strings.HasPrefix(pkg, internal(e)+"/") {
			return true
		}
	}
	return false
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

// Violation is one broken rule.
type Violation struct {
	Package, Import, Rule string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s imports %s: %s", v.Package, v.Import, v.Rule)
}

// Check applies the layering rules to a graph and returns what breaks them.
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
				case strings.HasPrefix(dep, "github.com/libp2p/"):
					out = append(out, Violation{path, dep, "domain packages must not depend on libp2p"})
				case isEdge(dep):
					out = append(out, Violation{path, dep, "domain packages must not depend on edge packages or the composition root"})
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
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
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
