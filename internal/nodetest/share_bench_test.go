package nodetest

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

const rawProto = "/peer-bench/raw/1.0.0"

// rawThroughput sends size bytes from one host to the other over one
// libp2p stream and returns bytes per second.
func rawThroughput(b *testing.B, from, to host.Host, size int64) float64 {
	b.Helper()
	to.SetStreamHandler(rawProto, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_, _ = s.Write([]byte{1})
		_ = s.Close()
	})
	defer to.RemoveStreamHandler(rawProto)
	ctx := Ctx(b, 10*time.Minute)
	if err := from.Connect(ctx, to.Peerstore().PeerInfo(to.ID())); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	s, err := from.NewStream(ctx, to.ID(), rawProto)
	if err != nil {
		b.Fatal(err)
	}
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := s.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
	_ = s.CloseWrite()
	if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	_ = s.Close()
	return float64(size) / time.Since(start).Seconds()
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// udpDatagrams is the host's count of UDP datagrams sent and received
// (/proc/net/snmp; 0 where it cannot be read): QUIC's packets on loopback,
// to compare how many each transfer needed.
func udpDatagrams() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		var n int64
		for i, name := range names {
			if (name == "InDatagrams" || name == "OutDatagrams") && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				n += v
			}
		}
		return n
	}
	return 0
}

// profileFetch writes a CPU profile of the timed fetch alone (both nodes)
// to $PEER_BENCH_SHARE_CPUPROFILE-<mode>, and of the raw stream to
// ...-raw-<mode>, when that is set; run without
// -cpuprofile then, which would profile the setup too.
func profileFetch(b *testing.B, mode string) (stop func()) {
	prefix := os.Getenv("PEER_BENCH_SHARE_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "-" + mode)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// BenchmarkShareFetch: B fetches a MiMei of PEER_BENCH_SHARE_MB MiB
// (default 1024) from A over loopback through the whole node (catalog, key
// record, block exchange, sealing on A and opening on B for a shared
// MiMei, pack store writes, import), against one raw libp2p stream between
// the same two hosts carrying the same bytes in the same run, just before
// and just after the fetch (the mean is the reference).
func BenchmarkShareFetch(b *testing.B) {
	opts := []string{noDHT, "share.rate_mb=0", "share.address_rate_mb=0", "share.total_rate_mb=0"}
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("PEER_BENCH_SHARE_MB")); err == nil && v > 0 {
		mb = v
	}
	size := int64(mb) << 20
	for _, mode := range []string{"shared", "public"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				// The serving limits (on by default, sized for a home
				// uplink) are lifted: this measures the fetch path itself.
				a, bn := Start(b, opts...), Start(b, opts...)
				befriend(b, a, bn)
				ctx := Ctx(b, 30*time.Minute)
				m, err := a.Client.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.Client.PutFile(ctx, m.ID, "big.bin", io.LimitReader(rand.Reader, size), size, apiclient.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				if _, err := a.Client.Backup(ctx, m.ID, ""); err != nil {
					b.Fatal(err)
				}
				req := apiv1.ShareRequest{With: bn.Persona()}
				if mode == "public" {
					req = apiv1.ShareRequest{Public: true}
				}
				if _, err := a.Client.Share(ctx, m.ID, req); err != nil {
					b.Fatal(err)
				}
				// The raw stream is measured before and after the fetch and
				// the fetch compared with the mean: on a shared machine one
				// raw figure alone swings by ±15% from run to run.
				stopProfile := profileFetch(b, "raw-"+mode)
				cpu0, udp0 := cpuTime(), udpDatagrams()
				rawBefore := rawThroughput(b, a.Host().Host(), bn.Host().Host(), size)
				rawCPU, rawUDP := cpuTime()-cpu0, udpDatagrams()-udp0
				stopProfile()
				evs := bn.Events().Subscribe(ctx, 0, func(typ string) bool { return typ == "share.received" })
				stopProfile = profileFetch(b, mode)
				cpu0, udp0 = cpuTime(), udpDatagrams()
				b.StartTimer()
				start := time.Now()
				res, err := bn.Client.Fetch(ctx, m.ID, apiv1.FetchRequest{Owner: a.Persona()})
				el := time.Since(start)
				b.StopTimer()
				fetchCPU, fetchUDP := cpuTime()-cpu0, udpDatagrams()-udp0
				stopProfile()
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Versions) != 1 || res.Versions[0].Fetched == 0 {
					b.Fatalf("fetched %+v", res)
				}
				rawAfter := rawThroughput(b, a.Host().Host(), bn.Host().Host(), size)
				raw := (rawBefore + rawAfter) / 2
				got := float64(res.Versions[0].Bytes) / el.Seconds()
				b.ReportMetric(got/1e6, "fetch-MB/s")
				b.ReportMetric(raw/1e6, "raw-MB/s")
				b.ReportMetric(got/raw, "ratio-vs-raw")
				fmt.Fprintf(os.Stderr, "%s %d MiB: fetch %.0f MB/s, raw stream %.0f MB/s (%.0f before, %.0f after), ratio %.2f\n",
					mode, mb, got/1e6, raw/1e6, rawBefore/1e6, rawAfter/1e6, got/raw)
				// CPU time of the process (both nodes) per GiB moved: what
				// the ratio is made of on a CPU-bound machine, and steadier
				// than the ratio when other jobs share the cores.
				gib := float64(size) / (1 << 30)
				fmt.Fprintf(os.Stderr, "  CPU per GiB: fetch %.2f s, raw stream (before) %.2f s; UDP datagrams per MiB: fetch %.0f, raw stream %.0f\n",
					fetchCPU.Seconds()/gib, rawCPU.Seconds()/gib, float64(fetchUDP)/float64(mb), float64(rawUDP)/float64(mb))
				select {
				case ev := <-evs:
					fmt.Fprintf(os.Stderr, "  whole fetch %v; %s\n", el.Round(time.Millisecond), ev.Data)
				default:
				}
				a.Close()
				bn.Close()
			}
		})
	}
}
