package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	const pkg = `"Package":"example.com/p"`
	ev := func(fields string) string { return `{` + pkg + `,` + fields + "}\n" }
	out := func(test, s string) string {
		return ev(`"Action":"output","Test":"` + test + `","Output":"` + s + `\n"`)
	}
	pkgOut := func(s string) string { return ev(`"Action":"output","Output":"` + s + `\n"`) }
	for _, tc := range []struct {
		name   string
		in     string
		ok     bool
		want   []string
		absent []string
	}{{
		name: "passes are quiet, skips are listed with their reason",
		in: ev(`"Action":"run","Test":"TestA"`) + out("TestA", "=== RUN   TestA") + out("TestA", "    a_test.go:3: chatter") +
			out("TestA", "--- PASS: TestA (0.00s)") + ev(`"Action":"pass","Test":"TestA"`) +
			ev(`"Action":"run","Test":"TestB"`) + out("TestB", "=== RUN   TestB") + out("TestB", "    b_test.go:9: needs root") +
			out("TestB", "--- SKIP: TestB (0.00s)") + ev(`"Action":"skip","Test":"TestB"`) +
			pkgOut("PASS") + pkgOut(`ok  \texample.com/p\t0.1s`) + ev(`"Action":"pass"`),
		ok:     true,
		want:   []string{"ok  \texample.com/p\t0.1s\n", "1 test was skipped:\n  example.com/p TestB: b_test.go:9: needs root\n", "tests: 1 passed, 0 failed, 1 skipped\n"},
		absent: []string{"chatter", "PASS\n", "=== RUN"},
	}, {
		name: "a failure prints the test's output",
		in: ev(`"Action":"run","Test":"TestF"`) + out("TestF", "=== RUN   TestF") + out("TestF", "    f_test.go:5: got 1, want 2") +
			out("TestF", "--- FAIL: TestF (0.00s)") + ev(`"Action":"fail","Test":"TestF"`) +
			pkgOut("FAIL") + pkgOut(`FAIL\texample.com/p\t0.1s`) + ev(`"Action":"fail"`),
		want: []string{"--- FAIL: TestF (example.com/p)\n", "f_test.go:5: got 1, want 2", "FAIL\texample.com/p\t0.1s", "no test was skipped", "tests: 0 passed, 1 failed, 0 skipped\n"},
	}, {
		name: "a skip without a reason says so",
		in:   ev(`"Action":"run","Test":"TestS"`) + out("TestS", "--- SKIP: TestS (0.00s)") + ev(`"Action":"skip","Test":"TestS"`),
		ok:   true,
		want: []string{"example.com/p TestS: (no reason given)"},
	}, {
		name: "a test that never ended (a panic, a timeout) is shown and fails the run",
		in:   ev(`"Action":"run","Test":"TestHang"`) + out("TestHang", "    h_test.go:1: waiting") + pkgOut("panic: test timed out"),
		want: []string{"panic: test timed out", "--- UNFINISHED: TestHang (example.com/p)\n    h_test.go:1: waiting"},
	}, {
		name: "build failures are printed and fail the run",
		in: `{"ImportPath":"example.com/q","Action":"build-output","Output":"q.go:2:12: undefined: y\n"}` + "\n" +
			`{"ImportPath":"example.com/q","Action":"build-fail"}` + "\n" + "not json at all\n",
		want: []string{"q.go:2:12: undefined: y\n", "not json at all\n"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			ok := report(strings.NewReader(tc.in), &b)
			if ok != tc.ok {
				t.Errorf("report said ok=%v, want %v", ok, tc.ok)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(b.String(), a) {
					t.Errorf("output has %q:\n%s", a, b.String())
				}
			}
		})
	}
}
