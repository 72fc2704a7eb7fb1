package runtimes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runTool runs a runtime's command-line tool and returns its standard
// output; a failure carries the tool's own message.
func runTool(ctx context.Context, env []string, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
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

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// detectTimeout bounds a version probe: an engine that does not answer in
// that time is unavailable for benchmarking anyway.
const detectTimeout = 20 * time.Second

// cleanupTimeout bounds removing one job's containers.
const cleanupTimeout = 60 * time.Second

// cleanupContext bounds a cleanup by cleanupTimeout. It drops ctx's
// cancellation: the containers of an interrupted run must still go.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// unavailable wraps a probe failure in ErrUnavailable.
func unavailable(name string, err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%s: %w: %w (not found in PATH)", name, ErrUnavailable, ErrNotInstalled)
	}
	return fmt.Errorf("%s: %w: %w", name, ErrUnavailable, err)
}

// processAlive reports whether pid names a live process of this machine.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isRoot reports whether hpcbench runs as root (rootful engines, default
// Apptainer capabilities).
func isRoot() bool { return os.Geteuid() == 0 }
