package httpapi

import (
	"context"

	"github.com/peer-node/peer/internal/apiv1"
)

// NetBackend is the peer-to-peer side of the node, served under
// /api/v1/net, /api/v1/peers, /api/v1/invites, /api/v1/contacts and
// /api/v1/blocks. A ref names a contact by persona did:key or pet name.
// Errors map to statuses as for Backend (return *Error values made with
// Errorf for anything but 500).
type NetBackend interface {
	Net(ctx context.Context) (apiv1.NetStatus, error)
	Peers(ctx context.Context) ([]apiv1.Conn, error)
	Ping(ctx context.Context, target string) (apiv1.PingResult, error)
	Connect(ctx context.Context, target string) (apiv1.ConnectResult, error)

	CreateInvite(ctx context.Context, req apiv1.CreateInvite) (apiv1.Invite, error)
	Invites(ctx context.Context) ([]apiv1.PendingInvite, error)
	RevokeInvite(ctx context.Context, id string) error
	AcceptInvite(ctx context.Context, req apiv1.AcceptInvite) (apiv1.Contact, error)

	Contacts(ctx context.Context) ([]apiv1.Contact, error)
	Contact(ctx context.Context, ref string) (apiv1.Contact, error)
	AddContact(ctx context.Context, req apiv1.AddContact) (apiv1.Contact, error)
	UpdateContact(ctx context.Context, ref string, req apiv1.UpdateContact) (apiv1.Contact, error)
	RemoveContact(ctx context.Context, ref string) error
	Block(ctx context.Context, target string) error
	Unblock(ctx context.Context, target string) error
	Blocked(ctx context.Context) (apiv1.Blocked, error)

	Devices(ctx context.Context) ([]apiv1.OwnDevice, error)
	PairDevice(ctx context.Context, req apiv1.PairDevice) (apiv1.PairCode, error)
}
