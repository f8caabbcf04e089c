package node

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/p2p"
)

// backend adapts the node's services to the HTTP API, converting domain
// values and errors into wire types at this edge.
type backend struct{ n *Node }

func wirePersona(p keystore.PersonaInfo) apiv1.Persona {
	return apiv1.Persona{ID: p.ID, Name: p.Name, Index: p.Index, Created: p.Created.UTC(), Default: p.Default}
}

func apiError(err error) error {
	switch {
	case errors.Is(err, keystore.ErrUnknownPersona):
		return httpapi.Errorf(http.StatusNotFound, apiv1.CodeUnknownPersona, "%v", err)
	case errors.Is(err, keystore.ErrNameTaken):
		return httpapi.Errorf(http.StatusConflict, apiv1.CodeConflict, "%v", err)
	case errors.Is(err, keystore.ErrBadName):
		return httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "%v", err)
	}
	return err
}

func (b *backend) Status(ctx context.Context) (apiv1.Status, error) {
	n := b.n
	return apiv1.Status{
		Version: versionString(), Persona: n.Persona(), Device: n.deviceID, API: n.apiURL,
		Started: n.started.UTC(), UptimeSeconds: time.Since(n.started).Seconds(),
		Personas: len(n.keys.Personas()), Sealed: n.keys.Sealed(), DataDir: n.dir,
	}, nil
}

func (b *backend) Identity(ctx context.Context) (apiv1.Identity, error) {
	ps, _ := b.Personas(ctx)
	return apiv1.Identity{
		Persona:  wirePersona(b.n.keys.DefaultPersona()),
		Device:   apiv1.Device{PeerID: b.n.deviceID, PublicKey: base64.StdEncoding.EncodeToString(b.n.keys.DevicePublicKey())},
		Personas: ps,
	}, nil
}

func (b *backend) Personas(ctx context.Context) ([]apiv1.Persona, error) {
	var out []apiv1.Persona
	for _, p := range b.n.keys.Personas() {
		out = append(out, wirePersona(p))
	}
	return out, nil
}

func (b *backend) Persona(ctx context.Context, ref string) (apiv1.Persona, error) {
	p, err := b.n.keys.Persona(ref)
	if err != nil {
		return apiv1.Persona{}, apiError(err)
	}
	return wirePersona(p), nil
}

func (b *backend) NewPersona(ctx context.Context, name string) (apiv1.Persona, error) {
	p, err := b.n.keys.NewPersona(name)
	if err != nil {
		return apiv1.Persona{}, apiError(err)
	}
	b.n.log.Info("persona created", "persona", p.ID, "name", p.Name)
	return wirePersona(p), nil
}

func (b *backend) DeviceCert(ctx context.Context, ref string) (apiv1.DeviceCert, error) {
	p, err := b.n.keys.Persona(ref)
	if err != nil {
		return apiv1.DeviceCert{}, apiError(err)
	}
	c, err := b.n.keys.DeviceCert(p.ID)
	if err != nil {
		return apiv1.DeviceCert{}, err
	}
	enc, err := c.Marshal()
	if err != nil {
		return apiv1.DeviceCert{}, err
	}
	dev, err := p2p.PeerID(c.Device)
	if err != nil {
		return apiv1.DeviceCert{}, err
	}
	out := apiv1.DeviceCert{
		Version: c.Version, Persona: c.Persona, Device: dev.String(), Serial: c.Serial,
		IssuedAt: time.Unix(c.IssuedAt, 0).UTC(), Encoded: base64.StdEncoding.EncodeToString(enc),
		Verified: c.Verify(time.Now(), (&identity.RevocationList{}).Has) == nil,
	}
	if c.ExpiresAt != 0 {
		out.ExpiresAt = time.Unix(c.ExpiresAt, 0).UTC()
	}
	return out, nil
}
