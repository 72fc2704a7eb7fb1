package runtimes

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hpcbench/hpcbench/pmi"
)

// Cross-memory attach (CMA) is one process reading another's memory with
// process_vm_readv, which Open MPI's single-copy transfers between ranks
// of a node rely on. Whether it works between two ranks depends on their
// pid and user namespaces, capabilities, seccomp filter and the host's
// ptrace policy: ProbeCMA tries it, in the containers a wrapper makes.

// CMAProbeVerb is the hpcbench verb one rank of the probe runs:
// "hpcbench cma-probe DIR".
const CMAProbeVerb = "cma-probe"

// cmaPattern is what the target rank holds and the reader must read back.
var cmaPattern = []byte("hpcbench cross-memory probe 2718")

// cmaWait bounds how long each probe rank waits for the other.
const cmaWait = 20 * time.Second

// RunCMAProbe is one rank of the probe, in folder dir, which both ranks
// see: the first to claim it holds cmaPattern and writes its pid and the
// pattern's address; the other reads it with process_vm_readv and writes
// the outcome to dir/result ("available", or "unavailable: why").
func RunCMAProbe(dir string) error {
	claim, err := os.OpenFile(filepath.Join(dir, "claim"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err == nil {
		claim.Close()
		buf := append([]byte(nil), cmaPattern...)
		addr := uintptr(unsafe.Pointer(&buf[0]))
		if err := writeAtomic(filepath.Join(dir, "target"), fmt.Sprintf("%d %d\n", os.Getpid(), addr)); err != nil {
			return err
		}
		waitFile(filepath.Join(dir, "done"))
		runtime.KeepAlive(buf)
		return nil
	}
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	result := cmaRead(dir)
	if err := writeAtomic(filepath.Join(dir, "result"), result+"\n"); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "done"), "")
}

// cmaRead reads the target's pattern and says how that went.
func cmaRead(dir string) string {
	if !waitFile(filepath.Join(dir, "target")) {
		return "unknown: the other rank wrote no target"
	}
	b, err := os.ReadFile(filepath.Join(dir, "target"))
	if err != nil {
		return "unknown: " + err.Error()
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return "unknown: bad target " + strconv.Quote(string(b))
	}
	pid, err1 := strconv.Atoi(f[0])
	addr, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return "unknown: bad target " + strconv.Quote(string(b))
	}
	local := make([]byte, len(cmaPattern))
	n, err := unix.ProcessVMReadv(pid,
		[]unix.Iovec{{Base: &local[0], Len: uint64(len(local))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(local)}}, 0)
	switch {
	case err != nil:
		return "unavailable: process_vm_readv: " + err.Error()
	case n != len(local) || !bytes.Equal(local, cmaPattern):
		return "unavailable: process_vm_readv read other bytes (the ranks see different pid namespaces)"
	}
	return "available"
}

// waitFile waits up to cmaWait for path to appear.
func waitFile(path string) bool {
	deadline := time.Now().Add(cmaWait)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func writeAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ProbeCMA runs two ranks of "self cma-probe DIR" through w (nil:
// natively) in a fresh folder under work, which the wrapper's spec binds,
// and returns the outcome: "available", or "unavailable: why". self is
// the hpcbench executable; the image must hold what it links (images
// hpcbench builds carry hpcbench).
func ProbeCMA(ctx context.Context, w pmi.Wrapper, self, work string) (string, error) {
	dir, err := os.MkdirTemp(work, "cma-probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var out bytes.Buffer
	rep, err := pmi.Launch(ctx, pmi.Options{
		Ranks: 2, PMI: pmi.PMI1, Timeout: 2 * cmaWait, Argv: []string{self, CMAProbeVerb, dir},
		Dir: dir, Stdout: &out, Stderr: &out, Wrapper: w,
	})
	if err != nil {
		return "", fmt.Errorf("cma probe: %w", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "result"))
	if rerr != nil {
		why := rep.Reason
		if why == "" {
			why = "no result"
		}
		return "", fmt.Errorf("cma probe: %s: %s", why, strings.TrimSpace(lastLines(out.String(), 3)))
	}
	return strings.TrimSpace(string(b)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
