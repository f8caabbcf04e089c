package keystore

import (
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// FuzzFiles feeds arbitrary bytes to the decoders of every file kind a store
// holds: they must fail with a typed error, never panic. Seeds (real files
// of sealed and unsealed stores) are in testdata/fuzz/FuzzFiles.
func FuzzFiles(f *testing.F) {
	aead, err := chacha20poly1305.NewX(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	typed := func(t *testing.T, err error) {
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("untyped error: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseStoreFile(data)
		typed(t, err)
		_, err = parseSecret("root.key", data, roleRoot, nil, rootLen)
		typed(t, err)
		_, err = parseSecret("device.key", data, roleDevice, aead, seedLen)
		typed(t, err)
		var pf personaFile
		typed(t, decodeJSON("persona.json", data, &pf))
	})
}
