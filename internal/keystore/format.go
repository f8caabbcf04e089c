package keystore

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// FormatVersion is the version of every JSON file in a store (store.json,
// key files, persona.json). Files of another version are refused with
// ErrUnsupportedVersion.
const FormatVersion = 1

// File and directory names inside a store directory.
const (
	storeFileName        = "store.json"
	rootKeyFile          = "root.key"
	deviceKeyFile        = "device.key"
	personasDir          = "personas"
	personaMetaFile      = "persona.json"
	personaKeyFile       = "persona.key"
	deviceCertFile       = "device-cert.cbor"
	storeStagingInfix    = ".init-"    // <dir>.init-<random>: a store being created
	personaStagingPrefix = ".staging-" // personas/.staging-<random>: a persona being added
	maxFileSize          = 64 << 10
)

// Key file roles. The associated data of a sealed file is ADPrefix + role,
// so a sealed file only opens in its own place.
const (
	ADPrefix    = "peer-keyfile/v1/"
	roleCheck   = "check"
	roleRoot    = "root"
	roleDevice  = "device"
	rolePersona = "persona/" // + decimal index
)

// checkPlaintext is sealed into store.json to recognise the passphrase.
var checkPlaintext = []byte("peer keystore passphrase check v1")

const (
	kdfAlg    = "argon2id"
	saltLen   = 16
	keyLen    = chacha20poly1305.KeySize
	rootLen   = 64 // BIP-39 seed
	seedLen   = 32 // Ed25519 private seed
	nonceLen  = chacha20poly1305.NonceSizeX
	maxKDFMem = 4 << 20 // KiB: 4 GiB, a bound on what a store.json may ask for
	maxKDFT   = 100
)

// KDFParams are the Argon2id parameters for a new sealed store. They are
// stored in store.json, so changing them affects new stores only.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // parallelism
}

// DefaultKDFParams are used by Create for sealed stores: t=3, m=64 MiB, p=2.
// Tests may lower them (m=64 KiB is enough to exercise the code); nothing
// else should.
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}

