package mimeidb

import (
	"strconv"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// backends lists the kv stores every suite runs on.
var backends = []struct {
	name string
	open func(t testing.TB) kv.Store
}{
	{"memkv", func(t testing.TB) kv.Store {
		s := memkv.New()
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"pebblekv", func(t testing.TB) kv.Store {
		s, err := pebblekv.Open(t.TempDir(), pebblekv.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, s kv.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func openDB(t testing.TB, s kv.Store, prefix string) *DB {
	t.Helper()
	db, err := Open(s, []byte(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// compact renders a reply on one line for test tables: :3, "v", nil, +OK,
// [a b] with elements compact.
func compact(r Reply) string {
	switch r.Kind {
	case KindNil:
		return "nil"
	case KindInt:
		return ":" + strconv.FormatInt(r.Int, 10)
	case KindBulk:
		return strconv.Quote(string(r.Bulk))
	case KindFloat:
		return strconv.Quote(FormatFloat(r.Float))
	case KindStatus:
		return "+" + r.Status
	case KindArray:
		parts := make([]string, len(r.Array))
		for i, it := range r.Array {
			parts[i] = compact(it)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

// splitArgs splits a command line on spaces; ” is an empty argument.
func splitArgs(line string) []string {
	f := strings.Fields(line)
	for i, a := range f {
		if a == "''" {
			f[i] = ""
		}
	}
	return f
}
