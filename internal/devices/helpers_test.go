package devices

import (
	"context"
	"errors"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/netport"
)

// nopNet is a network with nobody on it, for tests of the store alone.
type nopNet struct{}

func (nopNet) Self() netport.PeerID { return "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA" }
func (nopNet) NewStream(context.Context, netport.PeerID, netport.ProtocolID) (netport.Stream, error) {
	return nil, netport.ErrUnreachable
}
func (nopNet) Handle(netport.ProtocolID, netport.Handler)              {}
func (nopNet) Connect(context.Context, netport.PeerID, []string) error { return netport.ErrUnreachable }
func (nopNet) Connected(netport.PeerID) bool                           { return false }

// nopKeys is a key store with nothing in it.
type nopKeys struct{}

func (nopKeys) DefaultPersona() keystore.PersonaInfo { return keystore.PersonaInfo{} }
func (nopKeys) RootSeed() []byte                     { return nil }
func (nopKeys) DeviceCert(string) (*identity.DeviceCertV1, error) {
	return nil, errors.New("no keys")
}
