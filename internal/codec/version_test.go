package codec

import (
	"errors"
	"testing"
)

func TestRecordVersion(t *testing.T) {
	type rec struct {
		_       struct{} `cbor:",toarray"`
		Version uint16
		Name    string
	}
	good, _ := Marshal(rec{Version: 7, Name: "x"})
	empty, _ := Marshal([]int{})
	notArray, _ := Marshal("s")
	badVersion, _ := Marshal([]any{"v1", 2})
	tests := []struct {
		name string
		in   []byte
		want uint16
		err  error
	}{
		{"record", good, 7, nil},
		{"empty array", empty, 0, ErrMalformed},
		{"not an array", notArray, 0, ErrMalformed},
		{"version not a number", badVersion, 0, ErrMalformed},
		{"garbage", []byte{0xff, 0x00}, 0, ErrMalformed},
	}
	for _, tc := range tests {
		v, err := RecordVersion(tc.in)
		if v != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: got %d, %v", tc.name, v, err)
		}
	}
}
