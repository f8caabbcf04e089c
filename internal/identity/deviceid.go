package identity

import (
	"crypto/ed25519"
	"fmt"

	"github.com/mr-tron/base58"
)

// deviceIDPrefix is what precedes an Ed25519 key in a libp2p peer ID: the
// identity multihash (code 0x00, length 36) of the key's protobuf encoding
// (field 1 KeyType = 1 Ed25519, field 2 Data of 32 bytes). The peer ID spec
// fixes this form for keys of 42 bytes or fewer.
var deviceIDPrefix = []byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}

// DeviceID is the network name of a device key: the text form of its
// libp2p peer ID (12D3KooW…), computed without libp2p so that domain
// packages can tell which device a certificate names. internal/p2p's test
// checks it against libp2p's own derivation.
func DeviceID(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("device key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return base58.Encode(append(append([]byte{}, deviceIDPrefix...), pub...)), nil
}
