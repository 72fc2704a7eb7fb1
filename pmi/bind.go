package pmi

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// bindPlan returns the core each rank is pinned to: with "core", rank r
// gets the (r mod n)-th of the n cores hpcbench itself may run on;
// otherwise -1 for every rank.
func bindPlan(bind string, ranks int) ([]int, error) {
	plan := make([]int, ranks)
	switch bind {
	case "", "none":
		for i := range plan {
			plan[i] = -1
		}
		return plan, nil
	case "core":
	default:
		return nil, fmt.Errorf("%w: bind %q (want none or core)", ErrOptions, bind)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("bind core: reading hpcbench's CPU affinity: %w", err)
	}
	var cores []int
	for c := 0; c < len(set)*64 && len(cores) < set.Count(); c++ {
		if set.IsSet(c) {
			cores = append(cores, c)
		}
	}
	if len(cores) == 0 {
		return nil, fmt.Errorf("bind core: hpcbench may run on no core")
	}
	for i := range plan {
		plan[i] = cores[i%len(cores)]
	}
	return plan, nil
}

// startPinned starts cmd with its CPU affinity set to cpu (none if cpu is
// negative). A child inherits the affinity of the thread that forks it, so
// the forking thread is pinned for the duration of Start and restored
// after: the rank runs pinned from its first instruction, with no window
// where it or its children run elsewhere.
func startPinned(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, pinned unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("bind core: %w", err)
	}
	pinned.Set(cpu)
	if err := unix.SchedSetaffinity(0, &pinned); err != nil {
		return fmt.Errorf("bind core %d: %w", cpu, err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		// Unlikely (the same call just succeeded); the thread keeps the
		// pin, which costs only placement of later goroutines.
		return fmt.Errorf("bind core: restoring affinity: %w", rerr)
	}
	return err
}
