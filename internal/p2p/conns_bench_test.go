package p2p

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// connMemBudgetMiB is the documented budget (docs/network.md) for what a
// node's memory may grow by while it holds 200 connections.
const connMemBudgetMiB = 64

// BenchmarkHold200Connections measures how much a host's memory grows while
// it holds 200 connections from 200 distinct peers. The peers run in a
// second process (this test binary re-executed), so only the host's own
// memory is counted: the Go heap and stacks in use (after GC) and the
// resident set (VmRSS). It reports each in MiB and as a ratio to the budget.
func BenchmarkHold200Connections(b *testing.B) {
	const n = 200
	for range b.N {
		h, err := New(context.Background(), benchKey(b), Options{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DHT: "off", ConnHigh: 400, ConnLow: 300})
		if err != nil {
			b.Fatal(err)
		}
		heap0, rss0 := memNow()
		target := h.Host().Addrs()[0].String() + "/p2p/" + h.ID().String()
		cmd := exec.Command(os.Args[0], "-test.run=^TestConnClientsHelper$")
		cmd.Env = append(os.Environ(), "PEER_CONN_CLIENTS="+strconv.Itoa(n), "PEER_CONN_TARGET="+target)
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		ready := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready = true
				break
			}
		}
		if !ready {
			cmd.Process.Kill()
			b.Fatal("client process did not connect")
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(h.Host().Network().Peers()) < n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := len(h.Host().Network().Peers()); got < n {
			b.Fatalf("holding %d connections, want %d", got, n)
		}
		time.Sleep(2 * time.Second) // let identify and yamux settle: a steady state, not a race
		heap1, rss1 := memNow()
		stdin.Close()
		cmd.Wait()
		h.Close()
		dh := float64(heap1-heap0) / (1 << 20)
		dr := float64(rss1-rss0) / (1 << 20)
		b.ReportMetric(dh, "heap-MiB")
		b.ReportMetric(dr, "rss-MiB")
		b.ReportMetric(max(dh, dr)/connMemBudgetMiB, "ratio-to-budget")
		if max(dh, dr) > connMemBudgetMiB {
			b.Errorf("memory grew by %.1f MiB heap / %.1f MiB RSS for %d connections, budget %d MiB", dh, dr, n, connMemBudgetMiB)
		}
	}
}

// TestConnClientsHelper is the client side of BenchmarkHold200Connections:
// it runs only when re-executed with PEER_CONN_CLIENTS set.
func TestConnClientsHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PEER_CONN_CLIENTS"))
	if n == 0 {
		t.Skip("helper process for BenchmarkHold200Connections")
	}
	ai, err := peer.AddrInfoFromString(os.Getenv("PEER_CONN_TARGET"))
	if err != nil {
		t.Fatal(err)
	}
	var hosts []*Host
	for range n {
		h, err := New(context.Background(), benchKey(t), Options{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DHT: "off"})
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		if err := h.Connect(context.Background(), *ai); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the benchmark closes stdin
	for _, h := range hosts {
		h.Close()
	}
}

func benchKey(tb testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// memNow returns the Go heap and stacks in use after a GC, and VmRSS.
func memNow() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = ms.HeapInuse + ms.StackInuse
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return heap, rss
}
