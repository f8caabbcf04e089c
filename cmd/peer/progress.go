package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressMin is the transfer size below which no progress bar is drawn:
// small transfers end before one would help.
const progressMin = 4 << 20

// progress draws one line of transfer progress (bytes done of total,
// percent, rate), redrawn at most ten times a second with a carriage
// return. A nil *progress draws nothing, so callers need not check.
type progress struct {
	w     io.Writer
	label string
	total int64 // -1 if unknown
	now   func() time.Time

	mu    sync.Mutex
	done  int64
	start time.Time
	last  time.Time
	width int // length of the last line drawn, to blank leftovers
}

// newProgress returns a progress bar for a transfer of total bytes (-1:
// unknown) if standard error is a terminal, --json is off and the transfer
// is big enough (or of unknown size); nil otherwise.
func (a *app) newProgress(label string, total int64) *progress {
	if !a.progressShown() || (total >= 0 && total < progressMin) {
		return nil
	}
	return newProgressTo(a.stderr, label, total, time.Now)
}

func newProgressTo(w io.Writer, label string, total int64, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, label: shownName(label), total: total, now: now, start: t}
}

func (p *progress) add(n int) {
	if p == nil || n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	if t := p.now(); t.Sub(p.last) >= 100*time.Millisecond {
		p.last = t
		p.draw(t)
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.now())
	fmt.Fprintln(p.w)
}

// note prints s on a line of its own above the bar (or alone, with no
// bar), then redraws the bar.
func (p *progress) note(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if n := p.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s\n", s, pad)
	p.width = 0
	p.draw(p.now())
}

func (p *progress) draw(t time.Time) {
	line := p.line(p.done, t.Sub(p.start))
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// line renders the progress after elapsed time, e.g.
// "photo.jpg  12.0 MiB / 48.0 MiB  25%  4.0 MiB/s".
func (p *progress) line(done int64, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(p.label)
	b.WriteString("  ")
	b.WriteString(fmtBytes(done))
	if p.total >= 0 {
		pct := 100
		if p.total > 0 {
			pct = int(min(done, p.total) * 100 / p.total)
		}
		fmt.Fprintf(&b, " / %s  %3d%%", fmtBytes(p.total), pct)
	}
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, "  %s/s", fmtBytes(int64(float64(done)/s)))
	}
	return b.String()
}

// countingReader reports the bytes read through it to a progress bar.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}

// countingWriter reports the bytes written through it to a progress bar.
type countingWriter struct {
	w io.Writer
	p *progress
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.add(n)
	return n, err
}

// readerWith and writerWith wrap a stream in a counter only when there is a
// progress bar to feed.
func readerWith(r io.Reader, p *progress) io.Reader {
	if p == nil {
		return r
	}
	return countingReader{r, p}
}

func writerWith(w io.Writer, p *progress) io.Writer {
	if p == nil {
		return w
	}
	return countingWriter{w, p}
}

// fmtBytes renders a byte count in binary units: "512 B", "1.5 KiB".
func fmtBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}
