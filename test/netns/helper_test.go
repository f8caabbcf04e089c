package netns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The self-test runs small network programs inside namespaces by
// re-executing the test binary: `<test binary> -test.run=^TestHelperProcess$
// -- <mode> <args...>` with helperEnv set.

const helperEnv = "PEER_NETNS_TEST_HELPER"

// helperCmd returns an unstarted helper command in h.
func helperCmd(n *Net, h *Host, mode string, args ...string) *exec.Cmd {
	cmd := n.Command(h, os.Args[0], append([]string{"-test.run=^TestHelperProcess$", "--", mode}, args...)...)
	// Under -race, a process exiting 0 sleeps 1 s first by default.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "GORACE="+gorace)
	return cmd
}

// startHelper starts a helper in h, tracked by n, and returns its stdout
// lines. Servers print "ready" once they listen; startHelper waits for it.
func startHelper(t *testing.T, n *Net, h *Host, mode string, args ...string) (*Proc, *lines) {
	t.Helper()
	cmd := helperCmd(n, h, mode, args...)
	out := newLines()
	var errb syncBuffer
	cmd.Stdout, cmd.Stderr = out, &errb
	p, err := n.StartCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if line, ok := out.next(10 * time.Second); !ok || line != "ready" {
		t.Fatalf("helper %s %v in %s: no \"ready\" (got %q, ok=%v); stderr:\n%s", mode, args, h.Name, line, ok, errb.String())
	}
	return p, out
}

// runHelper runs a helper in h to completion (at most timeout) and returns
// its stdout, or an error with its stderr.
func runHelper(t *testing.T, n *Net, h *Host, timeout time.Duration, mode string, args ...string) (string, error) {
	t.Helper()
	cmd := helperCmd(n, h, mode, args...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	p, err := n.StartCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(timeout):
		n.Kill(p)
		return out.String(), fmt.Errorf("helper %s %v in %s: still running after %v", mode, args, h.Name, timeout)
	}
	if err := p.Wait(); err != nil {
		return out.String(), fmt.Errorf("helper %s %v in %s: %v: %s", mode, args, h.Name, err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// TestHelperProcess is not a test: it is the helper program, run only
// when helperEnv is set.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process for the other tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if err := helper(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helper(args []string) error {
	if len(args) == 0 {
		return errors.New("no mode")
	}
	mode, args := args[0], args[1:]
	switch mode {
	case "sleep": // sleep forever, for cleanup tests
		fmt.Println("ready")
		select {}

	case "tcp-server": // tcp-server <addr>: tell each client its address as seen here
		ln, err := net.Listen("tcp4", args[0])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			fmt.Fprintf(c, "from %s\n", c.RemoteAddr())
			c.Close()
		}

	case "tcp-dial": // tcp-dial <addr>: print the server's line
		c, err := net.DialTimeout("tcp4", args[0], 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Print(line)
		return nil

	case "udp-server": // udp-server <addr>: answer each packet with its source
		pc, err := net.ListenPacket("udp4", args[0])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return err
			}
			pc.WriteTo([]byte("from "+from.String()), from)
		}

	case "udp-dial": // udp-dial <server> <port,port,...>: per local port, print "port observed"
		server, err := net.ResolveUDPAddr("udp4", args[0])
		if err != nil {
			return err
		}
		for _, ps := range strings.Split(args[1], ",") {
			port, err := strconv.Atoi(ps)
			if err != nil {
				return err
			}
			obs, err := udpAsk(port, server)
			if err != nil {
				return fmt.Errorf("from port %d: %w", port, err)
			}
			fmt.Println(port, obs)
		}
		return nil

	case "mcast-recv": // mcast-recv <group:port> <iface>: print the first packet's source and text
		group, err := net.ResolveUDPAddr("udp4", args[0])
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(args[1])
		if err != nil {
			return err
		}
		if ifi.Flags&net.FlagMulticast == 0 {
			return fmt.Errorf("%s has no MULTICAST flag: %v", ifi.Name, ifi.Flags)
		}
		pc, err := net.ListenMulticastUDP("udp4", ifi, group)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		buf := make([]byte, 1500)
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			return err
		}
		fmt.Printf("from %s %s\n", from.IP, buf[:n])
		return nil

	case "mcast-send": // mcast-send <group:port> <text>: send every 100 ms, up to 5 s
		group, err := net.ResolveUDPAddr("udp4", args[0])
		if err != nil {
			return err
		}
		c, err := net.DialUDP("udp4", nil, group)
		if err != nil {
			return err
		}
		for i := 0; i < 50; i++ {
			if _, err := c.Write([]byte(args[1])); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// udpAsk sends from local port to server and returns the "from ..." answer.
func udpAsk(port int, server *net.UDPAddr) (string, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for try := 0; try < 5; try++ {
		if _, err := c.WriteToUDP([]byte("hi"), server); err != nil {
			return "", err
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := c.ReadFromUDP(buf)
		if err == nil {
			return strings.TrimPrefix(string(buf[:n]), "from "), nil
		}
	}
	return "", errors.New("no answer")
}

// lines is an io.Writer that hands out complete lines.
type lines struct {
	mu      sync.Mutex
	partial []byte
	ch      chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case l.ch <- string(l.partial[:i]):
		default: // nobody reads that many lines; drop
		}
		l.partial = l.partial[i+1:]
	}
}

// next returns the next line, or false after timeout.
func (l *lines) next(timeout time.Duration) (string, bool) {
	select {
	case s := <-l.ch:
		return s, true
	case <-time.After(timeout):
		return "", false
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
