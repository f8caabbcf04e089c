package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Command returns a command that runs name inside h's namespace
// (`ip netns exec NS name args...`), in its own process group, killed
// (SIGKILL) if the test process dies. It is not started: set Env, Dir,
// Stdout... and run it with Run/Output for a short-lived program, or with
// [Net.StartCmd] for one the Net should track and kill at cleanup.
func (n *Net) Command(h *Host, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild that keeps stdout open must not hang Wait forever.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Proc is a process started by [Net.Start] or [Net.StartCmd]. The Net
// waits for it: call [Proc.Wait], never Cmd.Wait.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done
}

// Start starts name in h's namespace with its output discarded, and
// tracks it for cleanup. Use [Net.Command] and [Net.StartCmd] to set the
// environment or capture output.
func (n *Net) Start(h *Host, name string, args ...string) (*Proc, error) {
	return n.StartCmd(n.Command(h, name, args...))
}

// StartCmd starts cmd (from [Net.Command]) and tracks it: at cleanup its
// process group is killed.
func (n *Net) StartCmd(cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
		return nil, errors.New("netns: StartCmd needs a command from Net.Command")
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	// Start under the lock, so Close either sees p or refuses it.
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("netns: StartCmd after Close")
	}
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("netns: start %v: %w", cmd.Args, err)
	}
	n.procs[p] = true
	n.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		n.forget(p)
	}()
	return p, nil
}

// Wait waits for the process to exit and returns Cmd.Wait's result. It may
// be called any number of times, from any goroutine.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process itself (not its group), e.g. SIGTERM
// to test a graceful stop.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill SIGKILLs the process group and waits for the process to exit.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		// Reaped: its PID may belong to someone else now. Anything left in
		// its group is still in the namespace, where cleanup finds it.
		return
	default:
	}
	killGroup(p.Cmd.Process.Pid)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		// Stuck in the kernel; the namespace cleanup will try again.
	}
}

// Kill kills one started process (e.g. a relay, mid-test) and its
// process group, and waits for it.
func (n *Net) Kill(p *Proc) {
	p.Kill()
	n.forget(p)
}

// forget stops tracking p.
func (n *Net) forget(p *Proc) {
	n.mu.Lock()
	delete(n.procs, p)
	n.mu.Unlock()
}
