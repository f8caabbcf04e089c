package netns

import "syscall"

func platformOK() error { return nil }

// sysProcAttr puts a started program in its own process group (so cleanup
// can kill it and its children together) and has the kernel kill it if the
// test process dies first (Pdeathsig survives the exec done by
// `ip netns exec`). Pdeathsig fires when the forking OS thread exits; Go
// only ends threads whose goroutine locked them and exited, which neither
// this package nor the tests using it do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
