package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestCommittedVectors pins the whole derivation, phrase to DID. If it
// fails, existing users' recovery phrases would restore different personas:
// fix the code, never the vectors.
func TestCommittedVectors(t *testing.T) {
	var file struct {
		Path            string
		BIP39Passphrase string `json:"bip39_passphrase"`
		Vectors         []struct {
			Mnemonic string
			Seed     string
			Personas []struct {
				Index       uint32
				PrivateSeed string `json:"private_seed"`
				PublicKey   string `json:"public_key"`
				DID         string
			}
		}
	}
	loadJSON(t, "testdata/vectors.json", &file)
	if file.Path != PersonaPathTemplate || file.BIP39Passphrase != "" {
		t.Fatalf("vectors are for path %q passphrase %q", file.Path, file.BIP39Passphrase)
	}
	if len(file.Vectors) < 2 || file.Vectors[0].Mnemonic != abandonArt {
		t.Fatalf("vectors.json must start with the abandon…art phrase and hold at least two phrases")
	}
	for _, v := range file.Vectors {
		t.Run(v.Mnemonic[:20], func(t *testing.T) {
			seed, err := SeedFromMnemonic(v.Mnemonic)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(seed); got != v.Seed {
				t.Fatalf("seed = %s, want %s", got, v.Seed)
			}
			if len(v.Personas) < 2 {
				t.Fatal("want personas 0 and 1")
			}
			for _, p := range v.Personas {
				k := PersonaKey(seed, p.Index)
				if got := hex.EncodeToString(k.Seed()); got != p.PrivateSeed {
					t.Errorf("persona %d private seed = %s, want %s", p.Index, got, p.PrivateSeed)
				}
				pub := k.Public().(ed25519.PublicKey)
				if got := hex.EncodeToString(pub); got != p.PublicKey {
					t.Errorf("persona %d public key = %s, want %s", p.Index, got, p.PublicKey)
				}
				if got := DID(pub); got != p.DID {
					t.Errorf("persona %d DID = %s, want %s", p.Index, got, p.DID)
				}
			}
		})
	}
}

