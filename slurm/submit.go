package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/progress"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/sentinel"
)

// SubmitOptions describe a study run through Slurm.
type SubmitOptions struct {
	Gen   GenOptions
	Store *results.Store
	// Poll is how often squeue, scontrol and the exit-status files are
	// looked at (default 5s).
	Poll time.Duration
	// Progress receives a progress bar of runs with results; nil shows none.
	Progress io.Writer
	// Log receives job state changes and failed runs; nil discards them.
	Log io.Writer
}

// Summary is what a submitted study did.
type Summary struct {
	Study    string
	Dir      string
	Jobs     map[string]string // job name -> Slurm job id
	Imported int
	OK       int
	NotOK    int // invalid, failed or timed out, jobs that ended early included
	Skipped  int
}

func (s *Summary) String() string {
	ids := make([]string, 0, len(s.Jobs))
	for name, id := range s.Jobs {
		ids = append(ids, name+"="+id)
	}
	sort.Strings(ids)
	return fmt.Sprintf("study %s: %d runs imported (%d ok, %d not ok) from Slurm jobs %s, %d cells skipped",
		s.Study, s.Imported, s.OK, s.NotOK, strings.Join(ids, " "), s.Skipped)
}

// ErrInterrupted: the watch was interrupted; the jobs go on, and
// "hpcbench slurm collect" imports them later.
var ErrInterrupted = sentinel.ErrInterrupted

// StudyName is the name the runs were stored under.
func (s *Summary) StudyName() string { return s.Study }

// Executor runs a matrix.Plan through Slurm: Submit as a matrix.Executor.
// Its Store is the one Run is given.
type Executor struct{ SubmitOptions }

// Run submits the study's jobs, watches them and imports their results
// into store.
func (e *Executor) Run(ctx context.Context, study *matrix.Plan, store *results.Store) (matrix.StudyResult, error) {
	opts := e.SubmitOptions
	opts.Store = store
	sum, err := Submit(ctx, study, opts)
	if sum == nil {
		return nil, err
	}
	return sum, err
}

// DefaultDir is where the scripts of a study go when no folder is given:
// hpcbench-slurm/STUDY, relative to the folder hpcbench runs in.
func DefaultDir(study string) string {
	return filepath.Join("hpcbench-slurm", study)
}

// Submit generates the study's scripts (in opts.Gen.Dir, else
// DefaultDir), submits each with "sbatch --parsable", watches the jobs
// until each has ended (its exit-status file appeared, or it left squeue),
// and imports every job's results as it ends.
func Submit(ctx context.Context, study *matrix.Plan, opts SubmitOptions) (*Summary, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("slurm: no store")
	}
	if study == nil {
		return nil, fmt.Errorf("slurm: no study")
	}
	if opts.Gen.Dir == "" {
		// The study's name becomes a folder name: never one outside
		// hpcbench-slurm/ ("../../x").
		if err := configs.CheckStudyName(study.Study); err != nil {
			return nil, fmt.Errorf("slurm: study name: %w: %w", ErrUnsafe, err)
		}
		opts.Gen.Dir = DefaultDir(study.Study)
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	opts.Gen.Log = log
	plan, err := Generate(ctx, study, opts.Gen)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Study: plan.Study, Dir: plan.Dir, Jobs: map[string]string{}, Skipped: len(plan.Skipped)}
	if err := createStudy(ctx, opts.Store, study.Config, plan); err != nil {
		return sum, err
	}
	watched := make([]*watchedJob, 0, len(plan.Jobs))
	for _, j := range plan.Jobs {
		id, err := Sbatch(ctx, j.Script)
		if err != nil {
			for _, w := range watched {
				fmt.Fprintf(log, "job %s (%s) was submitted and goes on; cancel it with: scancel %s\n", w.id, w.job.Name, w.id)
			}
			return sum, err
		}
		sum.Jobs[j.Name] = id
		fmt.Fprintf(log, "submitted %s as Slurm job %s (%d runs)\n", filepath.Base(j.Script), id, len(j.Runs))
		watched = append(watched, &watchedJob{job: j, id: id})
	}
	if err := writeJSON(filepath.Join(plan.Dir, "jobs.json"), sum.Jobs); err != nil {
		return sum, err
	}

	bar := newBar(opts.Progress, plan.Runs())
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	for {
		open := 0
		done := 0
		for _, w := range watched {
			if !w.ended {
				w.poll(ctx, log, bar)
			}
			if w.ended && !w.imported {
				st, err := importJob(ctx, opts.Store, plan.Host, w.job, w.id, w.end)
				if err != nil {
					return sum, err
				}
				w.imported = true
				sum.Imported += st.added
				sum.OK += st.ok
				sum.NotOK += st.notOK
				for _, line := range st.notes {
					bar.clear()
					fmt.Fprintln(log, line)
				}
			}
			if !w.ended {
				open++
			}
			done += countResults(w.job)
		}
		bar.set(done)
		if open == 0 {
			bar.finish()
			return sum, nil
		}
		select {
		case <-ctx.Done():
			bar.finish()
			return sum, fmt.Errorf("%w while watching %d job(s); they go on: import them later with: hpcbench slurm collect --db %s --study %s %s",
				ErrInterrupted, open, opts.Store.Path(), plan.Study, plan.Dir)
		case <-tick.C:
		}
	}
}

