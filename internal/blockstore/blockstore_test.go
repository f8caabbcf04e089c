package blockstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/cid"
)

func TestCheckPut(t *testing.T) {
	ok := make([]byte, MaxBlockSize)
	c := cid.Sum(cid.Raw, ok)
	if err := CheckPut(c, ok); err != nil {
		t.Fatalf("max-size block refused: %v", err)
	}
	big := make([]byte, MaxBlockSize+1)
	err := CheckPut(cid.Sum(cid.Raw, big), big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized block: %v; want ErrTooLarge", err)
	}
	if err := CheckPut(cid.Undef, nil); !errors.Is(err, cid.ErrBadCID) {
		t.Fatalf("undefined CID: %v; want ErrBadCID", err)
	}
	nf := NotFound(c)
	if !IsNotFound(nf) || !strings.Contains(nf.Error(), c.String()) {
		t.Fatalf("NotFound(c) = %v", nf)
	}
	if IsIntegrity(nf) || !IsIntegrity(cid.Verify(c, []byte("x"))) {
		t.Fatal("IsIntegrity misclassifies")
	}
}