// TestCommittedVectorsFormat2 pins the format-2 derivation (recovery,
// operational and generation-0 encryption keys) for the same phrases. If it
// fails, restoring from the words would no longer find a persona's epochs
// or open its escrows: fix the code, never the vectors.
func TestCommittedVectorsFormat2(t *testing.T) {
	var file struct {
		Format2 struct {
			RecoveryPath    string `json:"recovery_path"`
			OperationalPath string `json:"operational_path"`
			EncryptionPath  string `json:"encryption_path"`
			KEM             string
			Vectors         []struct {
				Mnemonic string
				Personas []struct {
					Index          uint32
					DID            string
					RecoverySHA256 string `json:"recovery_public_sha256"`
					Operational    []struct {
						Epoch       uint32
						PrivateSeed string `json:"private_seed"`
						PublicKey   string `json:"public_key"`
					}
					Encryption0 []struct {
						Epoch        uint32
						PublicSHA256 string `json:"public_sha256"`
					}
				}
			}
		}
	}
	loadJSON(t, "testdata/vectors.json", &file)
	f := file.Format2
	if f.RecoveryPath != RecoveryPathTemplate || f.OperationalPath != OperationalPathTemplate ||
		f.EncryptionPath != EncryptionPathTemplate || f.KEM != "MLKEM768-X25519" {
		t.Fatalf("format-2 vectors are for paths %q %q %q, KEM %q", f.RecoveryPath, f.OperationalPath, f.EncryptionPath, f.KEM)
	}
	if EncryptionKEM().ID() != 0x647a {
		t.Fatalf("EncryptionKEM is %#x, want MLKEM768-X25519 (0x647a)", EncryptionKEM().ID())
	}
	if len(f.Vectors) != 2 || f.Vectors[0].Mnemonic != abandonArt {
		t.Fatal("format-2 vectors must hold the abandon…art phrase first and one more")
	}
	for _, v := range f.Vectors {
		t.Run(v.Mnemonic[:20], func(t *testing.T) {
			root, err := RootFromMnemonic(v.Mnemonic)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Wipe()
			if len(v.Personas) != 2 {
				t.Fatal("want personas 0 and 1")
			}
			for _, p := range v.Personas {
				if got := DID(root.PersonaRoot(p.Index).Public().(ed25519.PublicKey)); got != p.DID {
					t.Errorf("persona %d DID = %s, want %s", p.Index, got, p.DID)
				}
				rk, err := root.RecoveryKey(p.Index)
				if err != nil {
					t.Fatal(err)
				}
				if id := RecoveryID(rk.PublicKey()); hex.EncodeToString(id[:]) != p.RecoverySHA256 {
					t.Errorf("persona %d recovery ID = %x, want %s", p.Index, id, p.RecoverySHA256)
				}
				if len(p.Operational) != 2 || len(p.Encryption0) != 1 {
					t.Fatal("want operational keys of epochs 1 and 2 and the encryption key of epoch 1")
				}
				for _, o := range p.Operational {
					k := root.OperationalKey(p.Index, o.Epoch)
					if got := hex.EncodeToString(k.Seed()); got != o.PrivateSeed {
						t.Errorf("persona %d epoch %d operational seed = %s, want %s", p.Index, o.Epoch, got, o.PrivateSeed)
					}
					if got := hex.EncodeToString(k.Public().(ed25519.PublicKey)); got != o.PublicKey {
						t.Errorf("persona %d epoch %d operational public key = %s, want %s", p.Index, o.Epoch, got, o.PublicKey)
					}
				}
				for _, e := range p.Encryption0 {
					ek, err := root.EncryptionKey0(p.Index, e.Epoch)
					if err != nil {
						t.Fatal(err)
					}
					if got := sha256.Sum256(ek.PublicKey().Bytes()); hex.EncodeToString(got[:]) != e.PublicSHA256 {
						t.Errorf("persona %d epoch %d encryption key 0 hash = %x, want %s", p.Index, e.Epoch, got, e.PublicSHA256)
					}
				}
			}
		})
	}
}

// TestCommittedVectorsFormat2Certificates pins the encodings of an
// operational certificate, a device certificate and a credential. If it
// fails, certificates already on the network would no longer parse or
// verify the same: fix the code, never the vectors.
func TestCommittedVectorsFormat2Certificates(t *testing.T) {
	var file struct {
		Format2 struct {
			Certificates struct {
				Mnemonic        string
				PersonaIndex    uint32 `json:"persona_index"`
				DID             string
				Epoch           uint32
				IssuedAt        string `json:"issued_at"`
				DeviceSeed      string `json:"device_seed"`
				DevicePublicKey string `json:"device_public_key"`
				OpCert          string `json:"op_cert"`
				DeviceCert      string `json:"device_cert"`
				Credential      string
			}
		}
	}
	loadJSON(t, "testdata/vectors.json", &file)
	v := file.Format2.Certificates
	issued, err := time.Parse(time.RFC3339, v.IssuedAt)
	if err != nil {
		t.Fatal(err)
	}
	root, err := RootFromMnemonic(v.Mnemonic)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Wipe()
	device := ed25519.NewKeyFromSeed(mustHex(t, v.DeviceSeed))
	if got := hex.EncodeToString(device.Public().(ed25519.PublicKey)); got != v.DevicePublicKey {
		t.Fatalf("device public key = %s, want %s", got, v.DevicePublicKey)
	}

	// Issuing again gives exactly the committed bytes.
	op, err := IssueOpCert(root, v.PersonaIndex, v.Epoch, 0, issued)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := IssueDeviceCert(root.OperationalKey(v.PersonaIndex, v.Epoch), op, device.Public().(ed25519.PublicKey), issued, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rec  interface{ Marshal() ([]byte, error) }
		want string
	}{
		{"operational certificate", op, v.OpCert},
		{"device certificate", dev, v.DeviceCert},
		{"credential", &Credential{Op: op, Device: dev}, v.Credential},
	} {
		if got := hex.EncodeToString(mustMarshal(t, tc.rec)); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}

	// The committed bytes parse and verify.
	pop, err := ParseOpCert(mustHex(t, v.OpCert))
	if err != nil {
		t.Fatal(err)
	}
	if err := pop.Verify(); err != nil || pop.Persona != v.DID || pop.Epoch != v.Epoch {
		t.Fatalf("operational certificate: %v (%s epoch %d)", err, pop.Persona, pop.Epoch)
	}
	pdev, err := ParseDeviceCert(mustHex(t, v.DeviceCert))
	if err != nil {
		t.Fatal(err)
	}
	if err := pdev.Verify(pop, issued); err != nil {
		t.Fatal(err)
	}
	cred, err := ParseCredential(mustHex(t, v.Credential))
	if err != nil {
		t.Fatal(err)
	}
	key, epoch, err := cred.Verify(v.DID, issued, nil)
	if err != nil || epoch != v.Epoch || hex.EncodeToString(key) != v.DevicePublicKey {
		t.Fatalf("credential: %v (key %x, epoch %d)", err, key, epoch)
	}
}