// createStudy records the study and its skipped cells.
func createStudy(ctx context.Context, st *results.Store, cfg *configs.Config, plan *Plan) error {
	err := st.CreateStudy(ctx, results.Study{Name: plan.Study, Seed: plan.Seed, Config: string(cfg.Source), Version: buildinfo.String()})
	if err != nil {
		return err
	}
	for _, s := range plan.Skipped {
		if err := st.AddSkip(ctx, results.Skip{Study: plan.Study, Host: plan.Host.Hostname, Cell: storedSkip(s.Cell), Reason: s.Reason}); err != nil {
			return err
		}
	}
	return nil
}

func storedSkip(c matrix.Cell) results.Cell {
	return results.Cell{Key: c.Key(), Benchmark: c.Benchmark, Kind: string(c.Kind), Class: c.Class, MPI: c.MPI, PMI: string(c.PMI),
		Runtime: c.RuntimeLabel, Image: c.Image, Layout: string(c.Layout), Ranks: c.Ranks, Bind: c.Bind, Oversubscribed: c.Oversubscribed}
}

// Sbatch submits script and returns the Slurm job id.
func Sbatch(ctx context.Context, script string) (string, error) {
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", script)
	cmd.Dir = filepath.Dir(script)
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("sbatch %s: %s (check the partition, account and time in [slurm], or --partition/--account/--time)", script, msg)
	}
	// --parsable prints "id" or "id;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch %s: unexpected answer %q", script, out)
	}
	return id, nil
}

// JobEnd is how a job ended, as far as the submitting host can tell.
type JobEnd struct {
	// ExitStatus is what the job wrote to its exit-status file; -1 if it
	// wrote none.
	ExitStatus int
	// State is Slurm's last known JobState (COMPLETED, CANCELLED, TIMEOUT,
	// FAILED, ...); "" once the job has left Slurm's memory.
	State  string
	Reason string
	// Vanished: the job left squeue without writing its exit status.
	Vanished bool
}

// ended reports whether a Slurm job state is final.
func ended(state string) bool {
	switch strings.TrimSuffix(state, "+") {
	case "", "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "REQUEUE_HOLD", "REQUEUE_FED":
		return false
	}
	return true
}

type watchedJob struct {
	job      *Job
	id       string
	state    string
	gone     int // polls since the job left squeue without an exit-status file
	exitSeen int // polls since the exit-status file appeared
	ended    bool
	imported bool
	end      JobEnd
}

// poll looks at the job once.
func (w *watchedJob) poll(ctx context.Context, log io.Writer, bar *bar) {
	state, reason, inQueue := jobState(ctx, w.id)
	if state != "" && state != w.state {
		bar.clear()
		fmt.Fprintf(log, "job %s (%s): %s\n", w.id, w.job.Name, describeState(state, reason))
		w.state = state
	}
	if st, ok := readExitStatus(w.job.ExitStatusFile()); ok {
		// The job's last act. Slurm may still show it RUNNING or
		// COMPLETING for a moment: wait a few polls for its final state,
		// which says whether it was cancelled or timed out.
		w.exitSeen++
		if inQueue && !ended(state) && w.exitSeen < 10 {
			return
		}
		w.ended, w.end = true, JobEnd{ExitStatus: st, State: state, Reason: reason}
		return
	}
	if inQueue && !ended(state) {
		return
	}
	// Ended or gone without an exit-status file: give a shared file system
	// one more poll to show the file.
	w.gone++
	if w.gone < 2 {
		return
	}
	w.ended = true
	w.end = JobEnd{ExitStatus: -1, State: state, Reason: reason, Vanished: !inQueue && state == ""}
	if w.end.State == "" {
		w.end.State = w.state
	}
}

