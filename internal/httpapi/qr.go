package httpapi

import (
	"net/http"

	"github.com/peer-node/peer/internal/apiv1"
)

// identityQRRoute registers GET /api/v1/identity/qr, with the same
// authentication as GET /api/v1/identity (a read-scope session may use it).
func (s *Server) identityQRRoute() {
	s.mux.Handle("GET /api/v1/identity/qr", s.authJSON(func(r *http.Request) (any, error) {
		id, err := s.opts.Backend.Identity(r.Context())
		if err != nil {
			return nil, err
		}
		var out apiv1.IdentityQR
		if id.Persona.ID != "" {
			if out.PersonaSVG, err = QRSVG(id.Persona.ID); err != nil {
				return nil, err
			}
		}
		if id.Device.PeerID != "" {
			if out.DeviceSVG, err = QRSVG(id.Device.PeerID); err != nil {
				return nil, err
			}
		}
		return out, nil
	}))
}
