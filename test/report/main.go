// Command report reads the output of `go test -json` on standard input and
// prints what a person needs from a whole-suite run: one line per package
// (as go test prints without -v), the full output of each test that failed
// or never finished, and at the end every skipped test with the reason it
// gave, so that a run that skipped something never looks the same as one
// that ran everything. It exits 1 if a test or a build failed.
//
// ./test.sh pipes the suite through it: go test -race -json ./... | go run ./test/report
// It imports nothing but the standard library; nothing imports it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	if !report(os.Stdin, os.Stdout) {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus
// the build events of go test).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

// skip is one skipped test and the reason it printed.
type skip struct{ pkg, test, reason string }

// report copies the run on r to w as described in the package comment and
// says whether everything passed.
func report(r io.Reader, w io.Writer) (ok bool) {
	ok = true
	type key struct{ pkg, test string }
	logs := map[key][]string{} // output of tests under way
	var order []key            // tests in the order they started, for the unfinished
	var skips []skip
	passed, failed := 0, 0 // tests and subtests
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(w, "%s\n", line) // not an event: pass it on
			continue
		}
		k := key{ev.Package, ev.Test}
		switch {
		case ev.Action == "build-output":
			fmt.Fprint(w, ev.Output)
		case ev.Action == "build-fail":
			ok = false
		case ev.Test == "":
			// The package's own lines: "ok …", "FAIL …", "?  … [no test
			// files]", and whatever ran outside a test (TestMain, a panic).
			if ev.Action == "output" && ev.Output != "PASS\n" {
				fmt.Fprint(w, ev.Output)
			}
			if ev.Action == "fail" {
				ok = false
			}
		case ev.Action == "run":
			if _, seen := logs[k]; !seen {
				order = append(order, k)
			}
			logs[k] = nil
		case ev.Action == "output":
			logs[k] = append(logs[k], ev.Output)
		case ev.Action == "pass":
			passed++
			delete(logs, k)
		case ev.Action == "skip":
			skips = append(skips, skip{ev.Package, ev.Test, skipReason(logs[k])})
			delete(logs, k)
		case ev.Action == "fail":
			ok = false
			failed++
			fmt.Fprintf(w, "--- FAIL: %s (%s)\n%s", ev.Test, ev.Package, strings.Join(logs[k], ""))
			delete(logs, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(w, "report: reading the test run: %v\n", err)
		ok = false
	}
	for _, k := range order {
		if l, open := logs[k]; open {
			ok = false
			fmt.Fprintf(w, "--- UNFINISHED: %s (%s)\n%s", k.test, k.pkg, strings.Join(l, ""))
		}
	}
	printSkips(w, skips)
	// The plain closing line CI's readers count (tests and subtests).
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", passed, failed, len(skips))
	return ok
}

// skipReason is what a skipped test printed, without the framework's own
// lines ("=== RUN", "--- SKIP"); the file:line prefix is kept, to find the
// skip.
func skipReason(out []string) string {
	var parts []string
	for _, l := range out {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func printSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "no test was skipped")
		return
	}
	sort.SliceStable(skips, func(i, j int) bool {
		if skips[i].pkg != skips[j].pkg {
			return skips[i].pkg < skips[j].pkg
		}
		return skips[i].test < skips[j].test
	})
	noun := "tests were"
	if len(skips) == 1 {
		noun = "test was"
	}
	fmt.Fprintf(w, "\n%d %s skipped:\n", len(skips), noun)
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
