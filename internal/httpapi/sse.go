package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

func errEOF() error { return io.EOF }

// events streams the bus as server-sent events. A client resumes after a
// break by sending the standard Last-Event-ID header (or ?since=ID); ?types=a,b
// limits the stream to those event types (a trailing '*' matches a prefix,
// as in "persona.*").
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.opts.Bus == nil {
		writeError(w, Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "this node has no event stream"))
		return
	}
	var since uint64
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("since")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "event ID %q is not a number", v))
			return
		}
		since = n
	}
	var match func(string) bool
	if t := r.URL.Query().Get("types"); t != "" {
		pats := strings.Split(t, ",")
		match = func(typ string) bool {
			for _, p := range pats {
				if p == typ || (strings.HasSuffix(p, "*") && strings.HasPrefix(typ, strings.TrimSuffix(p, "*"))) {
					return true
				}
			}
			return false
		}
	}
	// Subscribe before answering, so that nothing published after the
	// client sees the stream open is missed.
	ch := s.opts.Bus.Subscribe(r.Context(), since, match)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			body, _ := json.Marshal(apiv1.Event{ID: ev.ID, Type: ev.Type, Time: ev.Time, Data: ev.Data})
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, body); err != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
