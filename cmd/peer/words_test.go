package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
)

func TestQuantity(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		want string
	}{
		{0, "file", "0 files"},
		{1, "file", "1 file"},
		{2, "directory", "2 directories"},
		{1, "directory", "1 directory"},
		{3, "entry", "3 entries"},
		{1, "version", "1 version"},
		{5, "day", "5 days"},
		{285, "symbolic link", "285 symbolic links"},
		{4, "manifest block", "4 manifest blocks"},
	} {
		if got := quantity(tc.n, tc.noun); got != tc.want {
			t.Errorf("quantity(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
	if got := quantity(uint64(1), "block"); got != "1 block" {
		t.Errorf("uint64: %q", got)
	}
}

func TestSkipNotes(t *testing.T) {
	for _, tc := range []struct {
		links, special int
		want, summary  string
	}{
		{0, 0, "", ""},
		{1, 0, "peer: skipping symbolic link l0\n", "1 symbolic link skipped"},
		{3, 0, "peer: skipping symbolic link l0\npeer: skipping symbolic link l1\npeer: skipping symbolic link l2\n", "3 symbolic links skipped"},
		{4, 1, "peer: skipping symbolic link l0\npeer: skipping symbolic link l1\npeer: skipping symbolic link l2\n" +
			"peer: skipping special file s0: not a regular file or directory\n" +
			"peer: … and 1 more symbolic link skipped (4 in all)\n",
			"4 symbolic links and 1 special file skipped"},
		{285, 0, "peer: skipping symbolic link l0\npeer: skipping symbolic link l1\npeer: skipping symbolic link l2\n" +
			"peer: … and 282 more symbolic links skipped (285 in all)\n", "285 symbolic links skipped"},
	} {
		var b bytes.Buffer
		s := newSkipNotes(&b, nil)
		for i := range tc.links {
			s.skip("symbolic link", fmt.Sprint("l", i), "")
		}
		for i := range tc.special {
			s.skip("special file", fmt.Sprint("s", i), "not a regular file or directory")
		}
		s.finish()
		if b.String() != tc.want {
			t.Errorf("%d links, %d special: said\n%q\nwant\n%q", tc.links, tc.special, b.String(), tc.want)
		}
		if got := s.summary(); got != tc.summary {
			t.Errorf("%d links, %d special: summary %q, want %q", tc.links, tc.special, got, tc.summary)
		}
	}
	var none *skipNotes // nil: nothing said, nothing to sum up
	none.skip("symbolic link", "x", "")
	none.finish()
	if none.summary() != "" {
		t.Error("nil skipNotes summed something up")
	}
}

// TestFetchedLine: the closing line of a fetch adds up: the manifest
// blocks the node counts among those fetched are said as such.
func TestFetchedLine(t *testing.T) {
	for _, tc := range []struct {
		v    apiv1.Fetched
		want string
	}{
		{apiv1.Fetched{Version: 3, Blocks: 3599, Bytes: 28626124, Fetched: 3603},
			"version 3: 3599 blocks (27.3 MiB) and 4 manifest blocks: 3603 fetched, none already here"},
		{apiv1.Fetched{Version: 0, Blocks: 4, Bytes: 4 << 20, Fetched: 4},
			"version 0: 4 blocks (4.0 MiB): 4 fetched, none already here"},
		{apiv1.Fetched{Version: 1, Blocks: 10, Bytes: 1000, Fetched: 3, Skipped: 8},
			"version 1: 10 blocks (1000 B) and 1 manifest block: 3 fetched, 8 already here"},
		{apiv1.Fetched{Version: 2, Blocks: 1, Bytes: 5, Skipped: 1},
			"version 2: 1 block (5 B): 0 fetched, 1 already here"},
	} {
		if got := fetchedLine(tc.v); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.v, got, tc.want)
		}
	}
}

// TestShareProgressClamped: a share.progress event whose done counts
// exceed the version's totals (the manifest blocks are counted in done,
// not in total) never draws more done than there is, nor past 100%.
func TestShareProgressClamped(t *testing.T) {
	for _, tc := range []struct {
		ev   shareEvent
		want string
	}{
		{shareEvent{Version: 3, Done: 3603, Known: 3603, Total: 3599, Bytes: 29569843, TotalBytes: 28626124},
			"version 3  3599/3599 blocks  27.3 MiB / 27.3 MiB  100%"},
		{shareEvent{Version: 3, Done: 1800, Known: 3603, Total: 3599, Bytes: 14 << 20, TotalBytes: 28 << 20},
			"version 3  1800/3599 blocks  14.0 MiB / 28.0 MiB   50%"},
		{shareEvent{Version: 2, Done: 5, Known: 12, Total: 10},
			"version 2  5/10 blocks  0 B"},
		{shareEvent{Version: 1, Done: 2, Known: 7, Bytes: 300},
			"version 1  2/7 blocks  300 B"},
	} {
		if got := tc.ev.progress(); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.ev, got, tc.want)
		}
	}
}

// TestCountsReadAsEnglish: counts of one are singular where the CLI prints
// them in sentences ("published: 1 versions" was printed before).
func TestCountsReadAsEnglish(t *testing.T) {
	var b bytes.Buffer
	a := &app{stdout: &b}
	a.printSharing(apiv1.Sharing{MiMei: "m1", Published: 1, Subscribers: 1})
	a.printNet(apiv1.NetStatus{Enabled: true, DHTMode: "client", RoutingTable: 1, Index: true, IndexEntries: 1})
	out := squash(b.String())
	for _, want := range []string{"published: 1 version ", "1 peer in the routing table", "serving, 1 entry"} {
		if !bytes.Contains([]byte(out+" "), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
