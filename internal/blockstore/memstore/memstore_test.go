package memstore

import (
	"testing"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/storetest"
	"github.com/peer-node/peer/internal/cid"
)

func TestConformance(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) blockstore.Store { return New() }, storetest.Options{
		Corrupt: func(t *testing.T, s blockstore.Store, c cid.CID) {
			m := s.(*Store)
			m.mu.Lock()
			defer m.mu.Unlock()
			b, ok := m.blocks[c]
			if !ok || len(b) == 0 {
				t.Fatalf("corrupt: %s not stored", c)
			}
			b[len(b)/2] ^= 1
		},
	})
}