// TestCommittedVectorsFormat2EncKeyCert pins the encoding of the
// certificate of persona 0's generation-0 encryption key of epoch 1. If it
// fails, encryption-key certificates already on the network would no
// longer parse or verify the same: fix the code, never the vector.
func TestCommittedVectorsFormat2EncKeyCert(t *testing.T) {
	var file struct {
		Format2 struct {
			Certificates struct {
				OpCert string `json:"op_cert"`
			}
			EncKeyCertificate struct {
				Mnemonic     string
				PersonaIndex uint32 `json:"persona_index"`
				DID          string
				Epoch        uint32
				Gen          uint32
				IssuedAt     string `json:"issued_at"`
				PublicSHA256 string `json:"public_sha256"`
				KeyID        string `json:"key_id"`
				EncCert      string `json:"enc_cert"`
			} `json:"enc_key_certificate"`
		}
	}
	loadJSON(t, "testdata/vectors.json", &file)
	v := file.Format2.EncKeyCertificate
	if v.EncCert == "" {
		t.Fatal("no enc_key_certificate in vectors.json")
	}
	issued, err := time.Parse(time.RFC3339, v.IssuedAt)
	if err != nil {
		t.Fatal(err)
	}
	root, err := RootFromMnemonic(v.Mnemonic)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Wipe()

	// Issuing again gives exactly the committed bytes.
	op, err := IssueOpCert(root, v.PersonaIndex, v.Epoch, 0, issued)
	if err != nil {
		t.Fatal(err)
	}
	key, err := root.EncryptionKey0(v.PersonaIndex, v.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	e, err := IssueEncKeyCert(root.OperationalKey(v.PersonaIndex, v.Epoch), op, v.Gen, key.PublicKey(), issued)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(mustMarshal(t, e)); got != v.EncCert {
		t.Errorf("encryption-key certificate = %s, want %s", got, v.EncCert)
	}

	// The committed bytes parse and verify under the committed
	// operational certificate.
	pop, err := ParseOpCert(mustHex(t, file.Format2.Certificates.OpCert))
	if err != nil {
		t.Fatal(err)
	}
	pe, err := ParseEncKeyCert(mustHex(t, v.EncCert))
	if err != nil {
		t.Fatal(err)
	}
	if err := pe.Verify(pop); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pe.Key)
	id := pe.KeyID()
	if pe.Persona != v.DID || pe.Epoch != v.Epoch || pe.Gen != v.Gen || pe.KEM != EncryptionKEMID ||
		hex.EncodeToString(sum[:]) != v.PublicSHA256 || hex.EncodeToString(id[:]) != v.KeyID {
		t.Fatalf("committed certificate: %s epoch %d gen %d KEM %#04x key %x ID %x", pe.Persona, pe.Epoch, pe.Gen, pe.KEM, sum, id)
	}
}
