package memkv_test

import (
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/kvtest"
	"github.com/peer-node/peer/internal/kv/memkv"
)

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return memkv.New() })
}
