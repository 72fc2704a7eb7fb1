package runtimes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/sentinel"
)

// Errors a fingerprint's Err wraps besides ErrUnavailable (the values every
// package shares, see package sentinel).
var (
	// ErrNotInstalled: the runtime's program is not on this machine.
	ErrNotInstalled = sentinel.ErrNotInstalled
	// ErrEngineNotRunning: the program is there, its engine does not answer.
	ErrEngineNotRunning = sentinel.ErrEngineNotRunning
	// ErrProbeTimedOut: a fingerprint's command ran out of time, so the
	// runtime's state is unknown (a busy machine), not known bad.
	ErrProbeTimedOut = sentinel.ErrProbeTimedOut
)

// Capabilities are what an adapter can do, declared by the adapter (not
// probed): what planning and reports need to know before anything runs.
type Capabilities struct {
	// Programs provide the runtime when a config's runtime.command names
	// none, in the order they are tried (apptainer: apptainer, then
	// singularity; oci: crun, then runc). Empty for native.
	Programs []string `json:"programs,omitempty"`
	// TakesCommand: a config's runtime.command may name its program.
	TakesCommand bool `json:"takes_command"`
	// Layouts the adapter can place ranks in.
	Layouts []Layout `json:"layouts"`
	// PassesFDs: an inherited fd reaches the rank, so PMI-1/PMI-2 use
	// PMI_FD; otherwise they go over TCP on loopback.
	PassesFDs bool `json:"passes_fds"`
	// Rootless: an ordinary user can run its containers.
	Rootless bool `json:"rootless"`
	// Daemon: a daemon starts the containers; it must answer before any
	// can run.
	Daemon bool `json:"daemon"`
	// Outlives: its containers can outlive a killed hpcbench, so they are
	// named, labelled and swept (LeftoverCleaner).
	Outlives bool `json:"outlives"`
	// ImportsImages: it keeps images in a format of its own and imports an
	// image store's root filesystem into it (Importer).
	ImportsImages bool `json:"imports_images"`
	// RunsRootfs: it runs an image store's root filesystem folder as it is.
	RunsRootfs bool `json:"runs_rootfs"`
	// PeakMemory: its wrappers read a rank's peak memory from the
	// container's cgroup (PeakMemory).
	PeakMemory bool `json:"peak_memory"`
}

// Supports reports whether the runtime can place ranks in layout l.
func (c Capabilities) Supports(l Layout) bool {
	for _, have := range c.Layouts {
		if have == l {
			return true
		}
	}
	return false
}

// Fingerprint is what a runtime adapter finds out about itself on this
// machine: the one answer to "can it run containers here", which both
// Detect and "hpcbench doctor" (package inventory) give.
type Fingerprint struct {
	// Runtime is the adapter's canonical name ("apptainer" also for
	// "singularity").
	Runtime string `json:"runtime"`
	// Program is the executable asked for: the config's runtime.command,
	// else the adapter's choice among Capabilities.Programs. Empty for
	// native.
	Program string `json:"program,omitempty"`
	// Found: the program exists (native: always). Path is where.
	Found bool   `json:"found"`
	Path  string `json:"path,omitempty"`
	// Version is the program's version number ("28.2.2", "1.8.1"); for
	// native, the kernel release.
	Version string `json:"version,omitempty"`
	// EngineAnswers: the engine answered (Docker's daemon; Podman's
	// storage and OCI runtime, through "podman info"); Engine is the
	// version it reported. Both stay empty for runtimes without one.
	EngineAnswers bool   `json:"engine_answers,omitempty"`
	Engine        string `json:"engine,omitempty"`
	// Usable: a container can be started now.
	Usable bool `json:"usable"`
	// Provenance is the version results record for the runtime, which
	// Detect returns: the engine's version for Docker and Podman,
	// "singularity 4.1.0" for SingularityCE, "crun version 1.8.1", ...
	Provenance string `json:"provenance,omitempty"`
	// Detail holds further facts, or why a runtime found is not usable;
	// Hint says how to get it or make it usable.
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
	// Err is why the runtime is not usable: it wraps ErrUnavailable, and
	// ErrNotInstalled or ErrEngineNotRunning where that is the reason.
	Err error `json:"-"`
	// Capabilities are the adapter's declared ones.
	Capabilities Capabilities `json:"capabilities"`
}

