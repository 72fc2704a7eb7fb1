package slurm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
)

// outputLimit bounds the output kept per run, as in a local study.
const outputLimit = 16 << 20

// RecordOptions describe one finished run inside a job.
type RecordOptions struct {
	// Manifest is the job's DIR/<job>.runs.json; ID the run in it.
	Manifest string
	ID       string
	// ExitStatus is srun's; Start and End are Unix times in seconds (as
	// "date +%s.%N" prints them).
	ExitStatus int
	Start, End float64
	// Output is the run's output file; empty takes the manifest's.
	Output string
	// JobID is the Slurm job id; empty takes $SLURM_JOB_ID.
	JobID string
}

// Record judges one run's output the way a local study does and writes the
// run, as one line of JSON (results.Run, as "hpcbench results export
// --json" writes it), to the run's result file. It runs inside the job, on
// the compute node: the host recorded is that node.
func Record(opts RecordOptions) (*results.Run, error) {
	j, err := LoadJob(opts.Manifest)
	if err != nil {
		return nil, err
	}
	var r *Run
	for i := range j.Runs {
		if j.Runs[i].ID == opts.ID {
			r = &j.Runs[i]
		}
	}
	if r == nil {
		return nil, fmt.Errorf("%s: no run %q in job %s", opts.Manifest, opts.ID, j.Name)
	}
	outPath := opts.Output
	if outPath == "" {
		outPath = r.Output
	}
	out, readErr := readLimited(outPath, outputLimit)
	jobID := opts.JobID
	if jobID == "" {
		jobID = os.Getenv("SLURM_JOB_ID")
	}
	start, end := unixTime(opts.Start), unixTime(opts.End)
	run := &results.Run{
		Study:      j.Study,
		Host:       results.ThisHost(),
		Cell:       r.Stored,
		Repetition: r.Cell.Repetition,
		Warmup:     r.Cell.Warmup,
		Order:      r.Order,
		Seed:       j.Seed,
		Argv:       r.Srun,
		Env:        results.FilterEnv(append(os.Environ(), r.Env...)),
		Output:     out,
		Started:    start,
		Finished:   end,
		SlurmJobID: jobID,
		Choices:    map[string]string{},
	}
	for k, v := range r.Choices {
		run.Choices[k] = v
	}
	if nodes := os.Getenv("SLURM_JOB_NODELIST"); nodes != "" {
		run.Choices["slurm_nodes"] = nodes
	}
	o := matrix.Outcome{Argv: r.Srun, ExitStatus: opts.ExitStatus, Wall: end.Sub(start)}
	o.TimedOut, o.Reason = srunFailure(out, opts.ExitStatus, r.Cell.Timeout)
	if readErr != nil {
		run.Status, run.Reason = results.StatusFailed, fmt.Sprintf("the run's output %s cannot be read: %v", outPath, readErr)
		run.Wall = o.Wall
	} else {
		matrix.JudgeOutcome(run, r.Cell, o, r.Work)
	}
	var b bytes.Buffer
	if err := results.Export(&b, []results.Run{*run}, results.ExportJSON); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(r.Result, b.Bytes()); err != nil {
		return nil, fmt.Errorf("run %s of job %s: %w", r.ID, j.Name, err)
	}
	return run, nil
}

// srunFailure reads why srun failed from what it printed: a step killed at
// its time limit is a timeout, a cancelled step says so.
func srunFailure(out []byte, status int, limit time.Duration) (timedOut bool, reason string) {
	if status == 0 {
		return false, ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(line, "DUE TO TIME LIMIT"):
			return true, fmt.Sprintf("timeout after %s (srun --time): %s", limit, strings.TrimSpace(line))
		case strings.Contains(line, "CANCELLED"):
			return false, "srun: " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "srun:"))
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "srun: error:") && strings.Contains(strings.ToLower(line), "exited with exit code") {
			return false, fmt.Sprintf("srun exited with status %d (%s)", status, strings.TrimSpace(strings.TrimPrefix(line, "srun: error:")))
		}
	}
	return false, fmt.Sprintf("srun exited with status %d", status)
}

func unixTime(sec float64) time.Time {
	if sec <= 0 {
		return time.Now()
	}
	s := int64(sec)
	return time.Unix(s, int64((sec-float64(s))*1e9))
}

// ParseUnixTime reads "date +%s.%N" output.
func ParseUnixTime(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a Unix time in seconds (date +%%s.%%N)", s)
	}
	return v, nil
}

// readLimited reads at most limit bytes of path and notes what it left out.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		b = append(b, fmt.Sprintf("\n[hpcbench: %d more bytes of output dropped]\n", st.Size()-limit)...)
	}
	return b, nil
}

// readRun reads a result file written by Record.
func readRun(path string) (*results.Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r results.Run
	if err := json.Unmarshal(bytes.TrimSpace(b), &r); err != nil {
		return nil, fmt.Errorf("%s: not a run written by hpcbench slurm record: %w", path, err)
	}
	return &r, nil
}
