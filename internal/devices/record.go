package devices

import (
	"crypto/ed25519"
	"encoding/binary"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/kv"
)

// RecordLifetime is how long a published identity record is valid; the
// publisher refreshes it well before.
const RecordLifetime = 12 * time.Hour

// seqKey holds the last identity-record sequence number, so that sequence
// numbers keep rising across restarts.
var seqKey = []byte("net/seq")

// RecordKeys is what building the identity record needs of the key store
// (*keystore.Store) beyond Keys.
type RecordKeys interface {
	Keys
	PersonaKey(personaID string) (ed25519.PrivateKey, error)
	DeviceKey() ed25519.PrivateKey
}

// Recorder builds this device's signed identity record for the default
// persona: this device with its addresses, the persona's other devices
// with their last known addresses (every device publishes the whole list,
// so whichever record wins names all), and the persona's encryption key.
type Recorder struct {
	Keys    RecordKeys
	KV      kv.Store
	Devices *Service // nil: this device alone
	Now     func() time.Time

	mu  sync.Mutex
	seq uint64
}

// Record builds and signs the record with addrs as this device's
// addresses.
func (r *Recorder) Record(addrs []string) ([]byte, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	persona := r.Keys.DefaultPersona()
	cert, err := r.Keys.DeviceCert(persona.ID)
	if err != nil {
		return nil, err
	}
	certB, err := cert.Marshal()
	if err != nil {
		return nil, err
	}
	pk, err := r.Keys.PersonaKey(persona.ID)
	if err != nil {
		return nil, err
	}
	enc, err := identity.EncryptionKey(pk)
	if err != nil {
		return nil, err
	}
	seq, err := r.nextSeq(now)
	if err != nil {
		return nil, err
	}
	if len(addrs) > idrecord.MaxAddrs {
		addrs = addrs[:idrecord.MaxAddrs]
	}
	rec := &idrecord.Record{
		Persona: persona.ID, Seq: seq, Issued: now, Expires: now.Add(RecordLifetime),
		Devices: []idrecord.Device{{Cert: certB, Addrs: addrs}},
		EncKey:  enc.PublicKey().Bytes(),
	}
	if r.Devices != nil {
		for _, d := range r.Devices.List() {
			if len(rec.Devices) == idrecord.MaxDevices {
				break
			}
			if _, err := CheckCert(d.Cert, persona.ID, now); err != nil {
				continue
			}
			rec.Devices = append(rec.Devices, idrecord.Device{Cert: d.Cert, Addrs: d.Addrs})
		}
	}
	if err := rec.Sign(r.Keys.DeviceKey()); err != nil {
		return nil, err
	}
	return rec.Marshal()
}

// nextSeq returns a sequence number above every one used before: the
// larger of the stored one plus one and the clock in milliseconds.
func (r *Recorder) nextSeq(now time.Time) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq == 0 {
		if v, err := r.KV.Get(seqKey); err == nil && len(v) == 8 {
			r.seq = binary.BigEndian.Uint64(v)
		}
	}
	r.seq = max(r.seq+1, uint64(now.UnixMilli()))
	if err := r.KV.Set(seqKey, binary.BigEndian.AppendUint64(nil, r.seq)); err != nil {
		return 0, err
	}
	return r.seq, nil
}
