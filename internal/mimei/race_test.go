//go:build race

package mimei

// The race detector makes a 1,000,000-field load too slow for a test run
// (over ten minutes on two cores; 200,000 took 104 s): under -race TestVersionDBBoundedMemory
// checks the same flow on a smaller hash; the full size runs without it.
func init() { vdbFields = 50_000 }
