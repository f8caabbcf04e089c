package apibackend

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/version"
)

// Identity serves the node's status, personas and device certificates
// (httpapi.Backend) from the key store. Keys is required; set every field
// before the API serves.
type Identity struct {
	Keys    *keystore.Store
	Device  string        // this device's peer ID
	APIURL  func() string // the address the API listens on (known once it listens); nil: ""
	Started time.Time     // when the node started
	DataDir string
	Disk    func() *apiv1.Disk // the disk as the node budgets it; nil: not reported
	Log     *slog.Logger       // nil: no logging
}

var _ httpapi.Backend = (*Identity)(nil)

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

func (b *Identity) Status(ctx context.Context) (apiv1.Status, error) {
	api := ""
	if b.APIURL != nil {
		api = b.APIURL()
	}
	var disk *apiv1.Disk
	if b.Disk != nil {
		disk = b.Disk()
	}
	return apiv1.Status{
		Version: version.String(), Persona: b.Keys.DefaultPersona().ID, Device: b.Device, API: api,
		Started: b.Started.UTC(), UptimeSeconds: time.Since(b.Started).Seconds(),
		Personas: len(b.Keys.Personas()), Sealed: b.Keys.Sealed(), DataDir: b.DataDir,
		Disk: disk,
	}, nil
}

func (b *Identity) Identity(ctx context.Context) (apiv1.Identity, error) {
	ps, _ := b.Personas(ctx)
	return apiv1.Identity{
		Persona:  wirePersona(b.Keys.DefaultPersona()),
		Device:   apiv1.Device{PeerID: b.Device, PublicKey: base64.StdEncoding.EncodeToString(b.Keys.DevicePublicKey())},
		Personas: ps,
	}, nil
}

func (b *Identity) Personas(ctx context.Context) ([]apiv1.Persona, error) {
	var out []apiv1.Persona
	for _, p := range b.Keys.Personas() {
		out = append(out, wirePersona(p))
	}
	return out, nil
}

func (b *Identity) Persona(ctx context.Context, ref string) (apiv1.Persona, error) {
	p, err := b.Keys.Persona(ref)
	if err != nil {
		return apiv1.Persona{}, apiError(err)
	}
	return wirePersona(p), nil
}

func (b *Identity) NewPersona(ctx context.Context, name string) (apiv1.Persona, error) {
	p, err := b.Keys.NewPersona(name)
	if err != nil {
		return apiv1.Persona{}, apiError(err)
	}
	logger(b.Log).Info("persona created", "persona", p.ID, "name", p.Name)
	return wirePersona(p), nil
}

func (b *Identity) DeviceCert(ctx context.Context, ref string) (apiv1.DeviceCert, error) {
	p, err := b.Keys.Persona(ref)
	if err != nil {
		return apiv1.DeviceCert{}, apiError(err)
	}
	c, err := b.Keys.DeviceCert(p.ID)
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
		Verified: c.Verify(time.Now(), (&identity.RevocationListV1{}).Has) == nil,
	}
	if c.ExpiresAt != 0 {
		out.ExpiresAt = time.Unix(c.ExpiresAt, 0).UTC()
	}
	return out, nil
}
