package identity

import "crypto/ed25519"

// Pins is what a verifier remembers about personas beyond one record
// (docs/identity.md section 9.5): the highest epoch it has seen for each,
// and the device keys that epoch revokes. A pin only goes up: any valid
// record, credential or persona-state entry of a higher epoch proves the
// root signed that epoch, so seeing one is enough to pin it.
//
// Implementations live with their storage (contacts, the discovery pin
// table); verifiers here only read them. A nil Pins means nothing is
// pinned.
type Pins interface {
	// Epoch returns the highest epoch pinned for persona, or 0 if none.
	Epoch(persona string) uint32
	// Revoked reports whether device is revoked in epoch of persona, as
	// far as the pins know.
	Revoked(persona string, epoch uint32, device ed25519.PublicKey) bool
}
