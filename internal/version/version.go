// Package version tells which build of peer is running. Version is set at
// link time (-ldflags "-X github.com/peer-node/peer/internal/version.Version=v1.2.3");
// otherwise it is "dev" with the VCS revision Go recorded in the binary.
//
// Leaf package; anyone may import it.
package version

import "runtime/debug"

// Version is the release name, set by the linker for releases.
var Version = ""

// String returns the version, or "dev+<revision>" for an unreleased build.
func String() string {
	if Version != "" {
		return Version
	}
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}
