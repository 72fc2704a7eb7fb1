package matrix

import (
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"
)

// progress shows runs done, failures and an ETA; it is silent without a writer.
type progress struct {
	bar *progressbar.ProgressBar
	sum *Summary
}

func newProgress(w io.Writer, total int, sum *Summary) *progress {
	p := &progress{sum: sum}
	if w == nil || total == 0 {
		return p
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(0),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return p
}

func (p *progress) describe() string {
	bad := p.sum.Failed + p.sum.Invalid + p.sum.Timeout
	return fmt.Sprintf("runs (%d ok, %d not ok)", p.sum.OK, bad)
}

func (p *progress) step() {
	if p.bar == nil {
		return
	}
	p.bar.Add(1)
	p.bar.Describe(p.describe())
}

// clear erases the bar so a log line can be printed on a clean line.
func (p *progress) clear() {
	if p.bar != nil {
		p.bar.Clear()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
