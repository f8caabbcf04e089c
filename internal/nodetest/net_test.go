package nodetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

const noDHT = "network.dht=off"

// cluster starts a DHT of n nodes bootstrapped from the first and waits
// until every node has published its record.
func cluster(t testing.TB, n int) []*Node {
	t.Helper()
	boot := Start(t, "network.dht=server")
	rest := StartN(t, n-1, "network.dht=server", Bootstrap(boot))
	all := append([]*Node{boot}, rest...)
	var wg sync.WaitGroup
	for _, nd := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Await(t, 60*time.Second, "publish "+nd.Persona(), func() error { return nd.Republish(context.Background()) })
		}()
	}
	wg.Wait()
	return all
}

// TestDHTResolveAndPing: nodes bootstrapped from one resolve every other
// persona ID through the DHT alone and ping it.
func TestDHTResolveAndPing(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 8
	}
	all := cluster(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, n*n)
	for i, a := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, b := range all {
				if i == j {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				r, err := a.Client.Ping(ctx, b.Persona())
				cancel()
				if err != nil {
					errs <- fmt.Errorf("node %d → node %d: %w", i, j, err)
					continue
				}
				if r.RTTMs <= 0 || r.Relayed {
					errs <- fmt.Errorf("node %d → node %d: %+v", i, j, r)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkResolve30 reports the median and 95th-percentile time for one
// node to resolve another's persona ID from scratch through the DHT, in a
// cluster of 30 nodes bootstrapped from one.
func BenchmarkResolve30(b *testing.B) {
	all := cluster(b, 30)
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, t := all[i%len(all)], all[(i*7+3)%len(all)]
		if a == t {
			t = all[(i+1)%len(all)]
		}
		start := time.Now()
		src, err := a.Resolve(context.Background(), t.Persona(), true)
		if err != nil || src != "dht" {
			b.Fatalf("resolve: %q, %v", src, err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
}

// TestIndexPath: with the DHT off, a persona resolves through an index
// peer; with two indexes configured and one gone, lookups still succeed.
func TestIndexPath(t *testing.T) {
	ix1 := Start(t, noDHT, "network.index=true")
	ix2 := Start(t, noDHT, "network.index=true")
	a := Start(t, noDHT, Indexes(ix1, ix2))
	Await(t, 20*time.Second, "publish to the indexes", func() error { return a.Republish(context.Background()) })
	b := Start(t, noDHT, Indexes(ix1))
	r, err := b.Client.Ping(Ctx(t, 20*time.Second), a.Persona())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Source, "index ") {
		t.Fatalf("found through %q", r.Source)
	}
	ix1.Close()
	c := Start(t, noDHT, Indexes(ix1, ix2))
	if r, err := c.Client.Ping(Ctx(t, 20*time.Second), a.Persona()); err != nil || !strings.Contains(r.Source, ix2.Device()) {
		t.Fatalf("with one index gone: %+v, %v", r, err)
	}
	st, err := ix2.Client.Net(Ctx(t, 5*time.Second))
	if err != nil || !st.Index || st.IndexEntries < 1 {
		t.Fatalf("index status %+v, %v", st, err)
	}
}

// befriend makes a and b contacts through an invite from a.
func befriend(t testing.TB, a, b *Node) apiv1.Contact {
	t.Helper()
	inv, err := a.Client.CreateInvite(Ctx(t, 10*time.Second), time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Client.AcceptInvite(Ctx(t, 30*time.Second), inv.Link, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContactPath: with no DHT and no index, A finds B by asking its
// contact C, who knows where B is.
func TestContactPath(t *testing.T) {
	a, b, c := Start(t, noDHT), Start(t, noDHT), Start(t, noDHT)
	befriend(t, c, a) // a and c are contacts
	befriend(t, b, c) // c knows b (and fetched its record)
	r, err := a.Client.Ping(Ctx(t, 20*time.Second), b.Persona())
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != "contact "+c.Device() {
		t.Fatalf("found through %q, want contact %s", r.Source, c.Device())
	}
}

// TestInvites: an invite works once, both sides become contacts (and see
// each other online); a second use, an expired one and a tampered one are
// refused.
func TestInvites(t *testing.T) {
	a, b, c := Start(t, noDHT), Start(t, noDHT), Start(t, noDHT)
	ctx := Ctx(t, 60*time.Second)
	inv, err := a.Client.CreateInvite(ctx, time.Hour, "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Client.AcceptInvite(ctx, inv.Link, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Persona != a.Persona() || got.Name != "alice" {
		t.Fatalf("b's new contact: %+v", got)
	}
	Await(t, 10*time.Second, "a lists b as an online contact", func() error {
		cs, err := a.Client.Contacts(ctx)
		if err != nil {
			return err
		}
		if len(cs) != 1 || cs[0].Persona != b.Persona() || !cs[0].Online {
			return fmt.Errorf("contacts %+v", cs)
		}
		return nil
	})
	// Once only.
	if _, err := c.Client.AcceptInvite(ctx, inv.Link, ""); !apiclient.IsCode(err, apiv1.CodeUnreachable) && !apiclient.IsCode(err, apiv1.CodeInviteUsed) {
		t.Fatalf("second use: %v", err)
	}
	if cs, _ := a.Client.Contacts(ctx); len(cs) != 1 {
		t.Fatalf("a has %d contacts after a refused second use", len(cs))
	}
	// Tampered.
	inv2, err := a.Client.CreateInvite(ctx, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	link := []byte(inv2.Link)
	i := len(link) - 7
	if link[i] == 'x' {
		link[i] = 'y'
	} else {
		link[i] = 'x'
	}
	if _, err := c.Client.AcceptInvite(ctx, string(link), ""); !apiclient.IsCode(err, apiv1.CodeBadInvite) {
		t.Fatalf("tampered invite: %v", err)
	}
	// Expired.
	inv3, err := a.Client.CreateInvite(ctx, time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	Await(t, 5*time.Second, "the invite expires", func() error {
		if time.Now().Before(inv3.Expires.Add(10 * time.Millisecond)) {
			return fmt.Errorf("expires at %v", inv3.Expires)
		}
		return nil
	})
	if _, err := c.Client.AcceptInvite(ctx, inv3.Link, ""); !apiclient.IsCode(err, apiv1.CodeInviteExpired) {
		t.Fatalf("expired invite: %v", err)
	}
}

// TestBlock: a blocked peer cannot reach us at all; unblocking lets it.
func TestBlock(t *testing.T) {
	a, b := Start(t, noDHT), Start(t, noDHT)
	befriend(t, a, b)
	ctx := Ctx(t, 60*time.Second)
	if _, err := b.Client.Ping(ctx, a.Persona()); err != nil {
		t.Fatal(err)
	}
	if err := a.Client.Block(ctx, b.Persona()); err != nil {
		t.Fatal(err)
	}
	Await(t, 10*time.Second, "b cut off", func() error {
		if _, err := b.Client.Ping(ctx, a.NetAddrs()[0]); err == nil {
			return fmt.Errorf("b still pings a")
		}
		return nil
	})
	if _, err := a.Client.Ping(ctx, b.Persona()); !apiclient.IsCode(err, apiv1.CodeBlocked) {
		t.Fatalf("a pinging blocked b: %v", err)
	}
	if err := a.Client.Unblock(ctx, b.Persona()); err != nil {
		t.Fatal(err)
	}
	Await(t, 10*time.Second, "b reaches a again", func() error {
		_, err := b.Client.Ping(ctx, a.NetAddrs()[0])
		return err
	})
}
