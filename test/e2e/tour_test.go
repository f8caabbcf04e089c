package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/test/netns"
)

// readmeLines returns the command lines of the README's ```sh blocks in
// order, without their comments; lines that are only a comment are left
// out.
func readmeLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var lines []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in:
			l = strings.TrimSpace(comment.ReplaceAllString(l, ""))
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// tourShell is one person's shell in the tour, with their data directory
// ($PEER_DATA).
type tourShell struct {
	name string
	data string // "" until the tour sets it
}

// tourStep is one README line and how the test runs it.
type tourStep struct {
	line string
	// not run: why (another test covers it, or it is the suite itself)
	notRun string
	// whose shell runs it; nil: yours
	on *tourShell
	// a fresh data directory for this line alone (the init alternatives)
	fresh bool
	// extra environment for this line
	env []string
	// the README's placeholder and what the test puts in its place
	fill func() (placeholder, value string)
	// instead of running the line through bash
	special func(t *testing.T)
	// what its standard output must hold (fixed strings; what depends on
	// earlier lines is checked in then)
	want []string
	// checks and captures after it ran
	then func(t *testing.T, r result)
}

// TestTour runs the README's shell blocks as written, line by line, in
// bash with the peer binary TestMain built first on PATH: your node and
// Alice's (two processes, loopback only, no DHT), a home directory with
// ~/Photos, a working directory with notes.txt. The step table must list
// exactly the README's lines in order, so the README cannot change
// without the tour being run again. Placeholders (an invite link, a
// pairing code, a did:key) are filled in from what the earlier lines
// printed; `peer up &` is started by the test with a free API port.
func TestTour(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	home, work, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	photos := filepath.Join(home, "Photos")
	if err := os.MkdirAll(filepath.Join(photos, "2024"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		os.WriteFile(filepath.Join(photos, "2024", fmt.Sprintf("img%d.jpg", i)), bytes.Repeat([]byte{byte(i)}, 3000), 0o644)
	}
	for i := range 4 { // more than the CLI names one by one
		_ = os.Symlink("2024/img0.jpg", filepath.Join(photos, fmt.Sprintf("latest%d.jpg", i)))
	}
	const notes = "packing list: charger, passport\n"
	os.WriteFile(filepath.Join(work, "notes.txt"), []byte(notes), 0o644)

	net := []string{"PEER_NETWORK_DHT=off"} // loopback only (env adds the rest)
	shellEnv := append([]string{"HOME=" + home, "TMPDIR=" + tmp,
		"PATH=" + filepath.Dir(peerBin) + string(os.PathListSeparator) + os.Getenv("PATH")}, net...)
	vars := map[string]string{} // variables the lines set ($M)
	you := &tourShell{name: "you"}
	alice := &tourShell{name: "alice", data: t.TempDir()}
	var (
		yourNode, aliceNode        *daemon
		persona, words, link, pair string
		stranger                   string
	)

	// run runs one line in sh's shell and records what it exported.
	run := func(t *testing.T, sh *tourShell, line string, extra []string) result {
		t.Helper()
		state := filepath.Join(tmp, "state")
		script := "set -eo pipefail\nset -a\n" + line + "\nenv -0 >\"$TOUR_STATE\"\n"
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir = work
		e := append(append([]string{}, shellEnv...), "TOUR_STATE="+state)
		for k, v := range vars {
			e = append(e, k+"="+v)
		}
		if sh.data != "" {
			e = append(e, "PEER_DATA="+sh.data)
		}
		cmd.Env = env(append(e, extra...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{out.String(), errb.String(), 0}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if r.code != 0 {
			t.Fatalf("%s$ %s\nexit %d\nstdout:\n%s\nstderr:\n%s", sh.name, line, r.code, r.stdout, r.stderr)
		}
		b, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		before := map[string]string{}
		for _, kv := range cmd.Env {
			k, v, _ := strings.Cut(kv, "=")
			before[k] = v
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			k, v, ok := strings.Cut(kv, "=")
			switch {
			case !ok || before[k] == v || k == "PWD" || k == "OLDPWD" || k == "SHLVL" || k == "_":
			case k == "PEER_DATA":
				sh.data = v
			default:
				vars[k] = v
			}
		}
		t.Logf("%s$ %s\n%s", sh.name, line, indent(r.stdout+r.stderr, 12))
		return r
	}
	nodeEnv := func() []string { return append([]string{"HOME=" + home}, net...) }

	steps := []tourStep{
		{line: "go run ./cmd/peer up", notRun: "TestGoRunUp runs it"},
		{line: "./test.sh", notRun: "it runs this test"},
		{line: "go build -o bin/peer ./cmd/peer && export PATH=$PWD/bin:$PATH", notRun: "TestMain builds the binary; its directory comes first on PATH here"},
		{line: "export PEER_DATA=$(mktemp -d)", then: func(t *testing.T, _ result) {
			if !strings.HasPrefix(you.data, tmp) {
				t.Fatalf("PEER_DATA=%q, want a directory under TMPDIR", you.data)
			}
		}},
		{line: "peer init", want: []string{"persona: did:key:z6Mk", "recovery phrase"}, then: func(t *testing.T, r result) {
			persona = strings.Fields(r.stdout)[1]
			numbered := regexp.MustCompile(`\b([0-9]+) ([a-z]+)\b`).FindAllStringSubmatch(r.stdout, -1)
			w := make([]string, 25)
			for _, m := range numbered {
				var n int
				fmt.Sscan(m[1], &n)
				if n >= 1 && n <= 24 {
					w[n] = m[2]
				}
			}
			words = strings.TrimSpace(strings.Join(w, " "))
			if len(strings.Fields(words)) != 24 {
				t.Fatalf("no 24 words in:\n%s", r.stdout)
			}
			os.WriteFile(filepath.Join(work, "words"), []byte(words+"\n"), 0o600)
		}},
		{line: "peer init --passphrase", fresh: true, env: []string{"PEER_PASSPHRASE=correct horse"},
			want: []string{"persona: did:key:z6Mk"}, then: func(t *testing.T, r result) {
				stranger = strings.Fields(r.stdout)[1] // another identity: the stranger blocked below
				if stranger == persona {
					t.Fatal("a new identity has your persona")
				}
			}},
		{line: "peer init --restore < words", fresh: true, want: []string{"restored from your recovery phrase"}, then: func(t *testing.T, r result) {
			if got := strings.Fields(r.stdout)[1]; got != persona {
				t.Fatalf("restored persona %s, want %s", got, persona)
			}
		}},
		{line: "peer up &", special: func(t *testing.T) {
			yourNode = startUp(t, you.data, nodeEnv())
			if yourNode.persona != persona {
				t.Fatalf("node runs %s, init made %s", yourNode.persona, persona)
			}
		}},
		{line: "peer status", want: []string{"persona:", "up for:"}, then: wantOut(func() string { return persona })},
		{line: "peer id --json", then: wantOut(func() string { return `"id": "` + persona })},
		{line: "peer persona new work", want: []string{"name: work"}},
		{line: "peer persona list", want: []string{"work"}, then: wantOut(func() string { return persona })},
		{line: "peer persona show work", want: []string{"name:", "work", "verified true"}},

		{line: "M=$(peer mimei create --type files)", then: func(t *testing.T, _ result) {
			if !strings.HasPrefix(vars["M"], "m") {
				t.Fatalf("M=%q", vars["M"])
			}
		}},
		{line: "peer put $M ~/Photos", want: []string{"/Photos  5 files, 1 directory, 14.6 KiB; 4 symbolic links skipped"},
			then: func(t *testing.T, r result) {
				if !strings.Contains(r.stderr, "… and 1 more symbolic link skipped (4 in all)") {
					t.Errorf("stderr of put ~/Photos:\n%s", r.stderr)
				}
			}},
		{line: "peer put $M notes.txt docs/", want: []string{"docs/notes.txt"}},
		{line: "peer ls $M docs -l", want: []string{"notes.txt"}},
		{line: "peer get $M docs/notes.txt -", then: func(t *testing.T, r result) {
			if r.stdout != notes {
				t.Fatalf("got %q, want %q", r.stdout, notes)
			}
		}},
		{line: "peer db $M HSET contact:1 name Ada", want: []string{"(integer) 1"}},
		{line: `peer db $M RPUSH log "left home"`, want: []string{"(integer) 1"}},
		{line: "peer db $M LRANGE log 0 -1", want: []string{`1) "left home"`}},
		{line: `peer backup $M -m "before the trip"`, want: []string{"version 0"}},
		{line: "peer rm $M docs/notes.txt"},
		{line: "peer diff $M last cur", want: []string{"- docs/notes.txt"}},
		{line: "peer restore $M 0", want: []string{"restored version 0"}},
		{line: "peer versions $M", want: []string{"before the trip"}},
		{line: "peer release $M 0", want: []string{"released version 0"}},
		{line: "peer fork $M", then: func(t *testing.T, r result) {
			if f := strings.TrimSpace(r.stdout); !strings.HasPrefix(f, "m") || f == vars["M"] {
				t.Fatalf("fork printed %q", r.stdout)
			}
		}},
		{line: "peer store stats", want: []string{"blocks:", "on disk:"}},
		{line: "peer store verify", want: []string{"ok"}},
		{line: "peer store gc", want: []string{"live blocks:"}},
		{line: "peer bench store", special: func(t *testing.T) {
			// The same command, smaller: the bars are measured by the
			// benchmark's own runs (docs/benchmarks.md), not on a machine
			// busy with other tests, so a missed bar is not a failure here.
			r := run(t, you, "peer bench store --size 16777216 --files 300 || test $? = 1", nil)
			for _, w := range []string{"peer put 16 MiB", "node peak RSS", "import 300"} {
				if !strings.Contains(r.stdout, w) {
					t.Fatalf("bench store printed no %q:\n%s\n%s", w, r.stdout, r.stderr)
				}
			}
		}},

		{line: "peer invite alice", special: func(t *testing.T) {
			aliceNode = startUp(t, alice.data, nodeEnv()) // Alice runs her own node
			r := run(t, you, "peer invite alice", nil)
			link = strings.Fields(r.stdout)[0]
			if !strings.HasPrefix(link, "peer:invite:") {
				t.Fatalf("peer invite printed:\n%s", r.stdout)
			}
		}},
		{line: "peer accept 'peer:invite:…'", on: alice, fill: func() (string, string) { return "peer:invite:…", link },
			want: []string{"added contact"}, then: wantOut(func() string { return persona })},
		{line: "peer contacts", want: []string{"alice"}, then: wantOut(func() string { return aliceNode.persona })},
		{line: "peer ping alice", then: wantOut(func() string { return "reply from " + aliceNode.device })},
		{line: "peer net", want: []string{"peer id:", "connections:"}},
		{line: "peer block did:key:z6Mk…", fill: func() (string, string) { return "did:key:z6Mk…", stranger },
			want: []string{"blocked did:key:"}},

		{line: "peer share $M alice", want: []string{"alice (did:key:", "may now fetch"}},
		{line: "peer shared", on: alice, want: []string{"MIMEI"}, then: func(t *testing.T, r result) {
			if !strings.Contains(r.stdout, vars["M"]) {
				t.Fatalf("Alice's shared list lacks %s:\n%s", vars["M"], r.stdout)
			}
		}},
		{line: "peer subscribe $M", on: alice, want: []string{"subscribed to", "version 0:", "fetched"}},
		{line: "peer access $M", want: []string{"alice"}},
		{line: "peer unshare $M alice", want: []string{"removed alice"}},
		{line: "peer share $M --public", want: []string{"is public"}},

		{line: "peer device add", want: []string{"peer:pair:"}, then: func(t *testing.T, r result) {
			pair = strings.Fields(r.stdout)[0]
		}},
		{line: "peer --data ~/peer2 device join 'peer:pair:…'", fill: func() (string, string) { return "peer:pair:…", pair }},
		{line: "peer device ls", then: wantOut(func() string { return yourNode.device })},
	}

	var table []string
	for _, s := range steps {
		table = append(table, s.line)
	}
	if readme := readmeLines(t); strings.Join(readme, "\n") != strings.Join(table, "\n") {
		t.Fatalf("the README's shell lines and this tour differ; update both.\nREADME:\n  %s\ntour:\n  %s",
			strings.Join(readme, "\n  "), strings.Join(table, "\n  "))
	}

	for _, s := range steps {
		if s.notRun != "" {
			t.Logf("not run here: %s (%s)", s.line, s.notRun)
			continue
		}
		sh := you
		if s.on != nil {
			sh = s.on
		}
		if s.special != nil {
			s.special(t)
			continue
		}
		line := s.line
		if s.fill != nil {
			ph, v := s.fill()
			line = strings.ReplaceAll(line, ph, v)
		}
		if s.fresh {
			sh = &tourShell{name: "a new machine", data: t.TempDir()}
		}
		r := run(t, sh, line, s.env)
		for _, w := range s.want {
			if !strings.Contains(r.stdout, w) {
				t.Fatalf("%s$ %s\nstdout lacks %q:\n%s\nstderr:\n%s", sh.name, s.line, w, r.stdout, r.stderr)
			}
		}
		if s.then != nil {
			s.then(t, r)
		}
	}
	var names []string
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Logf("tour done; variables set: %v", names)
}

// wantOut checks that a line's standard output holds what want returns
// when the line has run (a value an earlier line printed).
func wantOut(want func() string) func(*testing.T, result) {
	return func(t *testing.T, r result) {
		t.Helper()
		if w := want(); !strings.Contains(r.stdout, w) {
			t.Fatalf("stdout lacks %q:\n%s\nstderr:\n%s", w, r.stdout, r.stderr)
		}
	}
}

// indent keeps the first lines of s, indented, for the log.
func indent(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = append(ls[:lines], fmt.Sprintf("… (%d more lines)", len(ls)-lines))
	}
	return "    " + strings.Join(ls, "\n    ")
}

// TestCIRunsTheREADMETests: the README's test command is what .ci/run
// runs, and in CI the tests that need tools or root may not skip: the
// network-namespace tests (netns.RequiredEnv) and the browser tests (CI)
// are required there.
func TestCIRunsTheREADMETests(t *testing.T) {
	lines := readmeLines(t)
	if len(lines) < 2 || lines[1] != "./test.sh" {
		t.Fatalf("the README's second command is %q, want ./test.sh", lines[1:2])
	}
	b, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	run := string(b)
	for _, want := range []string{"\nbash ./test.sh\n", "\nexport " + netns.RequiredEnv + "=1", "\nexport CI="} {
		if !strings.Contains(run, want) {
			t.Errorf(".ci/run lacks %q", strings.TrimSpace(want))
		}
	}
	for _, l := range strings.Split(run, "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") && strings.Contains(l, "go test") {
			t.Errorf(".ci/run runs go test itself (%q): it should run ./test.sh, the README's command", l)
		}
	}
}