// detected is Detect's answer from a fingerprint.
func (fp Fingerprint) detected() (string, error) {
	if !fp.Usable {
		if fp.Err == nil {
			return "", fmt.Errorf("%s: %w", fp.Runtime, ErrUnavailable)
		}
		return "", fp.Err
	}
	return fp.Provenance, nil
}

// installHints say how to get each program, by its file name.
var installHints = map[string]string{
	"docker":      "apt-get install docker.io, then start dockerd",
	"podman":      "apt-get install podman runc",
	"apptainer":   "build Apptainer from source (scripts/setup-debian.sh does)",
	"singularity": "install SingularityCE, or Apptainer which answers for it",
	"crun":        "apt-get install crun",
	"runc":        "apt-get install runc",
	"ch-run":      "apt-get install charliecloud-runtime",
}

// installHint is the hint for program, or for the adapter's own program
// when a config named one hpcbench does not know.
func installHint(program, fallback string) string {
	if h, ok := installHints[filepath.Base(program)]; ok {
		return h
	}
	if fallback != "" {
		return fmt.Sprintf("check runtime.command %q (%s)", program, installHints[fallback])
	}
	return ""
}

// versionRe takes the first dotted version number of a tool's output
// ("Docker version 28.2.2, build", "podman version 4.3.1",
// "apptainer version 1.4.5", "runc version 1.1.5+ds1").
var versionRe = regexp.MustCompile(`\d+\.\d+(?:\.\d+)?(?:[-+~][0-9A-Za-z.+~-]*)?`)

// VersionNumber returns the first dotted version number in a tool's
// output line, "" when there is none.
func VersionNumber(line string) string { return versionRe.FindString(line) }

// probeTool runs a fingerprint's command: under the C locale, and not
// held up by a child that keeps the tool's pipes open. A failure carries
// the tool's own message, or says it timed out.
func probeTool(ctx context.Context, extraEnv []string, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), extraEnv...), "LC_ALL=C")
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return stdout.String(), fmt.Errorf("%s %s: %w", bin, strings.Join(firstN(args, 3), " "), ErrProbeTimedOut)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if len(msg) > 600 {
			msg = msg[:600] + "..."
		}
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", bin, strings.Join(firstN(args, 3), " "), err, msg)
	}
	return stdout.String(), nil
}

// probeProgram finds fp.Program and asks it for its version with args,
// filling Found, Path, Version and, on failure, Err, Detail and Hint. It
// returns the first line of the answer and whether the program answered.
// hintFor is the adapter's default program, for the hint.
func (fp *Fingerprint) probeProgram(ctx context.Context, env []string, hintFor string, args ...string) (string, bool) {
	fp.Hint = installHint(fp.Program, hintFor)
	path, err := exec.LookPath(fp.Program)
	if err != nil {
		where := " in PATH"
		if strings.ContainsRune(fp.Program, '/') {
			where = ""
		}
		fp.Err = fmt.Errorf("%s: %w: %w (%s not found%s)", fp.Runtime, ErrUnavailable, ErrNotInstalled, fp.Program, where)
		return "", false
	}
	fp.Found, fp.Path = true, path
	out, err := probeTool(ctx, env, path, args...)
	if err != nil {
		fp.Err = unavailable(fp.Runtime, err)
		fp.Detail = err.Error()
		return "", false
	}
	line := firstLine(out)
	fp.Version = VersionNumber(line)
	return line, true
}

// engineDown records that fp's engine did not answer.
func (fp *Fingerprint) engineDown(err error, hint string) {
	fp.Usable, fp.EngineAnswers = false, false
	fp.Detail = "engine does not answer"
	if err != nil {
		fp.Detail += ": " + err.Error()
	}
	fp.Hint = hint
	// err keeps its wrapping: an engine whose answer timed out is unknown
	// (ErrProbeTimedOut), not known to be down.
	fp.Err = fmt.Errorf("%s: %w: %w: %w", fp.Runtime, ErrUnavailable, ErrEngineNotRunning, err)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
