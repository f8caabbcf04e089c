package config

import (
	"errors"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Parse, the decoder behind Load. It must
// never panic; every failure is an *Error about the file; every success is
// a valid Config. Seeds are in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(Template()))
	f.Add([]byte("[api]\nlisten = \"0.0.0.0:1\"\nallow_remote = true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("config.toml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "config.toml" {
				t.Fatalf("error %v (%T) is not an *Error about config.toml", err, err)
			}
			_ = e.Error()
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate = %v", err)
		}
	})
}
