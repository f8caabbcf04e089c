package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// DefaultStall is Options.Stall when it is 0.
const DefaultStall = 40 * time.Second

// StallBytes is how much of a request body must arrive within each
// Options.Stall: a body slower than StallBytes per Stall (about 400 B/s
// with the defaults) is cut off.
const StallBytes = 16 << 10

// The listener's own timeouts cannot bound bodies and answers of any
// size: http.Server's ReadTimeout and WriteTimeout cover a whole request,
// which would cut a large upload or download and every event stream. So
// each request moves its connection's deadlines as data flows instead:
//
//   - a request body must bring StallBytes more within every Stall, until
//     its end (stallReader);
//   - each write of the answer, and each flush, must complete within Stall
//     (stallWriter); between writes there is no deadline, so a handler may
//     think as long as it needs.
//
// The deadlines are those of the connection (http.ResponseController), so
// a stalled client is disconnected, not merely answered.

// stallReader is a request body that moves the connection's read deadline
// forward each time StallBytes more have arrived, and drops it at the end.
type stallReader struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
	since int64 // bytes read since the deadline was last moved
	eof   bool
}

func newStallReader(body io.ReadCloser, rc *http.ResponseController, stall time.Duration) *stallReader {
	_ = rc.SetReadDeadline(time.Now().Add(stall)) // not supported by test recorders: no deadline
	return &stallReader{body: body, rc: rc, stall: stall}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	s.since += int64(n)
	switch {
	case err == io.EOF:
		if !s.eof {
			s.eof = true
			// The server now watches the connection for the client going
			// away; a deadline left here would end it after Stall.
			_ = s.rc.SetReadDeadline(time.Time{})
		}
	case err != nil:
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, Errorf(http.StatusRequestTimeout, apiv1.CodeBadRequest,
				"the request body stalled: less than %d bytes arrived in %v", StallBytes, s.stall)
		}
	case s.since >= StallBytes:
		s.since = 0
		_ = s.rc.SetReadDeadline(time.Now().Add(s.stall))
	}
	return n, err
}

func (s *stallReader) Close() error { return s.body.Close() }

// stallWriter gives each write and flush of an answer Stall to complete.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallWriter) Write(b []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	n, err := s.ResponseWriter.Write(b)
	_ = s.rc.SetWriteDeadline(time.Time{})
	return n, err
}

// FlushError is what http.ResponseController.Flush calls.
func (s *stallWriter) FlushError() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	err := s.rc.Flush()
	_ = s.rc.SetWriteDeadline(time.Time{})
	return err
}

func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
