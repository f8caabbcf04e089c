// Package persona is a persona's control state in identity format 2
// (docs/identity.md section 14): one signed, versioned, replicated set of
// entries — devices, revocations, encryption keys, contacts, blocks,
// rights, key records, profile — that every device of the persona applies
// before it serves.
//
// An Entry is signed by a device; the state accepts it when its epoch is
// the state's, its author has a device entry (whose certificate verifies
// under the epoch's operational certificate, identity.DeviceCert) or the
// entry is the author's own device entry, and its author is not revoked
// below its sequence. Entries whose author is not yet known, or that
// follow a gap in their author's sequence, wait and apply when what they
// need arrives. The fold is last writer wins by (Clock, Author) per slot,
// revocations are sticky (the lowest cutoff wins, and entries of the
// revoked device above it are dropped whatever order they came in), and
// encryption keys and key records are grow-only (rivals have distinct
// keys). Store keeps the entries and the fold in a kv.Store, each change
// in one batch.
//
// This is a domain package: it imports identity, codec and kv (and, for the
// sync of step 13, netport), never libp2p or net/http (internal/archtest
// holds it to that list). The sync protocol over the network port is built
// on Store.Version and Store.Missing.
package persona
