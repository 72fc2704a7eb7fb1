package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
)

// TaskOptions describe one srun task that runs a rank in a container.
type TaskOptions struct {
	Runtime string
	// Image is the reference the submitting host resolved (a SIF path, an
	// engine image name); it is used as it is, not resolved again per task.
	Image  string
	Layout runtimes.Layout
	MPI    string
	// Command and Flags are the config's runtime.command and
	// runtime.flags (see runtimes.Spec).
	Command string
	Flags   []string
	// Isolation and PassEnv are the config's runtime.isolation and what
	// the ranks get beyond the runtimes' allow-list (see runtimes.Spec);
	// Slurm's own SLURM_* variables are added to PassEnv.
	Isolation runtimes.Isolation
	// Shm is the config's runtime.shm mode of the cell (runtimes.Spec.Shm).
	Shm     runtimes.Shm
	PassEnv []string
	PMI     pmi.Flavour
	// MPIBuild is the MPICH build the cell's flavour chose (runtimes.Spec.MPIBuild).
	MPIBuild *mpibuild.Build
	Argv     []string
	// Environ is the task's environment as srun gave it; nil takes os.Environ().
	Environ        []string
	Stdout, Stderr io.Writer
}

// ErrNotInStep: the task was not started by srun (no SLURM_PROCID), or
// srun gave it no PMI variables (wrong --mpi).
var ErrNotInStep = errors.New("not an srun task with PMI")

