package keystore

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/fsutil"
	"github.com/peer-node/peer/internal/identity"
)

// crashHook, when set by a test, is asked at each named point of Create and
// NewPersona whether to "crash" there: return at once, leaving behind
// whatever is on disk, as a power cut would.
var crashHook func(point string) bool

var errSimulatedCrash = errors.New("keystore: simulated crash")

func crash(point string) bool { return crashHook != nil && crashHook(point) }

// join joins a slash-separated store-relative name onto dir.
func join(dir, name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

// Exists reports whether dir holds a committed store. Because a store only
// appears by renaming a complete staging directory, a store.json in dir
// means the store is complete; a missing or empty dir, or one holding only
// crash leftovers beside it, is not a store.
func Exists(dir string) (bool, error) {
	fi, err := os.Stat(filepath.Join(dir, storeFileName))
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return false, corrupt(storeFileName, "not a regular file")
		}
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("keystore: %w", err)
	}
}

// IsSealed reports whether the store in dir is sealed with a passphrase. It
// reads only store.json and needs no passphrase.
func IsSealed(dir string) (bool, error) {
	sf, err := readStoreFile(filepath.Clean(dir))
	if err != nil {
		return false, err
	}
	return sf.Sealed, nil
}

// Create makes a new store in dir, which must not exist or be empty
// (else ErrExists), and returns it with its recovery phrase, normalised. It
// derives the root secret from opts.Mnemonic (or a new phrase), makes a new
// random device key, derives persona 0 and certifies the device for it.
//
// Everything is written and synced in a staging directory beside dir, which
// is then renamed to dir: after a crash dir either does not exist or is
// complete. Stale staging directories of earlier crashes are removed.
func Create(dir string, opts CreateOptions) (s *Store, mnemonic string, err error) {
	dir = filepath.Clean(dir)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	name := opts.FirstPersonaName
	if name == "" {
		name = DefaultPersonaName
	}
	if err := ValidateName(name); err != nil {
		return nil, "", err
	}
	if err := checkCreatable(dir); err != nil {
		return nil, "", err
	}

	var root []byte
	switch {
	case opts.Seed != nil:
		if opts.Mnemonic != "" {
			return nil, "", errors.New("keystore: give a recovery phrase or a root seed, not both")
		}
		if len(opts.Seed) != rootLen {
			return nil, "", fmt.Errorf("keystore: root seed of %d bytes, want %d", len(opts.Seed), rootLen)
		}
		root = bytes.Clone(opts.Seed)
	default:
		mnemonic = opts.Mnemonic
		if mnemonic == "" {
			if mnemonic, err = identity.NewMnemonic(); err != nil {
				return nil, "", err
			}
		}
		if root, err = identity.SeedFromMnemonic(mnemonic); err != nil {
			return nil, "", err
		}
		mnemonic = identity.NormalizeMnemonic(mnemonic)
	}
	_, device, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("keystore: device key: %w", err)
	}

	sf := storeFile{Version: FormatVersion}
	var aead cipher.AEAD
	if len(opts.Passphrase) > 0 {
		params := DefaultKDFParams
		if err := params.validate(); err != nil {
			return nil, "", fmt.Errorf("keystore: DefaultKDFParams: %w", err)
		}
		k := &kdfFile{Alg: kdfAlg, Time: params.Time, MemoryKiB: params.MemoryKiB, Threads: params.Threads, Salt: make([]byte, saltLen)}
		if _, err := rand.Read(k.Salt); err != nil {
			return nil, "", fmt.Errorf("keystore: random salt: %w", err)
		}
		if aead, err = deriveKey(opts.Passphrase, k); err != nil {
			return nil, "", fmt.Errorf("keystore: %w", err)
		}
		check, err := seal(aead, roleCheck, checkPlaintext)
		if err != nil {
			return nil, "", err
		}
		sf.Sealed, sf.KDF, sf.Check = true, k, check
	}

	st := &state{now: now, aead: aead, root: root, device: device}
	p0, err := st.derivePersona(0, name)
	if err != nil {
		return nil, "", err
	}
	st.personas = []*persona{p0}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, "", fmt.Errorf("keystore: %w", err)
	}
	removeStaleStores(dir)
	staging, err := os.MkdirTemp(parent, filepath.Base(dir)+storeStagingInfix)
	if err != nil {
		return nil, "", fmt.Errorf("keystore: %w", err)
	}
	crashed := false
	defer func() {
		if !crashed {
			os.RemoveAll(staging) // no-op once renamed
		}
	}()
	step := func(point string) error {
		if crash(point) {
			crashed = true
			return errSimulatedCrash
		}
		return nil
	}
	if err := writeStore(staging, &sf, st, step); err != nil {
		return nil, "", err
	}
	if err := step("create:before-rename"); err != nil {
		return nil, "", err
	}
	// os.Rename will not replace a directory, even an empty one: remove an
	// empty dir first (os.Remove fails if something appeared in it).
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if cerr := checkCreatable(dir); cerr != nil {
			return nil, "", cerr
		}
		return nil, "", fmt.Errorf("keystore: %w", err)
	}
	if err := os.Rename(staging, dir); err != nil {
		if cerr := checkCreatable(dir); cerr != nil {
			return nil, "", cerr // someone filled dir meanwhile
		}
		return nil, "", fmt.Errorf("keystore: commit %s: %w", dir, err)
	}
	if err := fsutil.SyncDir(parent); err != nil {
		return nil, "", fmt.Errorf("keystore: commit %s: %w", dir, err)
	}
	return &Store{dir: dir, sealed: sf.Sealed, st: st}, mnemonic, nil
}

