package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
)

// ErrNoAllocation: srun as the launcher needs an allocation to run in.
var ErrNoAllocation = errors.New("not inside a Slurm allocation (SLURM_JOB_ID is not set): run hpcbench matrix from salloc or an sbatch script, or drop --launcher srun")

// stepGrace is how much longer than a cell's time limit srun gets to stop
// its step itself (srun --time) before it is killed.
const stepGrace = 30 * time.Second

// Srun is a matrix.Launcher that runs each cell's ranks with srun inside
// the current allocation, with the same command line a batch script has.
type Srun struct {
	// Self is the hpcbench executable the tasks of container cells run;
	// empty uses this one.
	Self string
	// CPUBind is srun's --cpu-bind; empty binds only for [study] bind = "core".
	CPUBind string
	// Runtimes resolves the cells' runtimes and images (the study plan's,
	// matrix.Plan.Runtimes); nil makes one of its own.
	Runtimes *matrix.Resolver

	once   sync.Once
	images *cellImages
}

// InAllocation reports whether hpcbench runs inside a Slurm allocation.
func InAllocation() bool { return os.Getenv("SLURM_JOB_ID") != "" }

// Name is recorded in the run's choices.
func (s *Srun) Name() string { return "srun" }

// Launch runs the cell's ranks with srun and waits for them.
func (s *Srun) Launch(ctx context.Context, c matrix.Cell, argv, env []string, work string, out io.Writer) (matrix.Outcome, error) {
	if !InAllocation() {
		return matrix.Outcome{}, ErrNoAllocation
	}
	if c.Layout == configs.LayoutPerNode {
		return matrix.Outcome{}, ErrPerNode
	}
	self := s.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return matrix.Outcome{}, err
		}
	}
	s.once.Do(func() { s.images = newCellImages(s.Runtimes) })
	ir := s.images.resolve(ctx, c)
	if ir.err != nil {
		return matrix.Outcome{}, ir.err
	}
	c.Argv = argv
	line, choices := srunLine(c, srunPlacement{cpuBind: s.CPUBind, work: work, env: env, self: self, image: ir.info.Ref})
	for k, v := range ir.choices {
		if _, set := choices[k]; !set {
			choices[k] = v
		}
	}
	choices["slurm_job"] = os.Getenv("SLURM_JOB_ID")
	o := matrix.Outcome{Argv: line, Choices: choices}

	runCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Timeout+stepGrace)
		defer cancel()
	}
	x := exec.Command(line[0], line[1:]...)
	x.Dir, x.Stdout, x.Stderr = work, out, out
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := x.Start(); err != nil {
		return o, fmt.Errorf("srun: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- x.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-runCtx.Done():
		// SIGTERM makes srun cancel its step at once (one SIGINT only
		// reports the step's state).
		syscall.Kill(-x.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-waited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-x.Process.Pid, syscall.SIGKILL)
			err = <-waited
		}
		if ctx.Err() == nil {
			o.TimedOut = true
			o.Reason = fmt.Sprintf("timeout after %s (srun did not end its step by itself)", c.Timeout+stepGrace)
		}
	}
	o.Wall = time.Since(start)
	o.ExitStatus = exitStatus(x, err)
	if !o.TimedOut && o.ExitStatus != 0 {
		var text []byte
		if lb, ok := out.(interface{ Bytes() []byte }); ok {
			text = lb.Bytes()
		}
		o.TimedOut, o.Reason = srunFailure(text, o.ExitStatus, c.Timeout)
	}
	return o, nil
}