// RunTask runs one rank, as srun started this task, inside the runtime
// through the same per-rank wrapper the local launcher uses, built from the
// task's real PMI environment:
//
//   - PMI-1/PMI-2 over an inherited fd (native, Apptainer, Podman): Slurm's
//     PMI_FD becomes fd 3 of the runtime's client, PMI_FD=3;
//   - Docker, which cannot pass an fd: a relay listens on 127.0.0.1, the
//     rank gets PMI_PORT and PMI_ID, and the relay answers the PMI-1
//     initack itself and then copies bytes between the rank and PMI_FD;
//   - PMIx: every PMIX_* variable is forwarded and Slurm's PMIx folders are
//     bound at the same paths.
//
// It returns the rank's exit status (128+signal for a signal death).
func RunTask(ctx context.Context, opts TaskOptions) (int, error) {
	env := opts.Environ
	if env == nil {
		env = os.Environ()
	}
	get := func(k string) string {
		v := ""
		for _, kv := range env {
			if key, val, ok := strings.Cut(kv, "="); ok && key == k {
				v = val
			}
		}
		return v
	}
	rank, err := strconv.Atoi(get("SLURM_PROCID"))
	if err != nil {
		return 1, fmt.Errorf("slurm task: %w: SLURM_PROCID=%q (run it under srun)", ErrNotInStep, get("SLURM_PROCID"))
	}
	size, _ := strconv.Atoi(get("SLURM_STEP_NUM_TASKS"))
	if size == 0 {
		size, _ = strconv.Atoi(get("SLURM_NTASKS"))
	}
	rt, err := runtimes.GetCommand(opts.Runtime, opts.Command)
	if err != nil {
		return 1, fmt.Errorf("slurm task: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return 1, err
	}
	// The engine wrappers keep per-rank files (--cidfile) in a temporary
	// folder they do not remove: keep them in the run's working folder
	// rather than in each node's /tmp.
	os.Setenv("TMPDIR", wd)
	spec := runtimes.Spec{Layout: opts.Layout, Image: runtimes.ImageInfo{Ref: opts.Image}, MPI: opts.MPI, Binds: []string{wd},
		Command: opts.Command, Flags: opts.Flags, MPIBuild: opts.MPIBuild,
		Isolation: opts.Isolation, Shm: opts.Shm, PassEnv: append(append([]string(nil), opts.PassEnv...), "SLURM_*"),
		// Each task starts one rank: the ranks of a node cannot share a
		// pid namespace held for them (see runtimes.Spec.HostPID).
		HostPID: true}
	w, err := rt.Wrapper(ctx, spec)
	if err != nil {
		return 1, fmt.Errorf("slurm task: rank %d: %w", rank, err)
	}
	job := pmi.Job{
		// One job per task: each task cleans up only its own container.
		ID:    fmt.Sprintf("slurm-%s-%s-t%d", get("SLURM_JOB_ID"), firstNonEmpty(get("SLURM_STEP_ID"), get("SLURM_STEPID")), rank),
		Ranks: size, PMI: opts.PMI, Channel: w.Channel(),
		PMIxTmpdir: get("PMIX_SERVER_TMPDIR"),
	}
	defer w.Cleanup(job)
	cmd := &pmi.RankCommand{Rank: rank, Argv: opts.Argv, Dir: wd, CPU: -1}
	var relay *pmi.Relay
	if opts.PMI != pmi.PMIx {
		fd, err := strconv.Atoi(get("PMI_FD"))
		if err != nil || fd < 0 {
			return 1, fmt.Errorf("slurm task: rank %d: %w: PMI_FD=%q (srun --mpi=pmi2 sets it)", rank, ErrNotInStep, get("PMI_FD"))
		}
		syscall.CloseOnExec(fd)
		sock := os.NewFile(uintptr(fd), "PMI_FD")
		if job.Channel == pmi.ChannelTCP {
			relay, err = pmi.NewRelay(sock, rank, size)
			if err != nil {
				return 1, fmt.Errorf("slurm task: rank %d: %w", rank, err)
			}
			defer relay.Close()
			cmd.Env = append(without(env, "PMI_FD"), relay.Env()...)
		} else {
			cmd.Env = append(without(env, "PMI_FD"), "PMI_FD=3")
			cmd.ExtraFiles = []*os.File{sock}
		}
	} else {
		if get("PMIX_NAMESPACE") == "" {
			return 1, fmt.Errorf("slurm task: rank %d: %w: no PMIX_NAMESPACE (srun --mpi=pmix sets it)", rank, ErrNotInStep)
		}
		cmd.Env = env
	}
	if err := w.WrapRank(job, cmd); err != nil {
		return 1, fmt.Errorf("slurm task: %w", err)
	}
	x := exec.Command(cmd.Argv[0], cmd.Argv[1:]...)
	x.Env, x.Dir, x.ExtraFiles = cmd.Env, cmd.Dir, cmd.ExtraFiles
	x.Stdin, x.Stdout, x.Stderr = os.Stdin, opts.Stdout, opts.Stderr
	if err := x.Start(); err != nil {
		return 1, fmt.Errorf("slurm task: rank %d: %s: %w", rank, cmd.Argv[0], err)
	}
	relayDone := make(chan error, 1)
	if relay != nil {
		go func() { relayDone <- relay.Serve() }()
	}
	// srun signals its tasks on cancel and time limit; pass that on to the
	// runtime's client, which stops the container.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	waited := make(chan error, 1)
	go func() { waited <- x.Wait() }()
	done := ctx.Done()
	for {
		select {
		case s := <-sigs:
			x.Process.Signal(s)
		case <-done:
			// Once is enough: a closed channel would be ready forever.
			done = nil
			x.Process.Signal(syscall.SIGTERM)
		case err := <-waited:
			status := exitStatus(x, err)
			if status != 0 {
				reportRelay(opts.Stderr, rank, relayDone)
			}
			return status, nil
		}
	}
}

// reportRelay writes why the PMI relay ended, if it ended with an error,
// as the reason a rank failed may be there. It runs after the rank exited,
// when nothing else writes to w any more.
func reportRelay(w io.Writer, rank int, relayDone <-chan error) {
	select {
	case err := <-relayDone:
		if err != nil && w != nil {
			fmt.Fprintf(w, "slurm task: rank %d: %v\n", rank, err)
		}
	default: // still relaying, or no relay
	}
}

func exitStatus(x *exec.Cmd, err error) int {
	if err == nil {
		return 0
	}
	if ws, ok := x.ProcessState.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return 1
}

func without(env []string, key string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