func (p KDFParams) validate() error {
	if p.Time < 1 || p.Time > maxKDFT || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMem {
		return fmt.Errorf("argon2id parameters out of range: t=%d m=%dKiB p=%d", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// storeFile is store.json: never sealed, readable without the passphrase.
type storeFile struct {
	Version int        `json:"version"`
	Sealed  bool       `json:"sealed"`
	KDF     *kdfFile   `json:"kdf,omitempty"`
	Check   *sealedBox `json:"check,omitempty"`
}

type kdfFile struct {
	Alg       string `json:"alg"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

type sealedBox struct {
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// keyFile holds one secret: plainly in Data, or sealed (Data is ciphertext
// and tag, Nonce the XChaCha20 nonce).
type keyFile struct {
	Version int    `json:"version"`
	Role    string `json:"role"`
	Sealed  bool   `json:"sealed"`
	Nonce   []byte `json:"nonce,omitempty"`
	Data    []byte `json:"data"`
}

// personaFile is a persona's public metadata.
type personaFile struct {
	Version int    `json:"version"`
	DID     string `json:"did"`
	Name    string `json:"name"`
	Index   uint32 `json:"index"`
	Created int64  `json:"created"` // Unix seconds
}

// deriveKey runs Argon2id once; the result seals every file of the store.
func deriveKey(pass []byte, k *kdfFile) (cipher.AEAD, error) {
	key := argon2.IDKey(pass, k.Salt, k.Time, k.MemoryKiB, k.Threads, keyLen)
	defer clear(key)
	return chacha20poly1305.NewX(key)
}

func (k *kdfFile) validate() error {
	if k.Alg != kdfAlg {
		return fmt.Errorf("unknown key derivation %q", k.Alg)
	}
	if len(k.Salt) != saltLen {
		return fmt.Errorf("salt is %d bytes, want %d", len(k.Salt), saltLen)
	}
	return KDFParams{Time: k.Time, MemoryKiB: k.MemoryKiB, Threads: k.Threads}.validate()
}

func seal(aead cipher.AEAD, role string, plaintext []byte) (*sealedBox, error) {
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keystore: random nonce: %w", err)
	}
	return &sealedBox{Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, []byte(ADPrefix+role))}, nil
}

func unseal(aead cipher.AEAD, role string, box *sealedBox) ([]byte, error) {
	if len(box.Nonce) != nonceLen {
		return nil, fmt.Errorf("nonce is %d bytes, want %d", len(box.Nonce), nonceLen)
	}
	return aead.Open(nil, box.Nonce, box.Ciphertext, []byte(ADPrefix+role))
}

// encodeKeyFile wraps a secret for role, sealed when aead is not nil.
func encodeKeyFile(aead cipher.AEAD, role string, secret []byte) ([]byte, error) {
	kf := keyFile{Version: FormatVersion, Role: role}
	if aead == nil {
		kf.Data = secret
	} else {
		box, err := seal(aead, role, secret)
		if err != nil {
			return nil, err
		}
		kf.Sealed, kf.Nonce, kf.Data = true, box.Nonce, box.Ciphertext
	}
	return marshalJSON(kf)
}

func marshalJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keystore: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// corrupt wraps ErrCorrupt naming the file (relative to the store).
func corrupt(name string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
}

// readFile reads a store file of at most maxFileSize bytes. A missing file
// is ErrCorrupt: a committed store has all its files.
func readFile(dir, name string) ([]byte, error) {
	f, err := os.Open(join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, corrupt(name, "missing")
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: read %s: %w", name, err)
	}
	if len(b) > maxFileSize {
		return nil, corrupt(name, "larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// decodeJSON decodes a versioned JSON file strictly: known version first
// (else ErrUnsupportedVersion), then no unknown fields, no trailing data.
func decodeJSON(name string, b []byte, v any) error {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return corrupt(name, "not valid JSON: %v", err)
	}
	if head.Version == nil {
		return corrupt(name, "no format version")
	}
	if *head.Version != FormatVersion {
		return fmt.Errorf("%w: %s: version %d, this program reads %d", ErrUnsupportedVersion, name, *head.Version, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return corrupt(name, "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return corrupt(name, "trailing data")
	}
	return nil
}

// readSecret reads, checks and (when aead is set) opens the key file name,
// which must hold a want-byte secret for role.
func readSecret(dir, name, role string, aead cipher.AEAD, want int) ([]byte, error) {
	b, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	return parseSecret(name, b, role, aead, want)
}

// parseSecret decodes the key file name, with content b; see readSecret.
func parseSecret(name string, b []byte, role string, aead cipher.AEAD, want int) ([]byte, error) {
	var kf keyFile
	if err := decodeJSON(name, b, &kf); err != nil {
		return nil, err
	}
	if kf.Role != role {
		return nil, corrupt(name, "holds a %q key, want %q", kf.Role, role)
	}
	if kf.Sealed != (aead != nil) {
		return nil, corrupt(name, "sealed is %t but the store's is %t", kf.Sealed, aead != nil)
	}
	secret := kf.Data
	if aead != nil {
		var err error
		secret, err = unseal(aead, role, &sealedBox{Nonce: kf.Nonce, Ciphertext: kf.Data})
		if err != nil {
			return nil, corrupt(name, "cannot be decrypted: damaged or moved from elsewhere")
		}
	} else if len(kf.Nonce) != 0 {
		return nil, corrupt(name, "unsealed file has a nonce")
	}
	if len(secret) != want {
		clear(secret)
		return nil, corrupt(name, "secret is %d bytes, want %d", len(secret), want)
	}
	return secret, nil
}

// writeNewFile creates name in dir with mode 0600, writes data and syncs it.
// It is used only inside staging directories, whose rename commits them.
func writeNewFile(dir, name string, data []byte) error {
	f, err := os.OpenFile(join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keystore: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keystore: sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keystore: close %s: %w", name, err)
	}
	return nil
}

// mkdirPrivate creates a directory with mode 0700 regardless of umask.
func mkdirPrivate(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := os.Chmod(path, 0o700); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

func personaDirName(index uint32) string { return strconv.FormatUint(uint64(index), 10) }

// parsePersonaDirName accepts only the canonical decimal form.
func parsePersonaDirName(name string) (uint32, bool) {
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || personaDirName(uint32(n)) != name {
		return 0, false
	}
	return uint32(n), true
}

func personaRole(index uint32) string { return rolePersona + personaDirName(index) }
