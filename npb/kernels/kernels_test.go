package kernels_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// buildMPICH builds the MPICH flavour of the kernels with make and
// returns the directory holding the programs; it skips the test when
// the tools are not installed.
func buildMPICH(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"make", "mpicc.mpich", "mpiexec.mpich"} {
		testenv.LookPath(t, tool, "install MPICH (Debian: mpich, libmpich-dev) to build and run the kernels")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "make", "-C", dir, "mpich").CombinedOutput()
	if err != nil {
		t.Fatalf("make -C %s mpich: %v\n%s", dir, err, out)
	}
	return filepath.Join(dir, "build", "mpich")
}

// runKernel starts program under mpiexec.mpich with ranks processes and
// returns its combined output and exit error.
func runKernel(t *testing.T, bin string, program string, ranks int, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmdArgs := append([]string{"-n", strconv.Itoa(ranks), filepath.Join(bin, program)}, args...)
	out, err := exec.CommandContext(ctx, "mpiexec.mpich", cmdArgs...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mpiexec.mpich %v: timed out\n%s", cmdArgs, out)
	}
	return string(out), err
}

// summaryValue returns the value of a "Key = value" line of NPB's
// summary block.
func summaryValue(output, key string) (string, bool) {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*=\s*(.*?)\s*$`)
	m := re.FindStringSubmatch(output)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func TestKernelsVerifyClassS(t *testing.T) {
	bin := buildMPICH(t)
	completed := map[string]string{
		"ep": "EP Benchmark Completed.",
		"is": "IS Benchmark Completed",
		"cg": "CG Benchmark Completed.",
		"mg": "MG Benchmark Completed.",
	}
	for _, program := range []string{"ep", "is", "cg", "mg"} {
		for _, ranks := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", program, ranks), func(t *testing.T) {
				out, err := runKernel(t, bin, program, ranks, "S")
				if err != nil {
					t.Fatalf("%s class S on %d ranks: %v\n%s", program, ranks, err, out)
				}
				if !regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(completed[program]) + `\s*$`).MatchString(out) {
					t.Errorf("no %q line in the output:\n%s", completed[program], out)
				}
				want := map[string]string{
					"Class":           "S",
					"Verification":    "SUCCESSFUL",
					"Total processes": strconv.Itoa(ranks),
					"Active procs":    strconv.Itoa(ranks),
				}
				for key, value := range want {
					got, ok := summaryValue(out, key)
					if !ok {
						t.Errorf("summary has no %q line:\n%s", key, out)
					} else if got != value {
						t.Errorf("%s = %q, want %q\n%s", key, got, value, out)
					}
				}
				seconds, ok := summaryValue(out, "Time in seconds")
				if _, err := strconv.ParseFloat(seconds, 64); !ok || err != nil {
					t.Errorf("Time in seconds = %q is not a number", seconds)
				}
			})
		}
	}
}

func TestKernelsRefuseRankCountsThatAreNotPowersOfTwo(t *testing.T) {
	bin := buildMPICH(t)
	for _, program := range []string{"is", "cg", "mg"} {
		out, err := runKernel(t, bin, program, 3, "S")
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Errorf("%s on 3 ranks: want a non-zero exit, got %v\n%s", program, err, out)
			continue
		}
		if !regexp.MustCompile(`not a power of two`).MatchString(out) {
			t.Errorf("%s on 3 ranks: no explanation in the output:\n%s", program, out)
		}
	}
}

func TestEPRunsOnThreeRanks(t *testing.T) {
	bin := buildMPICH(t)
	out, err := runKernel(t, bin, "ep", 3, "S")
	if err != nil {
		t.Fatalf("ep on 3 ranks: %v\n%s", err, out)
	}
	if v, _ := summaryValue(out, "Verification"); v != "SUCCESSFUL" {
		t.Errorf("Verification = %q, want SUCCESSFUL\n%s", v, out)
	}
	if v, _ := summaryValue(out, "Total processes"); v != "3" {
		t.Errorf("Total processes = %q, want 3\n%s", v, out)
	}
}

func TestUnknownClassIsRejected(t *testing.T) {
	bin := buildMPICH(t)
	out, err := runKernel(t, bin, "ep", 1, "Q")
	if err == nil {
		t.Fatalf("ep Q: want a non-zero exit\n%s", out)
	}
	if !regexp.MustCompile(`unknown problem class "Q"`).MatchString(out) {
		t.Errorf("ep Q: no explanation in the output:\n%s", out)
	}
}

func TestPingPongReportsLatencyAndBandwidth(t *testing.T) {
	bin := buildMPICH(t)
	out, err := runKernel(t, bin, "pingpong", 2)
	if err != nil {
		t.Fatalf("pingpong on 2 ranks: %v\n%s", err, out)
	}
	for _, key := range []string{"latency_8B_us", "bandwidth_1MiB_MBps"} {
		m := regexp.MustCompile(`(?m)^` + key + ` = (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no %s line:\n%s", key, out)
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 {
			t.Errorf("%s = %q, want a positive number", key, m[1])
		}
	}
}