// jobState asks squeue, then scontrol, for a job's state.
func jobState(ctx context.Context, id string) (state, reason string, inQueue bool) {
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-t", "all", "-j", id, "-o", "%T|%r").Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		s, r, _ := strings.Cut(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), "|")
		inQueue = true
		state, reason = s, r
	}
	out, err = exec.CommandContext(ctx, "scontrol", "show", "job", "-o", id).Output()
	if err == nil {
		for _, f := range strings.Fields(string(out)) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "JobState":
				state = v
			case "Reason":
				if v != "None" {
					reason = v
				}
			}
		}
	}
	if reason == "None" {
		reason = ""
	}
	return state, reason, inQueue
}

func describeState(state, reason string) string {
	if reason != "" {
		return state + " (" + reason + ")"
	}
	return state
}

func readExitStatus(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false // half written; the next poll sees it whole
	}
	return n, true
}

func countResults(j *Job) int {
	n := 0
	for _, r := range j.Runs {
		if _, err := os.Stat(r.Result); err == nil {
			n++
		}
	}
	return n
}

type importStats struct {
	added, ok, notOK int
	notes            []string
}

// importJob stores the results of one ended job, in one transaction:
// the job's result files stay where they are, so a collect stopped
// before the commit stores them all again. Every run without a result
// becomes a failed run saying why the job ended before it.
func importJob(ctx context.Context, st *results.Store, host results.Host, j *Job, jobID string, end JobEnd) (importStats, error) {
	var is importStats
	missingReason := whyMissing(j, jobID, end)
	err := st.Batch(ctx, func(b *results.Batch) error {
		for _, r := range j.Runs {
			run, err := readRun(r.Result)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if run == nil {
				now := time.Now()
				run = &results.Run{Study: j.Study, Host: host, Cell: r.Stored, Repetition: r.Cell.Repetition, Warmup: r.Cell.Warmup,
					Order: r.Order, Seed: j.Seed, Argv: r.Srun, Choices: r.Choices, Status: results.StatusFailed, Reason: missingReason,
					Started: now, Finished: now}
				if out, err := readLimited(r.Output, outputLimit); err == nil {
					run.Output = out
				}
			}
			run.ID = 0
			run.Study = j.Study
			if run.SlurmJobID == "" {
				run.SlurmJobID = jobID
			}
			if _, err := b.AddRun(*run); err != nil {
				if errors.Is(err, results.ErrDuplicate) {
					continue
				}
				return fmt.Errorf("job %s (%s) run %s: %w", jobID, j.Name, r.ID, err)
			}
			is.added++
			if run.Status == results.StatusOK {
				is.ok++
			} else {
				is.notOK++
				is.notes = append(is.notes, fmt.Sprintf("%s %s (job %s, run %s): %s", run.Status, r.RunID, jobID, r.ID, run.Reason))
			}
		}
		return nil
	})
	if err != nil {
		return importStats{}, err
	}
	is.notes = append(is.notes, fmt.Sprintf("job %s (%s) ended: %s; %d runs imported (%d ok)", jobID, j.Name, describeEnd(end), is.added, is.ok))
	return is, nil
}

func describeEnd(e JobEnd) string {
	var parts []string
	if e.State != "" {
		parts = append(parts, describeState(e.State, e.Reason))
	}
	if e.ExitStatus >= 0 {
		parts = append(parts, fmt.Sprintf("exit status %d", e.ExitStatus))
	} else {
		parts = append(parts, "no exit-status file")
	}
	return strings.Join(parts, ", ")
}

// whyMissing says why a run of an ended job left no result.
func whyMissing(j *Job, jobID string, e JobEnd) string {
	log := filepath.Join(j.Dir, "job-"+jobID+".out")
	state := strings.TrimSuffix(e.State, "+")
	switch {
	case state == "CANCELLED":
		return fmt.Sprintf("Slurm job %s was cancelled before this run finished", jobID)
	case state == "TIMEOUT":
		return fmt.Sprintf("Slurm job %s reached its time limit (--time=%s) before this run finished; raise [slurm] time or --time", jobID, j.Time)
	case e.Vanished:
		return fmt.Sprintf("Slurm job %s left the queue without writing its exit status (cancelled, or its node failed); see %s", jobID, log)
	case state != "" && state != "COMPLETED":
		return fmt.Sprintf("Slurm job %s ended %s before this run finished; see %s", jobID, describeState(e.State, e.Reason), log)
	case e.ExitStatus > 0:
		return fmt.Sprintf("Slurm job %s exited with status %d before this run finished; see %s", jobID, e.ExitStatus, log)
	}
	return fmt.Sprintf("Slurm job %s ended without a result for this run; see %s", jobID, log)
}

