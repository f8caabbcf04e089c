package p2p

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// The resource manager must take a few hundred peers, each on its own
// address, with connections in both directions.
func TestResourceManagerAllowsManyConns(t *testing.T) {
	rm, err := newResourceManager()
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	const n = 300
	var scopes []network.ConnManagementScope
	defer func() {
		for _, s := range scopes {
			s.Done()
		}
	}()
	for i := range n {
		dir := network.DirInbound
		if i%2 == 1 {
			dir = network.DirOutbound
		}
		addr := ma.StringCast(fmt.Sprintf("/ip4/11.0.%d.%d/tcp/4001", i/250, i%250+1))
		s, err := rm.OpenConnection(dir, true, addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		scopes = append(scopes, s)
		if err := s.SetPeer(randPeer(t)); err != nil {
			t.Fatalf("connection %d: set peer: %v", i, err)
		}
	}
	// And the system scope still has room.
	var stat network.ScopeStat
	_ = rm.ViewSystem(func(s network.ResourceScope) error { stat = s.Stat(); return nil })
	if stat.NumConnsInbound+stat.NumConnsOutbound != n || n >= systemConns {
		t.Fatalf("system scope %+v", stat)
	}
}

func TestConnManagerBelowResourceManager(t *testing.T) {
	if DefaultConnHigh >= systemConns || DefaultConnLow >= DefaultConnHigh {
		t.Fatal("connection manager must trim before the resource manager refuses")
	}
	l := resourceLimits()
	if got := l.ToPartialLimitConfig().System.Conns; int(got) != systemConns {
		t.Fatalf("system conns %v", got)
	}
}

func randPeer(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
