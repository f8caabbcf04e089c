package pebblekv_test

import (
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/kvtest"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

func open(t testing.TB, dir string, opts pebblekv.Options) *pebblekv.Store {
	t.Helper()
	s, err := pebblekv.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return open(t, t.TempDir(), pebblekv.Options{}) })
}

func TestConformanceNoSync(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return open(t, t.TempDir(), pebblekv.Options{NoSync: true, CacheSize: 1 << 20})
	})
}
