package runtimes

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// stubPIDHolders replaces the pid namespace holders (a container, a
// process in a new namespace) for unit tests, which run no engine and may
// not make namespaces; it returns the jobs whose holder was asked for.
func stubPIDHolders(t *testing.T) *[]string {
	t.Helper()
	var asked []string
	engineStart, ociStart := startEngineHolder, startOCIHolder
	startEngineHolder = func(_ *engineWrapper, job pmi.Job, _, _ string) error {
		asked = append(asked, job.ID)
		return nil
	}
	startOCIHolder = func(job pmi.Job) (*pidHolder, error) {
		asked = append(asked, job.ID)
		return &pidHolder{pid: os.Getpid()}, nil
	}
	t.Cleanup(func() { startEngineHolder, startOCIHolder = engineStart, ociStart })
	return &asked
}

func TestParseIsolation(t *testing.T) {
	for in, want := range map[string]Isolation{"": IsolationPrivate, "private": IsolationPrivate, " Host ": IsolationHost} {
		if got, err := ParseIsolation(in); err != nil || got != want {
			t.Errorf("ParseIsolation(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseIsolation("none"); !errors.Is(err, ErrIsolation) {
		t.Errorf("ParseIsolation(none) = %v, want ErrIsolation", err)
	}
}

func TestCheckPassEnv(t *testing.T) {
	if err := CheckPassEnv([]string{"MYAPP_*", "FOO", "BAR_?"}); err != nil {
		t.Errorf("valid patterns refused: %v", err)
	}
	for _, bad := range []string{"", "A=B", "MY APP", "[", "a/b"} {
		if err := CheckPassEnv([]string{bad}); !errors.Is(err, ErrIsolation) {
			t.Errorf("CheckPassEnv(%q) = %v, want ErrIsolation", bad, err)
		}
	}
}

func TestEnvAllowList(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/root", "AWS_SECRET_ACCESS_KEY=k", "GITHUB_TOKEN=t", "HPCBENCH_TEST_SECRET=x",
		"PMI_ID=tok", "PMIX_RANK=0", "OMPI_MCA_btl=self", "MPIR_CVAR_CH4_NETMOD=ofi", "MPICH_ASYNC_PROGRESS=0",
		"UCX_TLS=sm", "FI_PROVIDER=tcp", "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "HPCBENCH_KERNEL_EXTRA=1",
		"MYAPP_LEVEL=3", "MYAPPX=1", "HYDRA_HOST_FILE=/h"}
	got := forwardedEnv(env, []string{"MYAPP_*"})
	want := []string{"FI_PROVIDER", "HPCBENCH_KERNEL_EXTRA", "MPICH_ASYNC_PROGRESS", "MPIR_CVAR_CH4_NETMOD", "MYAPP_LEVEL",
		"OMPI_MCA_btl", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PATH", "PMIX_RANK", "PMI_ID", "UCX_TLS"}
	if !slices.Equal(got, want) {
		t.Errorf("forwardedEnv = %q\nwant %q", got, want)
	}
}

func TestBindSet(t *testing.T) {
	binds, ro := bindSet([]string{"/opt/bench", "/work/run/bin", "/usr/lib/mpich"}, []string{"/work/run", "/opt/bench/out"})
	want := []string{"/opt/bench", "/opt/bench/out", "/usr/lib/mpich", "/work/run"}
	if !slices.Equal(binds, want) {
		t.Errorf("binds %q, want %q", binds, want)
	}
	for p, wantRO := range map[string]bool{"/opt/bench": true, "/usr/lib/mpich": true, "/opt/bench/out": false, "/work/run": false} {
		if ro[p] != wantRO {
			t.Errorf("%s read-only = %v, want %v", p, ro[p], wantRO)
		}
	}
}
