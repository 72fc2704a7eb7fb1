package matrix

import (
	"io"

	iprogress "github.com/hpcbench/hpcbench/internal/progress"
)

// progress shows runs done, failures and an ETA: a bar on a terminal, a
// line at most every 10 s elsewhere (a log file, a Slurm job's output);
// it is silent without a writer.
type progress struct {
	r *iprogress.Reporter
}

func newProgress(w io.Writer, total int, sum *Summary) *progress {
	return &progress{r: iprogress.New(w, total, "run", func() (int, int) {
		return sum.OK, sum.Failed + sum.Invalid + sum.Timeout
	})}
}

func (p *progress) step() { p.r.Add(1) }

// clear erases the bar so a log line can be printed on a clean line.
func (p *progress) clear() { p.r.Clear() }

func (p *progress) finish() { p.r.Finish() }
