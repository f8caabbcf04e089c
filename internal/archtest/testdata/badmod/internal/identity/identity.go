// Package identity in this fixture breaks the layering on purpose.
package identity

import (
	"net/http"

	"github.com/peer-node/peer/internal/node"
)

var _ = http.StatusOK
var _ = node.Name
