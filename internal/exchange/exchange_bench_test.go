package exchange

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/p2p"
)

// The benchmarks run on real libp2p over loopback TCP, through the node's
// host (internal/p2p): Fetch and the Server use its network port
// (Host.Port), the raw-stream reference its libp2p host (Host.Host).

// newBenchHost starts a loopback host (TCP only, DHT and mDNS off),
// closed when the benchmark ends.
func newBenchHost(b *testing.B) *p2p.Host {
	b.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	h, err := p2p.New(b.Context(), key, p2p.Options{
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		DHT:         "off",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// benchProvider is a loopback host serving blocks.
type benchProvider struct {
	h   *p2p.Host
	id  netport.PeerID
	srv *Server
}

// newBenchProvider starts a host serving store to everyone and connects
// client to it.
func newBenchProvider(b *testing.B, client *p2p.Host, store blockstore.Getter, cfg ServerConfig) *benchProvider {
	b.Helper()
	h := newBenchHost(b)
	if cfg.Authorize == nil {
		cfg.Authorize = allowAll
	}
	srv := NewServer(h.Port(), store, cfg)
	b.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Host().Network().ListenAddresses()}); err != nil {
		b.Fatal(err)
	}
	return &benchProvider{h: h, id: h.Port().Self(), srv: srv}
}

// benchMiB is the amount each benchmark moves: PEER_BENCH_EXCHANGE_MB,
// default 256.
// benchUplinkMB is each provider's rate limit in providers-3-vs-1:
// PEER_BENCH_UPLINK_MB, default 32.
func benchUplinkMB() int {
	if v, err := strconv.Atoi(os.Getenv("PEER_BENCH_UPLINK_MB")); err == nil && v > 0 {
		return v
	}
	return 32
}

func benchMiB(b *testing.B) int {
	if s := os.Getenv("PEER_BENCH_EXCHANGE_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("PEER_BENCH_EXCHANGE_MB=%q", s)
		}
		return n
	}
	return 256
}

const rawProto = "/peer/bench-raw/1.0.0"

// rawThroughput writes mib MiB on one stream from client to server (which
// discards them and then closes) and returns MB/s.
func rawThroughput(b *testing.B, client, server host.Host, mib int) float64 {
	server.SetStreamHandler(rawProto, func(st network.Stream) {
		io.Copy(io.Discard, st)
		st.Close()
	})
	defer server.RemoveStreamHandler(rawProto)
	buf := make([]byte, 1<<20)
	start := time.Now()
	st, err := client.NewStream(context.Background(), server.ID(), rawProto)
	if err != nil {
		b.Fatal(err)
	}
	for range mib {
		if _, err := st.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	st.CloseWrite()
	io.Copy(io.Discard, st) // the server's close: everything arrived
	st.Close()
	return mbps(int64(mib)<<20, time.Since(start))
}

// openPackstore opens an empty packstore in a temporary directory, with its
// index in Pebble, as the node does.
func openPackstore(b *testing.B) *packstore.Store {
	dir := b.TempDir()
	index, err := pebblekv.Open(filepath.Join(dir, "index"), pebblekv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { index.Close() })
	s, err := packstore.Open(filepath.Join(dir, "blocks"), index, packstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func fetchOnce(b *testing.B, client *p2p.Host, d *dag, ids []netport.PeerID) time.Duration {
	return fetchInto(b, memstore.New(), client, d, ids)
}

func fetchInto(b *testing.B, local blockstore.Store, client *p2p.Host, d *dag, ids []netport.PeerID) time.Duration {
	start := time.Now()
	res, err := Fetch(context.Background(), client.Port(), local, d.request(), ids)
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	if res.Bytes != d.bytes {
		b.Fatalf("fetched %d bytes of %d", res.Bytes, d.bytes)
	}
	return el
}

// BenchmarkFetch fetches S MiB of 1 MiB blocks over loopback libp2p (TCP)
// through the network port and
// compares it with one raw stream carrying S MiB in the same run
// (ratio-vs-raw); sub-benchmark providers-3-vs-1 compares three providers
// with one (speedup).
func BenchmarkFetch(b *testing.B) {
	mib := benchMiB(b)
	d := makeDAG(b, mib, 1<<20)
	store := d.store(b)

	b.Run("vs-raw", func(b *testing.B) {
		client := newBenchHost(b)
		p := newBenchProvider(b, client, store, ServerConfig{})
		b.SetBytes(d.bytes)
		var fetchT time.Duration
		var raw float64
		b.ResetTimer()
		for range b.N {
			fetchT += fetchOnce(b, client, d, []netport.PeerID{p.id})
			b.StopTimer()
			raw += rawThroughput(b, client.Host(), p.h.Host(), mib)
			b.StartTimer()
		}
		fetch := mbps(d.bytes*int64(b.N), fetchT)
		raw /= float64(b.N)
		b.ReportMetric(fetch, "fetch-MB/s")
		b.ReportMetric(raw, "raw-MB/s")
		b.ReportMetric(fetch/raw, "ratio-vs-raw")
	})

	// As vs-raw, into the node's local store (packstore in a temporary
	// directory, its index in Pebble, flushed in the timed part) instead of
	// a memory store.
	b.Run("vs-raw-packstore", func(b *testing.B) {
		client := newBenchHost(b)
		p := newBenchProvider(b, client, store, ServerConfig{})
		b.SetBytes(d.bytes)
		var fetchT time.Duration
		var raw float64
		b.ResetTimer()
		for range b.N {
			local := openPackstore(b)
			start := time.Now()
			fetchInto(b, local, client, d, []netport.PeerID{p.id})
			if err := local.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			fetchT += time.Since(start)
			b.StopTimer()
			local.Close()
			raw += rawThroughput(b, client.Host(), p.h.Host(), mib)
			b.StartTimer()
		}
		fetch := mbps(d.bytes*int64(b.N), fetchT)
		raw /= float64(b.N)
		b.ReportMetric(fetch, "fetch-MB/s")
		b.ReportMetric(raw, "raw-MB/s")
		b.ReportMetric(fetch/raw, "ratio-vs-raw")
	})

	// Three providers against one, each provider limited to uplinkMB
	// MiB/s (ServerConfig.RateBytesPerSec, the node's share.rate_mb): the
	// case several providers are for, peers behind home uplinks far slower
	// than the fetcher's downlink. Unlimited providers on loopback in one
	// process measure only how the 2 cores are shared (one provider
	// already saturates them), not what a second provider adds.
	b.Run("providers-3-vs-1", func(b *testing.B) {
		client := newBenchHost(b)
		uplink := int64(benchUplinkMB()) << 20
		var ids []netport.PeerID
		for range 3 {
			ids = append(ids, newBenchProvider(b, client, store, ServerConfig{RateBytesPerSec: uplink}).id)
		}
		b.SetBytes(d.bytes)
		var one, three time.Duration
		b.ResetTimer()
		for range b.N {
			three += fetchOnce(b, client, d, ids)
			b.StopTimer()
			one += fetchOnce(b, client, d, ids[:1])
			b.StartTimer()
		}
		b.ReportMetric(mbps(d.bytes*int64(b.N), three), "3-providers-MB/s")
		b.ReportMetric(mbps(d.bytes*int64(b.N), one), "1-provider-MB/s")
		b.ReportMetric(one.Seconds()/three.Seconds(), "speedup")
		b.ReportMetric(float64(uplink>>20), "uplink-MiB/s")
	})
}
