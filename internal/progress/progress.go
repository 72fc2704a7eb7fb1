// Package progress reports how far a study is: a redrawn bar on a
// terminal, and on anything else (a log file, a Slurm job's output, a
// pipe) plain lines, "run 37/100, 36 ok, 1 failed, ETA 1m10s", one when a
// run finishes at most every Interval (and the first and the last), so
// that a log holds no carriage returns and at most one line per run.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Interval is the least time between two progress lines off a terminal.
const Interval = 10 * time.Second

// Counts says how many of the finished runs went well and how many did
// not; nil counts only the finished ones.
type Counts func() (ok, bad int)

// Reporter shows progress on a writer; a Reporter without one is silent.
type Reporter struct {
	w      io.Writer
	label  string
	total  int
	done   int
	counts Counts
	start  time.Time
	last   time.Time
	// bar is set on a terminal; without it progress goes in lines.
	bar *progressbar.ProgressBar
	// now is the clock (tests replace it).
	now func() time.Time
}

// IsTerminal reports whether w is a terminal (a bar can be redrawn there).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New reports progress of total runs on w, as a bar where w is a
// terminal and in lines elsewhere; label names what is counted ("run").
func New(w io.Writer, total int, label string, counts Counts) *Reporter {
	return newReporter(w, total, label, counts, IsTerminal(w))
}

// NewLines is New that writes lines whatever w is.
func NewLines(w io.Writer, total int, label string, counts Counts) *Reporter {
	return newReporter(w, total, label, counts, false)
}

func newReporter(w io.Writer, total int, label string, counts Counts, bar bool) *Reporter {
	r := &Reporter{label: label, total: total, counts: counts, now: time.Now}
	if w == nil || total == 0 {
		return r
	}
	r.w, r.start = w, r.now()
	if bar {
		r.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(r.describe()),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(0),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return r
}

// describe is the bar's description: the runs' outcomes so far.
func (r *Reporter) describe() string {
	if r.counts == nil {
		return r.label + "s"
	}
	ok, bad := r.counts()
	return fmt.Sprintf("%ss (%d ok, %d not ok)", r.label, ok, bad)
}

// Add counts n more finished runs.
func (r *Reporter) Add(n int) { r.Set(r.done + n) }

// Set says done runs have finished.
func (r *Reporter) Set(done int) {
	if r.w == nil || done == r.done {
		return
	}
	first := r.done == 0
	r.done = done
	if r.bar != nil {
		r.bar.Describe(r.describe())
		_ = r.bar.Set(done)
		return
	}
	now := r.now()
	if first || done >= r.total || now.Sub(r.last) >= Interval {
		r.last = now
		fmt.Fprintln(r.w, r.line(now))
	}
}

// line is "run 37/100, 36 ok, 1 failed, ETA 1m10s".
func (r *Reporter) line(now time.Time) string {
	s := fmt.Sprintf("%s %d/%d", r.label, r.done, r.total)
	if r.counts != nil {
		ok, bad := r.counts()
		s += fmt.Sprintf(", %d ok, %d failed", ok, bad)
	}
	elapsed := now.Sub(r.start)
	switch {
	case r.done >= r.total:
		s += ", took " + elapsed.Round(time.Second).String()
	case r.done > 0:
		eta := time.Duration(float64(elapsed) / float64(r.done) * float64(r.total-r.done))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// Clear erases the bar so that a log line can be printed on a clean line;
// lines need nothing erased.
func (r *Reporter) Clear() {
	if r.bar != nil {
		_ = r.bar.Clear()
	}
}

// Finish ends the bar (a line needs no end).
func (r *Reporter) Finish() {
	if r.bar != nil {
		_ = r.bar.Finish()
	}
}
