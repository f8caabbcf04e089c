// Package apiclient is the Go client of the node's HTTP API. The CLI uses it
// for everything it asks of a running node, and so do tests: nothing reaches
// the node by another path.
//
// Edge package: cmd/peer, node tests and test harnesses import it.
package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/datadir"
)

// maxResponse bounds a JSON answer the client will read.
const maxResponse = 16 << 20

// Error is a non-2xx answer from the node.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// ErrNotRunning says no node is running on the data directory.
var ErrNotRunning = datadir.ErrNotRunning

// Client talks to one node.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for the API at base (e.g. "http://127.0.0.1:7357")
// that authenticates with token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// FromDataDir finds the node running on a data directory (through the
// runtime file it writes at start) and reads its token.
func FromDataDir(dir string) (*Client, error) {
	rt, running := datadir.ProbeRunning(dir)
	if !running {
		return nil, fmt.Errorf("no node is running on %s: start one with `peer up`: %w", dir, ErrNotRunning)
	}
	tok, err := os.ReadFile(datadir.TokenPath(dir))
	if err != nil {
		return nil, fmt.Errorf("read API token: %w", err)
	}
	return New(rt.API, strings.TrimSpace(string(tok))), nil
}

// BaseURL is the API address the client talks to.
func (c *Client) BaseURL() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.send(ctx, c.hc, method, path, in, out)
}

// send is do with a chosen HTTP client: c.hc bounds the whole exchange
// with a timeout, c.long() only with ctx.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.exchange(hc, req, out)
}

// exchange sends req and decodes the JSON answer into out (if not nil), or
// the error answer into an *Error.
func (c *Client) exchange(hc *http.Client, req *http.Request, out any) error {
	path := req.URL.Path
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return err
	}
	if len(data) > maxResponse {
		return fmt.Errorf("answer from %s exceeds %d bytes", path, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		var e apiv1.Error
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			e = apiv1.Error{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(data))}
		}
		return &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer from %s: %w", path, err)
	}
	return nil
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (apiv1.Status, error) {
	var s apiv1.Status
	return s, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &s)
}

// Identity returns the default persona, the device and all personas.
func (c *Client) Identity(ctx context.Context) (apiv1.Identity, error) {
	var id apiv1.Identity
	return id, c.do(ctx, http.MethodGet, "/api/v1/identity", nil, &id)
}

// Personas lists the node's personas.
func (c *Client) Personas(ctx context.Context) ([]apiv1.Persona, error) {
	var ps apiv1.Personas
	err := c.do(ctx, http.MethodGet, "/api/v1/personas", nil, &ps)
	return ps.Personas, err
}

// Persona shows one persona by its did:key or name.
func (c *Client) Persona(ctx context.Context, ref string) (apiv1.Persona, error) {
	var p apiv1.Persona
	return p, c.do(ctx, http.MethodGet, "/api/v1/personas/"+url.PathEscape(ref), nil, &p)
}

// NewPersona creates a persona; name may be empty.
func (c *Client) NewPersona(ctx context.Context, name string) (apiv1.Persona, error) {
	var p apiv1.Persona
	return p, c.do(ctx, http.MethodPost, "/api/v1/personas", apiv1.NewPersona{Name: name}, &p)
}

// DeviceCert returns the certificate a persona issued for this device.
func (c *Client) DeviceCert(ctx context.Context, ref string) (apiv1.DeviceCert, error) {
	var dc apiv1.DeviceCert
	return dc, c.do(ctx, http.MethodGet, "/api/v1/personas/"+url.PathEscape(ref)+"/certificate", nil, &dc)
}

// Healthz reports whether the node answers its health check.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// maxEventLine bounds one line of the event stream.
const maxEventLine = 1 << 20

// Events subscribes to the event stream after event ID since (0 = only new
// events), optionally limited to types. The channel closes when ctx ends or
// the stream breaks; the caller may resubscribe from the last ID it saw.
func (c *Client) Events(ctx context.Context, since uint64, types ...string) (<-chan apiv1.Event, error) {
	path := "/api/v1/events"
	if len(types) > 0 {
		path += "?types=" + url.QueryEscape(strings.Join(types, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if since > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(since, 10))
	}
	hc := *c.hc
	hc.Timeout = 0 // a stream lives as long as ctx
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e apiv1.Error
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&e)
		return nil, &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	ch := make(chan apiv1.Event, 16)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), maxEventLine)
		var data []byte
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case len(line) == 0:
				if len(data) > 0 {
					var ev apiv1.Event
					if json.Unmarshal(data, &ev) == nil {
						select {
						case ch <- ev:
						case <-ctx.Done():
							return
						}
					}
					data = data[:0]
				}
			case bytes.HasPrefix(line, []byte("data:")):
				data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
			}
		}
	}()
	return ch, nil
}

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
