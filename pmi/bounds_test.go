package pmi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// A launch of more ranks than the ceiling is refused before anything is
// started (a typo of -n 100000 used to start thousands of processes).
func TestTooManyRanksRefused(t *testing.T) {
	start := time.Now()
	rep, err := Launch(context.Background(), Options{Ranks: 100000, Argv: []string{"true"}})
	if !errors.Is(err, ErrTooManyRanks) || !errors.Is(err, ErrOptions) || rep != nil {
		t.Fatalf("100,000 ranks: report %v, error %v; want ErrTooManyRanks", rep, err)
	}
	if want := fmt.Sprintf("the ceiling is %d", DefaultMaxRanks()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing took %v", took)
	}
	if _, err := Launch(context.Background(), Options{Ranks: 3, MaxRanks: 2, Argv: []string{"true"}}); !errors.Is(err, ErrTooManyRanks) {
		t.Errorf("3 ranks with MaxRanks 2: %v", err)
	}
	if DefaultMaxRanks() < MaxRanksPerCore {
		t.Errorf("default ceiling %d", DefaultMaxRanks())
	}
}

// sleepMarker returns an argv that sleeps long, with an argument unique
// to this test run, and a function listing the pids of the processes
// running it.
func sleepMarker(t *testing.T) ([]string, func() []int) {
	t.Helper()
	marker := fmt.Sprintf("%d.%06d", 5000+os.Getpid()%1000, rand.IntN(1000000))
	argv := []string{"sleep", marker}
	return argv, func() []int {
		want := []byte("sleep\x00" + marker + "\x00")
		var pids []int
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "cmdline"))
			if err == nil && bytes.Equal(b, want) {
				pid, _ := strconv.Atoi(filepath.Base(d))
				pids = append(pids, pid)
			}
		}
		return pids
	}
}

// spawnRanks is many ranks for the tests that stop a launch while it is
// still starting them: at some 2 ms a rank, several seconds of starting.
const spawnRanks = 3000

// A launch allowed many ranks (MaxRanks) stops starting them when its
// timeout passes or its context is cancelled, ends promptly, and kills
// every rank it had started.
func TestSpawnStops(t *testing.T) {
	testenv.SkipIfShort(t, "starts a few hundred processes")
	for _, how := range []string{"timeout", "cancel"} {
		t.Run(how, func(t *testing.T) {
			argv, running := sleepMarker(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := Options{Ranks: spawnRanks, MaxRanks: spawnRanks, Argv: argv, Timeout: time.Minute}
			wantReason, wantKind := "interrupted", FailureInterrupted
			if how == "timeout" {
				opts.Timeout = time.Second
				wantReason, wantKind = "timeout after 1s", FailureTimeout
			} else {
				time.AfterFunc(time.Second, cancel)
			}
			start := time.Now()
			rep, err := Launch(ctx, opts)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reason != wantReason || rep.Failure != wantKind {
				t.Errorf("reason %q (%s), want %q", rep.Reason, rep.Failure, wantReason)
			}
			if rep.Spawned == 0 || rep.Spawned >= spawnRanks {
				t.Errorf("%d of %d ranks started; want the start cut short", rep.Spawned, spawnRanks)
			}
			// One second of starting, then SIGTERM (sleep dies of it).
			if took > 5*time.Second {
				t.Errorf("the launch took %v to end after one second", took)
			}
			if left := running(); len(left) > 0 {
				t.Errorf("%d ranks still running after the launch returned, e.g. pid %d", len(left), left[0])
			}
			t.Logf("%s: %d ranks started, ended after %v", how, rep.Spawned, took.Round(time.Millisecond))
		})
	}
}

// TestCtrlCWhileSpawning sends SIGINT to the real command while it is
// starting thousands of ranks (allowed by --max-ranks): it stops starting
// them, ends promptly and leaves none.
func TestCtrlCWhileSpawning(t *testing.T) {
	testenv.SkipIfShort(t, "builds the hpcbench command")
	bin := buildHpcbench(t)
	argv, running := sleepMarker(t)
	n := strconv.Itoa(spawnRanks)
	cmd := exec.Command(bin, append([]string{"launch", "-n", n, "--max-ranks", n, "--"}, argv...)...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(running()) < 20 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no ranks started; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("hpcbench did not end within 30s of SIGINT")
	}
	if took := time.Since(signalled); took > 5*time.Second {
		t.Errorf("hpcbench ended %v after SIGINT", took)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1", err)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say interrupted:\n%s", stderr.String())
	}
	if left := running(); len(left) > 0 {
		// Ranks die with SIGTERM, or with hpcbench (SIGKILL on its death).
		time.Sleep(time.Second)
		if left = running(); len(left) > 0 {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("%d ranks left after hpcbench ended", len(left))
		}
	}
}