// checkCreatable refuses a dir that exists and is not empty.
func checkCreatable(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrExists, dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s is not empty", ErrExists, dir)
	}
	return nil
}

// writeStore writes a whole store into the (staging) directory dir and
// syncs every file and directory in it.
func writeStore(dir string, sf *storeFile, st *state, step func(string) error) error {
	b, err := marshalJSON(sf)
	if err != nil {
		return err
	}
	if err := writeNewFile(dir, storeFileName, b); err != nil {
		return err
	}
	if b, err = encodeKeyFile(st.aead, roleRoot, st.root); err != nil {
		return err
	}
	if err := writeNewFile(dir, rootKeyFile, b); err != nil {
		return err
	}
	if err := step("create:after-root"); err != nil {
		return err
	}
	if b, err = encodeKeyFile(st.aead, roleDevice, st.device.Seed()); err != nil {
		return err
	}
	if err := writeNewFile(dir, deviceKeyFile, b); err != nil {
		return err
	}
	pdir := filepath.Join(dir, personasDir)
	if err := mkdirPrivate(pdir); err != nil {
		return err
	}
	p0dir := filepath.Join(pdir, personaDirName(0))
	if err := mkdirPrivate(p0dir); err != nil {
		return err
	}
	if err := writePersonaFiles(p0dir, st.personas[0], st.aead, step); err != nil {
		return err
	}
	if err := fsutil.SyncDir(pdir); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// writePersonaFiles writes a persona's three files into dir and syncs dir.
func writePersonaFiles(dir string, p *persona, aead cipher.AEAD, step func(string) error) error {
	meta, err := marshalJSON(personaFile{
		Version: FormatVersion, DID: p.info.ID, Name: p.info.Name, Index: p.info.Index, Created: p.info.Created.Unix(),
	})
	if err != nil {
		return err
	}
	if err := writeNewFile(dir, personaMetaFile, meta); err != nil {
		return err
	}
	if err := step("persona:after-meta"); err != nil {
		return err
	}
	key, err := encodeKeyFile(aead, personaRole(p.info.Index), p.key.Seed())
	if err != nil {
		return err
	}
	if err := writeNewFile(dir, personaKeyFile, key); err != nil {
		return err
	}
	cert, err := p.cert.Marshal()
	if err != nil {
		return fmt.Errorf("keystore: encode device certificate: %w", err)
	}
	if err := writeNewFile(dir, deviceCertFile, cert); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// removeStaleStores removes <dir>.init-* staging directories left by a
// Create that crashed. Failures are ignored: a leftover is harmless.
func removeStaleStores(dir string) {
	parent, prefix := filepath.Dir(dir), filepath.Base(dir)+storeStagingInfix
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// readStoreFile reads and checks store.json.
func readStoreFile(dir string) (*storeFile, error) {
	if _, err := os.Stat(filepath.Join(dir, storeFileName)); errors.Is(err, fs.ErrNotExist) {
		entries, derr := os.ReadDir(dir)
		if derr == nil && len(entries) > 0 {
			return nil, corrupt(storeFileName, "missing")
		}
		return nil, fmt.Errorf("%w: no key store in %s", ErrNotInitialised, dir)
	}
	b, err := readFile(dir, storeFileName)
	if err != nil {
		return nil, err
	}
	return parseStoreFile(b)
}

// parseStoreFile decodes and checks the content of store.json.
func parseStoreFile(b []byte) (*storeFile, error) {
	var sf storeFile
	if err := decodeJSON(storeFileName, b, &sf); err != nil {
		return nil, err
	}
	if sf.Sealed {
		if sf.KDF == nil || sf.Check == nil {
			return nil, corrupt(storeFileName, "sealed store without key derivation parameters")
		}
		if err := sf.KDF.validate(); err != nil {
			return nil, corrupt(storeFileName, "%v", err)
		}
	} else if sf.KDF != nil || sf.Check != nil {
		return nil, corrupt(storeFileName, "unsealed store with key derivation parameters")
	}
	return &sf, nil
}

// Open opens the store in dir. A sealed store needs its passphrase
// (ErrPassphraseRequired, ErrWrongPassphrase); the passphrase is checked
// before anything on disk is touched. An unsealed store ignores passphrase.
//
// Open then removes crash leftovers (stale staging directories of Create and
// NewPersona), reads every key and checks that each persona's key matches
// its ID and that its device certificate verifies for this device; any
// missing, damaged or inconsistent file is ErrCorrupt naming the file.
func Open(dir string, passphrase []byte) (*Store, error) {
	dir = filepath.Clean(dir)
	sf, err := readStoreFile(dir)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	if sf.Sealed {
		if len(passphrase) == 0 {
			return nil, ErrPassphraseRequired
		}
		if aead, err = deriveKey(passphrase, sf.KDF); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		pt, err := unseal(aead, roleCheck, sf.Check)
		if err != nil {
			return nil, ErrWrongPassphrase
		}
		if !bytes.Equal(pt, checkPlaintext) {
			return nil, corrupt(storeFileName, "unexpected passphrase check value")
		}
	}

	// The caller holds the store: now clear what crashes left behind.
	removeStaleStores(dir)
	removeStalePersonas(filepath.Join(dir, personasDir))

	st := &state{now: time.Now, aead: aead}
	if st.root, err = readSecret(dir, rootKeyFile, roleRoot, aead, rootLen); err != nil {
		return nil, err
	}
	seed, err := readSecret(dir, deviceKeyFile, roleDevice, aead, seedLen)
	if err != nil {
		return nil, err
	}
	st.device = ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if st.personas, err = loadPersonas(dir, aead, st.device.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	// Every persona derives from the root secret: this catches a damaged
	// root.key (which, unsealed, has no checksum of its own) before
	// NewPersona would derive wrong personas from it.
	for _, p := range st.personas {
		if !bytes.Equal(identity.PersonaKey(st.root, p.info.Index), p.key) {
			return nil, corrupt(rootKeyFile, "does not derive persona %d (%s)", p.info.Index, p.info.ID)
		}
	}
	return &Store{dir: dir, sealed: sf.Sealed, st: st}, nil
}

// removeStalePersonas removes personas/.staging-* left by a NewPersona that
// crashed before its rename.
func removeStalePersonas(pdir string) {
	entries, err := os.ReadDir(pdir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), personaStagingPrefix) {
			os.RemoveAll(filepath.Join(pdir, e.Name()))
		}
	}
}

// loadPersonas reads every committed persona and checks it.
func loadPersonas(dir string, aead cipher.AEAD, device ed25519.PublicKey) ([]*persona, error) {
	entries, err := os.ReadDir(filepath.Join(dir, personasDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, corrupt(personasDir, "missing")
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	var ps []*persona
	names, ids := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		index, ok := parsePersonaDirName(e.Name())
		if !ok {
			continue // not ours (staging leftovers are gone by now)
		}
		rel := personasDir + "/" + e.Name()
		if !e.IsDir() {
			return nil, corrupt(rel, "not a directory")
		}
		p, err := loadPersona(dir, rel, index, aead, device)
		if err != nil {
			return nil, err
		}
		if names[p.info.Name] {
			return nil, corrupt(rel+"/"+personaMetaFile, "name %q used twice", p.info.Name)
		}
		if ids[p.info.ID] {
			return nil, corrupt(rel+"/"+personaMetaFile, "persona %s stored twice", p.info.ID)
		}
		names[p.info.Name], ids[p.info.ID] = true, true
		ps = append(ps, p)
	}
	sortPersonas(ps)
	if len(ps) == 0 || ps[0].info.Index != 0 {
		return nil, corrupt(personasDir+"/0", "default persona missing")
	}
	return ps, nil
}

func loadPersona(dir, rel string, index uint32, aead cipher.AEAD, device ed25519.PublicKey) (*persona, error) {
	metaName := rel + "/" + personaMetaFile
	b, err := readFile(dir, metaName)
	if err != nil {
		return nil, err
	}
	var meta personaFile
	if err := decodeJSON(metaName, b, &meta); err != nil {
		return nil, err
	}
	if meta.Index != index {
		return nil, corrupt(metaName, "index %d in directory %d", meta.Index, index)
	}
	if err := ValidateName(meta.Name); err != nil {
		return nil, corrupt(metaName, "%v", err)
	}
	pub, err := identity.ParseDID(meta.DID)
	if err != nil {
		return nil, corrupt(metaName, "%v", err)
	}

	keyName := rel + "/" + personaKeyFile
	seed, err := readSecret(dir, keyName, personaRole(index), aead, seedLen)
	if err != nil {
		return nil, err
	}
	key := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	if !bytes.Equal(key.Public().(ed25519.PublicKey), pub) {
		return nil, corrupt(keyName, "key does not match persona %s", meta.DID)
	}

	certName := rel + "/" + deviceCertFile
	if b, err = readFile(dir, certName); err != nil {
		return nil, err
	}
	cert, err := identity.ParseDeviceCertV1(b)
	if err != nil {
		return nil, corrupt(certName, "%v", err)
	}
	if err := cert.Verify(time.Now(), nil); err != nil {
		return nil, corrupt(certName, "%v", err)
	}
	if cert.Persona != meta.DID {
		return nil, corrupt(certName, "issued by %s, not %s", cert.Persona, meta.DID)
	}
	if !bytes.Equal(cert.Device, device) {
		return nil, corrupt(certName, "certifies another device")
	}
	return &persona{
		info: PersonaInfo{
			ID: meta.DID, Name: meta.Name, Index: index,
			Created: time.Unix(meta.Created, 0).UTC(), Default: index == 0,
		},
		key:  key,
		cert: cert,
	}, nil
}
