package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// trickle opens a connection, sends a chunked PUT's header (with auth if
// given) and then one byte of body every 20 ms until the test ends. It
// returns the connection, to read the answer from.
func trickle(t *testing.T, base, path, auth string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hdr := "PUT " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n"
	if auth != "" {
		hdr += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, hdr+"\r\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := io.WriteString(conn, "1\r\nx\r\n"); err != nil {
					return
				}
			}
		}
	}()
	return conn
}

// TestTrickledBodyUnauthenticated: a request without credentials is
// answered 401 at once, while its body is still trickling in, and the
// connection is closed rather than drained.
func TestTrickledBodyUnauthenticated(t *testing.T) {
	ts := httpapitest.Serve(t, httpapi.Options{Store: httpapitest.NewStore()})
	conn := trickle(t, ts.URL, "/api/v1/mimei/mm0001/files/f", "")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body trickles: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("status %d, close %v; want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestTrickledBodyCut: an authenticated body arriving slower than
// StallBytes per Stall is cut off within about Stall.
func TestTrickledBodyCut(t *testing.T) {
	const stall = 300 * time.Millisecond
	store := httpapitest.NewStore()
	ts := httpapitest.Serve(t, httpapi.Options{Store: store, Stall: stall})
	c := client{t, ts.URL}
	id := c.create()
	start := time.Now()
	conn := trickle(t, ts.URL, "/api/v1/mimei/"+id+"/files/f", "Bearer "+httpapitest.Token)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	// An answer, if any, then the close (a reset, as the client's bytes
	// are left unread).
	_, err := io.Copy(io.Discard, conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the connection was not closed: %v", err)
	}
	if d := time.Since(start); d > stall+2*time.Second {
		t.Fatalf("cut after %v; Stall is %v", d, stall)
	}
}

// paced is a body of n bytes sent in 16 KiB pieces, one per tick.
type paced struct {
	n    int
	tick *time.Ticker
}

func (p *paced) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	<-p.tick.C
	k := min(len(b), p.n, 16<<10)
	for i := range b[:k] {
		b[i] = 'a'
	}
	p.n -= k
	return k, nil
}

// TestSteadyUploadNotCut: an upload lasting many times Stall, at a steady
// rate above StallBytes per Stall, completes; so does an authenticated
// request with a body that ends at once.
func TestSteadyUploadNotCut(t *testing.T) {
	const stall = 200 * time.Millisecond
	ts := httpapitest.Serve(t, httpapi.Options{Store: httpapitest.NewStore(), Stall: stall})
	c := client{t, ts.URL}
	id := c.create()
	tick := time.NewTicker(20 * time.Millisecond) // 16 KiB per 20 ms: 800 KiB/s
	defer tick.Stop()
	const size = 64 * 16 << 10 // 1 MiB: about 1.3 s, over six times Stall
	start := time.Now()
	c.want(201, "", nil, "PUT", "/api/v1/mimei/"+id+"/files/big", &paced{n: size, tick: tick})
	if d := time.Since(start); d < 3*stall {
		t.Fatalf("the upload took %v: too fast to show anything", d)
	}
	_, data := c.do("GET", "/api/v1/mimei/"+id+"/files/big", nil)
	if !bytes.Equal(data, bytes.Repeat([]byte("a"), size)) {
		t.Fatalf("stored %d bytes, want %d", len(data), size)
	}
	// Keep-alive connections are reused: the deadlines of one request
	// must not cut the next (this one waits longer than Stall first).
	wait := time.NewTimer(2 * stall)
	<-wait.C
	c.want(200, "", nil, "GET", "/api/v1/mimei/"+id+"/ls", nil)
}