// CollectOptions describe an import of jobs already submitted.
type CollectOptions struct {
	Dir   string
	Store *results.Store
	// Study overrides the study named in the manifests.
	Study string
	Log   io.Writer
}

// Collect imports the results of the jobs in Dir (written by Generate,
// submitted by Submit or by hand): every run's result file, and a failed
// run for each run without one whose job has ended. Jobs still running are
// left for a later Collect.
func Collect(ctx context.Context, opts CollectOptions) (*Summary, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	manifests, _ := filepath.Glob(filepath.Join(opts.Dir, "*.runs.json"))
	if len(manifests) == 0 {
		return nil, fmt.Errorf("slurm collect: no *.runs.json in %s (write them with hpcbench slurm gen)", opts.Dir)
	}
	ids := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(opts.Dir, "jobs.json")); err == nil {
		_ = json.Unmarshal(b, &ids)
	}
	sum := &Summary{Dir: opts.Dir, Jobs: map[string]string{}}
	host := results.ThisHost()
	for _, m := range manifests {
		j, err := LoadJob(m)
		if err != nil {
			return sum, err
		}
		if opts.Study != "" {
			j.Study = opts.Study
		}
		sum.Study = j.Study
		if err := ensureStudy(ctx, opts.Store, j); err != nil {
			return sum, err
		}
		id := ids[j.Name]
		end := JobEnd{ExitStatus: -1}
		status, hasExit := readExitStatus(j.ExitStatusFile())
		if hasExit {
			end.ExitStatus = status
		}
		if id != "" {
			state, reason, inQueue := jobState(ctx, id)
			end.State, end.Reason = state, reason
			if !hasExit && (inQueue && !ended(state)) {
				fmt.Fprintf(log, "job %s (%s) is %s: left for a later collect\n", id, j.Name, describeState(state, reason))
				continue
			}
			end.Vanished = !hasExit && state == ""
		} else if !hasExit {
			fmt.Fprintf(log, "job %s has not written its exit status: importing the results it has\n", j.Name)
		}
		sum.Jobs[j.Name] = id
		st, err := importJob(ctx, opts.Store, host, onlyFinished(j, id != "" || hasExit), id, end)
		if err != nil {
			return sum, err
		}
		sum.Imported += st.added
		sum.OK += st.ok
		sum.NotOK += st.notOK
		for _, n := range st.notes {
			fmt.Fprintln(log, n)
		}
	}
	return sum, nil
}

// onlyFinished keeps, for a job whose end is unknown, only the runs with
// results.
func onlyFinished(j *Job, ended bool) *Job {
	if ended {
		return j
	}
	c := *j
	c.Runs = nil
	for _, r := range j.Runs {
		if _, err := os.Stat(r.Result); err == nil {
			c.Runs = append(c.Runs, r)
		}
	}
	return &c
}

func ensureStudy(ctx context.Context, st *results.Store, j *Job) error {
	if _, err := st.Study(ctx, j.Study); err == nil {
		return nil
	} else if !errors.Is(err, results.ErrNoStudy) {
		return err
	}
	var source []byte
	if j.Config != "" {
		source, _ = os.ReadFile(j.Config)
	}
	err := st.CreateStudy(ctx, results.Study{Name: j.Study, Seed: j.Seed, Config: string(source), Version: j.Version})
	if errors.Is(err, results.ErrConfigChanged) {
		return nil
	}
	return err
}

// bar is the progress of runs with results: a bar on a terminal, a line at
// most every 10 s elsewhere; silent without a writer.
type bar struct{ r *progress.Reporter }

func newBar(w io.Writer, total int) *bar {
	return &bar{r: progress.New(w, total, "runs with results", nil)}
}

func (b *bar) set(n int) { b.r.Set(n) }

func (b *bar) clear() { b.r.Clear() }

func (b *bar) finish() { b.r.Finish() }

// Executor is a matrix.Executor.
var _ matrix.Executor = (*Executor)(nil)
