// Package nodetest starts real nodes in one process for multi-node tests:
// each on its own temporary data directory, its API and its libp2p host on
// loopback with free ports, no mDNS or UPnP, and a Go API client. Await
// polls a condition with a deadline instead of sleeping.
//
// Only tests import it.
package nodetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/node"
)

// Node is one started node and a client of its API.
type Node struct {
	*node.Node
	Dir    string
	Client *apiclient.Client
}

// Start starts a node with the given config overrides ("key=value") on top
// of loopback networking. It is closed when the test ends. Set
// PEER_TEST_LOGS=1 to see its log.
func Start(t testing.TB, overrides ...string) *Node {
	t.Helper()
	dir := t.TempDir()
	opts := node.Options{DataDir: dir, Overrides: append(append([]string{"api.listen=127.0.0.1:0"}, node.LoopbackNetwork...), overrides...)}
	if os.Getenv("PEER_TEST_LOGS") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", dir[len(dir)-4:])
	} else {
		opts.LogOutput = io.Discard
	}
	n, err := node.Start(opts)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return &Node{Node: n, Dir: dir, Client: apiclient.New(n.APIURL(), n.Token())}
}

// StartN starts n nodes in parallel with the same overrides.
func StartN(t testing.TB, n int, overrides ...string) []*Node {
	t.Helper()
	out := make([]*Node, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					firstErr = fmt.Errorf("%v", r)
					mu.Unlock()
				}
			}()
			out[i] = Start(t, overrides...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return out
}

// Bootstrap returns the override that makes a node bootstrap from these.
func Bootstrap(ns ...*Node) string {
	var addrs []string
	for _, n := range ns {
		addrs = append(addrs, n.NetAddrs()...)
	}
	return "network.bootstrap=" + strings.Join(addrs, ",")
}

// Indexes returns the override that makes a node use these as index peers.
func Indexes(ns ...*Node) string {
	var addrs []string
	for _, n := range ns {
		if a := n.NetAddrs(); len(a) > 0 {
			addrs = append(addrs, a[0])
		}
	}
	return "network.indexes=" + strings.Join(addrs, ",")
}

// Await calls cond until it returns nil or timeout passes, then fails the
// test with cond's last error.
func Await(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// Ctx is a context bounded by d that ends with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Restart closes n and starts a node again on its data directory with the
// given overrides (on top of loopback networking), closed when the test
// ends.
func Restart(t testing.TB, n *Node, overrides ...string) *Node {
	t.Helper()
	n.Close()
	opts := node.Options{DataDir: n.Dir, Overrides: append(append([]string{"api.listen=127.0.0.1:0"}, node.LoopbackNetwork...), overrides...), LogOutput: io.Discard}
	nn, err := node.Start(opts)
	if err != nil {
		t.Fatalf("restart node: %v", err)
	}
	t.Cleanup(func() { nn.Close() })
	return &Node{Node: nn, Dir: n.Dir, Client: apiclient.New(nn.APIURL(), nn.Token())}
}

// StartJoined makes a new device of the persona whose device showed code
// (node.Join on a fresh data directory) and starts it with the given
// overrides on top of loopback networking. It is closed when the test ends.
func StartJoined(t testing.TB, code, name string, overrides ...string) *Node {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := node.Join(ctx, dir, code, node.JoinOptions{Name: name}); err != nil {
		t.Fatalf("join: %v", err)
	}
	opts := node.Options{DataDir: dir, Overrides: append(append([]string{"api.listen=127.0.0.1:0"}, node.LoopbackNetwork...), overrides...), LogOutput: io.Discard}
	if os.Getenv("PEER_TEST_LOGS") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", dir[len(dir)-4:])
	}
	n, err := node.Start(opts)
	if err != nil {
		t.Fatalf("start joined node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return &Node{Node: n, Dir: dir, Client: apiclient.New(n.APIURL(), n.Token())}
}