// runKernelEnv is runKernel with extra environment variables.
func runKernelEnv(t *testing.T, bin string, env []string, program string, ranks int, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmdArgs := append([]string{"-n", strconv.Itoa(ranks), filepath.Join(bin, program)}, args...)
	cmd := exec.CommandContext(ctx, "mpiexec.mpich", cmdArgs...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mpiexec.mpich %v: timed out\n%s", cmdArgs, out)
	}
	return string(out), err
}

// TestExtraWorkLengthensTheTimedSection checks HPCBENCH_KERNEL_EXTRA, the
// known overhead the calibration injects: every kernel still verifies,
// and EP's reported rate drops by the factor asked for. Plain and padded
// runs alternate so drift of this shared machine hits both alike, and the
// tolerance grows with the spread the plain runs themselves show.
func TestExtraWorkLengthensTheTimedSection(t *testing.T) {
	bin := buildMPICH(t)
	for _, program := range []string{"ep", "is", "cg", "mg"} {
		out, err := runKernelEnv(t, bin, []string{"HPCBENCH_KERNEL_EXTRA=0.05"}, program, 2, "S")
		if err != nil {
			t.Fatalf("%s with HPCBENCH_KERNEL_EXTRA=0.05: %v\n%s", program, err, out)
		}
		if v, _ := summaryValue(out, "Verification"); v != "SUCCESSFUL" {
			t.Errorf("%s with HPCBENCH_KERNEL_EXTRA=0.05: Verification = %q, want SUCCESSFUL\n%s", program, v, out)
		}
	}

	const extra = 0.5
	mops := func(env string) float64 {
		out, err := runKernelEnv(t, bin, []string{"HPCBENCH_KERNEL_EXTRA=" + env}, "ep", 1, "S")
		if err != nil {
			t.Fatalf("ep with HPCBENCH_KERNEL_EXTRA=%s: %v\n%s", env, err, out)
		}
		text, _ := summaryValue(out, "Mop/s total")
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || v <= 0 {
			t.Fatalf("ep with HPCBENCH_KERNEL_EXTRA=%s: Mop/s total = %q\n%s", env, text, out)
		}
		return v
	}
	var plain, padded []float64
	for range 3 {
		plain = append(plain, mops(""))
		padded = append(padded, mops(strconv.FormatFloat(extra, 'g', -1, 64)))
	}
	slices.Sort(plain)
	slices.Sort(padded)
	ratio := plain[1] / padded[1] // medians: time ratio (1 + extra)
	spread := (plain[2] - plain[0]) / plain[1]
	tolerance := 0.03 + 2*spread
	if math.Abs(ratio-(1+extra)) > tolerance*(1+extra) {
		t.Errorf("plain/padded Mop/s = %.3f (plain %v, padded %v), want %.2f within %.0f%%", ratio, plain, padded, 1+extra, 100*tolerance)
	}
	t.Logf("plain/padded Mop/s = %.4f, want %.2f (plain runs spread %.1f%%)", ratio, 1+extra, 100*spread)
}

func TestExtraWorkRejectsBadValues(t *testing.T) {
	bin := buildMPICH(t)
	for _, bad := range []string{"abc", "-0.1", "11", "0.05x"} {
		out, err := runKernelEnv(t, bin, []string{"HPCBENCH_KERNEL_EXTRA=" + bad}, "ep", 1, "S")
		if err == nil {
			t.Errorf("HPCBENCH_KERNEL_EXTRA=%s: want a non-zero exit\n%s", bad, out)
			continue
		}
		if !strings.Contains(out, "HPCBENCH_KERNEL_EXTRA") {
			t.Errorf("HPCBENCH_KERNEL_EXTRA=%s: no explanation in the output:\n%s", bad, out)
		}
	}
}
