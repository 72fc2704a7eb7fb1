package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/pmi"
)

// The conformance suite: every runtime runs the same MPI programs the same
// way, for real. MPICH ranks speak PMI-1, Open MPI ranks PMIx; with
// hpcbench's MPICH builds (scripts/build-mpich.sh), the same MPICH binary
// also speaks PMI-2 and PMIx (TestConformanceMPIBuilds). A runtime that is
// not installed is skipped with the reason (CI installs them all).
// The suite runs over every registered runtime (conformanceRuntimes); one
// without fixtures fails it.

// TestConformanceFixtures: every registered runtime has conformance
// fixtures, so the suite covers it. It needs no runtime installed.
func TestConformanceFixtures(t *testing.T) {
	if len(conformanceRuntimes(t)) == 0 {
		t.Fatal("no runtime registered")
	}
}

// perRankLayouts are the layouts rt runs through a Wrapper.
func perRankLayouts(rt Runtime) []Layout {
	if rt.Name() == "native" {
		return []Layout{PerRank}
	}
	return []Layout{PerRank, Bind}
}

func wrapperFor(t *testing.T, rt Runtime, mpi string, layout Layout) Wrapper {
	t.Helper()
	w, err := rt.Wrapper(context.Background(), specFor(t, rt, mpi, layout))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var helloLine = regexp.MustCompile(`(?m)^(?:\[\d+\] )?rank (\d+) of (\d+) sum (\d+)$`)

// checkHello asserts that every rank of an n-rank hello job saw a world of n.
func checkHello(t *testing.T, res launchResult, flavour pmi.Flavour, n int) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("launch: %v\nstdout:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
	}
	if !res.rep.OK() {
		t.Fatalf("launch failed: %s\nstdout:\n%s\nstderr:\n%s", res.rep.Reason, res.stdout, res.stderr)
	}
	if err := pmi.RequireWorld(res.rep, ""); err != nil {
		t.Fatal(err)
	}
	for r, v := range res.rep.Negotiated {
		if v != string(flavour) {
			t.Errorf("rank %d negotiated %q, want %q", r, v, flavour)
		}
	}
	seen := map[string]bool{}
	for _, m := range helloLine.FindAllStringSubmatch(res.stdout, -1) {
		if m[2] != fmt.Sprint(n) || m[3] != fmt.Sprint(n*(n-1)/2) {
			t.Errorf("rank %s saw a world of %s (sum %s), want %d: it ran as a singleton or in another job", m[1], m[2], m[3], n)
		}
		seen[m[1]] = true
	}
	if len(seen) != n {
		t.Errorf("%d of %d ranks reported; stdout:\n%s\nstderr:\n%s", len(seen), n, res.stdout, res.stderr)
	}
}

func TestConformanceHello(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				for _, layout := range perRankLayouts(rt) {
					for _, n := range []int{2, 4} {
						t.Run(fmt.Sprintf("%s/%s/%d", mpi, layout, n), func(t *testing.T) {
							w := wrapperFor(t, rt, mpi, layout)
							res := launchJob(t, w, mpiFlavour[mpi], n, []string{probe(t, mpi), "hello"}, 2*time.Minute)
							checkHello(t, res, mpiFlavour[mpi], n)
							requireNoLeftovers(t, rt, res.jobID)
							t.Logf("%s: wall %v, wire-up %v", Describe(w.Choices()), res.rep.Wall.Round(time.Millisecond), res.rep.WireUp.Round(time.Millisecond))
						})
					}
				}
			}
		})
	}
}

func TestConformanceAbortCleansUp(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				t.Run(mpi, func(t *testing.T) {
					w := wrapperFor(t, rt, mpi, PerRank)
					res := launchJob(t, w, mpiFlavour[mpi], 2, []string{probe(t, mpi), "abort"}, 2*time.Minute)
					if res.err != nil {
						t.Fatalf("launch: %v", res.err)
					}
					if res.rep.OK() {
						t.Fatalf("an aborting job succeeded; stdout:\n%s", res.stdout)
					}
					if res.rep.ExitStatus != 7 && !strings.Contains(res.rep.Reason, "7") {
						t.Errorf("reason %q, exit status %d: want the abort code 7", res.rep.Reason, res.rep.ExitStatus)
					}
					if res.wall > time.Minute {
						t.Errorf("abort took %v to tear the job down", res.wall)
					}
					requireNoLeftovers(t, rt, res.jobID)
				})
			}
		})
	}
}

func TestConformanceTimeoutCleansUp(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			w := wrapperFor(t, rt, "mpich", PerRank)
			res := launchJob(t, w, pmi.PMI1, 2, []string{probe(t, "mpich"), "sleep"}, 3*time.Second)
			if res.err != nil {
				t.Fatalf("launch: %v", res.err)
			}
			if res.rep.OK() || !strings.Contains(res.rep.Reason, "timeout") {
				t.Fatalf("reason %q, want a timeout", res.rep.Reason)
			}
			requireNoLeftovers(t, rt, res.jobID)
		})
	}
}

// epLine finds "Key = value" lines of the NPB summary.
func epValue(out, key string) string {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*=\s*(\S+)`)
	if m := re.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

func TestConformanceEP(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				for _, layout := range perRankLayouts(rt) {
					t.Run(mpi+"/"+string(layout), func(t *testing.T) {
						ep := kernel(t, mpi, "ep")
						w := wrapperFor(t, rt, mpi, layout)
						res := launchJob(t, w, mpiFlavour[mpi], 2, []string{ep, "S"}, 5*time.Minute)
						if res.err != nil || !res.rep.OK() {
							t.Fatalf("EP failed: %v %v\n%s\n%s", res.err, res.rep.Reason, res.stdout, res.stderr)
						}
						if got := epValue(res.stdout, "Total processes"); got != "2" {
							t.Errorf("Total processes = %q, want 2 (output:\n%s)", got, res.stdout)
						}
						if got := epValue(res.stdout, "Verification"); got != "SUCCESSFUL" {
							t.Errorf("Verification = %q\n%s", got, res.stdout)
						}
						requireNoLeftovers(t, rt, res.jobID)
					})
				}
			}
		})
	}
}

// TestConformancePerNode runs "hpcbench launch" inside one container per
// node: hpcbench serves PMI to the ranks from inside and writes its report
// to a bound folder.
func TestConformancePerNode(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				t.Run(mpi, func(t *testing.T) {
					spec := specFor(t, rt, mpi, PerNode)
					self := hpcbenchBinary(t)
					dir := workDir(t)
					report := filepath.Join(dir, "report.json")
					job := pmi.Job{ID: newJobID(t), Ranks: 2, PMI: mpiFlavour[mpi]}
					cmd := &pmi.RankCommand{Argv: []string{self, "launch", "-n", "2", "--pmi", string(mpiFlavour[mpi]),
						"--report", report, "--timeout", "2m", "--", probe(t, mpi), "hello"}, Env: os.Environ(), Dir: dir, CPU: -1}
					if err := rt.WrapNode(context.Background(), spec, job, cmd); err != nil {
						t.Fatal(err)
					}
					c := exec.Command(cmd.Argv[0], cmd.Argv[1:]...)
					c.Env, c.Dir = cmd.Env, cmd.Dir
					out, err := c.CombinedOutput()
					if err != nil {
						t.Fatalf("%s: %v\n%s", strings.Join(cmd.Argv, " "), err, out)
					}
					b, err := os.ReadFile(report)
					if err != nil {
						t.Fatalf("no report from inside the container: %v\n%s", err, out)
					}
					var rep pmi.Report
					if err := json.Unmarshal(b, &rep); err != nil {
						t.Fatal(err)
					}
					checkHello(t, launchResult{rep: &rep, stdout: string(out)}, mpiFlavour[mpi], 2)
					if err := rt.Cleanup(context.Background(), job); err != nil {
						t.Error(err)
					}
					requireNoLeftovers(t, rt, job.ID)
					t.Logf("%s: inner wall %v, wire-up %v", Describe(NodeChoices(rt, spec)), rep.Wall.Round(time.Millisecond), rep.WireUp.Round(time.Millisecond))
				})
			}
		})
	}
}

// TestConformanceMissingPMIIsCaught: a rank without PMI variables runs as a
// singleton and exits 0. Every wrapper refuses to start such a rank; a rank
// that loses them inside the container anyway (here "env -u", as an
// entrypoint that resets the environment would) is caught by pmi.RequireWorld.
func TestConformanceMissingPMIIsCaught(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			spec := specFor(t, rt, "mpich", PerRank)
			// The program is not argv[0] here; bind its folder explicitly
			// (an OCI bundle's /tmp is a fresh tmpfs).
			spec.Binds = []string{filepath.Dir(probe(t, "mpich"))}
			w, err := rt.Wrapper(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			job := pmi.Job{ID: newJobID(t), Ranks: 2, PMI: pmi.PMI1, Channel: w.Channel()}
			cmd := &pmi.RankCommand{Rank: 1, Argv: []string{probe(t, "mpich"), "hello"}, Env: []string{"PATH=/usr/bin:/bin"}, CPU: -1}
			if err := w.WrapRank(job, cmd); !errors.Is(err, ErrMissingPMI) {
				t.Fatalf("WrapRank without PMI variables: %v, want ErrMissingPMI", err)
			}

			argv := []string{"/usr/bin/env"}
			for _, v := range []string{"PMI_FD", "PMI_PORT", "PMI_ID", "PMI_RANK", "PMI_SIZE"} {
				argv = append(argv, "-u", v)
			}
			argv = append(argv, probe(t, "mpich"), "hello")
			res := launchJob(t, w, pmi.PMI1, 2, argv, time.Minute)
			requireNoLeftovers(t, rt, res.jobID)
			if res.err != nil {
				t.Fatalf("launch: %v", res.err)
			}
			if !strings.Contains(res.stdout, "of 1 sum 0") {
				t.Fatalf("expected singleton ranks without PMI; stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			}
			err = pmi.RequireWorld(res.rep, "")
			if !errors.Is(err, pmi.ErrSingleton) {
				t.Fatalf("RequireWorld on a run of singletons: %v (report ok=%v reason=%q negotiated=%q)", err, res.rep.OK(), res.rep.Reason, res.rep.Negotiated)
			}
			t.Logf("caught: %v (launcher: ok=%v %q)", err, res.rep.OK(), res.rep.Reason)
		})
	}
}

// TestLeftoversAfterKilledLauncher: containers of an hpcbench that was
// SIGKILLed survive under the engine; CleanupLeftovers removes them, and
// leaves alone those of a live hpcbench.
func TestLeftoversAfterKilledLauncher(t *testing.T) {
	for _, name := range conformanceRuntimesWhere(t, isEngine) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			e := rt.(*engine)
			spec := specFor(t, rt, "mpich", PerRank)
			// A stand-in for a dead hpcbench: a process that has exited.
			dead := exec.Command("true")
			if err := dead.Run(); err != nil {
				t.Fatal(err)
			}
			deadPID := dead.Process.Pid
			jobDead, jobLive := newJobID(t), newJobID(t)
			ctx := context.Background()
			for _, c := range []struct {
				job   string
				owner int
			}{{jobDead, deadPID}, {jobLive, os.Getpid()}} {
				_, err := e.tool(ctx, "run", "-d", "--name", ContainerName(c.job, 0),
					"--label", LabelJob+"="+c.job, "--label", fmt.Sprintf("%s=%d", LabelOwner, c.owner),
					spec.Image.Ref, "/bin/sleep", "300")
				if err != nil {
					t.Fatal(err)
				}
			}
			defer e.removeJob(context.Background(), jobLive)
			defer e.removeJob(context.Background(), jobDead)
			removed, err := rt.(LeftoverCleaner).CleanupLeftovers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(leftovers(t, rt, jobDead)) != 0 {
				t.Errorf("the dead launcher's container survived CleanupLeftovers (removed %v)", removed)
			}
			if len(leftovers(t, rt, jobLive)) != 1 {
				t.Errorf("CleanupLeftovers removed a live launcher's container (removed %v)", removed)
			}
		})
	}
}

func TestPeakMemoryFromCgroup(t *testing.T) {
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool { return rt.Capabilities().PeakMemory }) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			w := wrapperFor(t, rt, "mpich", PerRank)
			pm, ok := w.(PeakMemory)
			if !ok {
				t.Fatalf("%s wrapper has no PeakMemory", name)
			}
			res := launchJob(t, w, pmi.PMI1, 2, []string{probe(t, "mpich"), "sleep"}, 4*time.Second)
			if res.err != nil {
				t.Fatal(res.err)
			}
			job := pmi.Job{ID: res.jobID}
			for r := 0; r < 2; r++ {
				b, ok := pm.PeakMemory(job, r)
				if !ok {
					t.Errorf("rank %d: no peak memory read from its cgroup", r)
					continue
				}
				// An MPICH rank maps at least a few MiB (libmpich alone is 41 MB).
				if b < 1<<20 || b > 8<<30 {
					t.Errorf("rank %d: peak memory %d bytes is implausible", r, b)
				}
				t.Logf("rank %d: peak %.1f MiB", r, float64(b)/(1<<20))
			}
		})
	}
}

// TestConformanceNoTempFoldersLeft: real jobs through Docker, Podman and
// Charliecloud, one that succeeds and one that aborts, leave no folder of
// theirs in $TMPDIR.
func TestConformanceNoTempFoldersLeft(t *testing.T) {
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool { return isEngine(rt) || rt.Name() == "charliecloud" }) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			w := wrapperFor(t, rt, "mpich", PerRank)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			for _, mode := range []string{"hello", "abort"} {
				res := launchJob(t, w, pmi.PMI1, 2, []string{probe(t, "mpich"), mode}, 2*time.Minute)
				if res.err != nil {
					t.Fatalf("%s: %v", mode, res.err)
				}
				if res.rep.OK() != (mode == "hello") {
					t.Fatalf("%s: ok=%v %s\n%s", mode, res.rep.OK(), res.rep.Reason, res.stderr)
				}
				requireNoLeftovers(t, rt, res.jobID)
			}
			left, _ := filepath.Glob(filepath.Join(tmp, "hpcbench-"+name+"-*"))
			if len(left) != 0 {
				t.Errorf("%d temporary folder(s) left after 2 jobs: %q", len(left), left)
			}
		})
	}
}

// TestConformanceRuntimeFlags: a config's runtime.flags reach the real
// runtime. Docker, Podman and Apptainer get --env, which the ranks must
// see; OCI bundles get --no-new-keyring, which crun and runc must accept.
func TestConformanceRuntimeFlags(t *testing.T) {
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool { return conformanceFixtures[rt.Name()].runFlags != nil }) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			fixture := conformanceFixtures[name]
			spec := specFor(t, rt, "mpich", PerRank)
			spec.Binds = []string{filepath.Dir(probe(t, "mpich"))}
			spec.Flags = fixture.runFlags
			w, err := rt.Wrapper(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			argv := []string{"/bin/sh", "-c", `echo "flag=$HPCBENCH_FLAG_SEEN"; exec "$0" hello`, probe(t, "mpich")}
			res := launchJob(t, w, pmi.PMI1, 2, argv, 2*time.Minute)
			checkHello(t, res, pmi.PMI1, 2)
			requireNoLeftovers(t, rt, res.jobID)
			if fixture.envFlag && strings.Count(res.stdout, "flag=yes") != 2 {
				t.Errorf("the ranks did not see the --env of runtime.flags:\n%s", res.stdout)
			}
			if got := w.Choices()["runtime_flags"]; got != quoteArgs(spec.Flags) {
				t.Errorf("choices runtime_flags = %q", got)
			}
		})
	}
}

// TestConformanceIsolation: by default (private isolation) a rank sees no
// host variable outside the allow-list but those pass_env names, cannot
// see the host's root filesystem through /proc/1/root, and cannot write
// to the host through /proc/<host pid>/root (the test's pid and the
// host's pid 1): a marker file the host keeps, in a folder no rank binds,
// stays as it was.
func TestConformanceIsolation(t *testing.T) {
	markerDir, err := os.MkdirTemp("/var/tmp", "hpcbench-isolation-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(markerDir)
	marker := filepath.Join(markerDir, "marker")
	t.Setenv("HPCBENCH_TEST_SECRET", "x")
	t.Setenv("HPCBENCH_TEST_PASSED", "yes")
	script := fmt.Sprintf(`echo "secret=${HPCBENCH_TEST_SECRET:-absent}"
echo "passed=${HPCBENCH_TEST_PASSED:-absent}"
for p in 1 %[1]d; do
  if [ -e /proc/$p/root%[2]s ]; then echo "hostroot=$p"; fi
  (echo rank > /proc/$p/root%[2]s) 2>/dev/null && echo "wrote=$p"
done
exec "$0" hello`, os.Getpid(), marker)
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool { return rt.Name() != "native" }) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				t.Run(mpi, func(t *testing.T) {
					if err := os.WriteFile(marker, []byte("host\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					spec := specFor(t, rt, mpi, PerRank)
					spec.Binds = []string{filepath.Dir(probe(t, mpi))}
					spec.PassEnv = []string{"HPCBENCH_TEST_PASS*"}
					w, err := rt.Wrapper(context.Background(), spec)
					if err != nil {
						t.Fatal(err)
					}
					if got := w.Choices()["isolation"]; got != string(IsolationPrivate) {
						t.Errorf("choices isolation = %q, want private by default", got)
					}
					res := launchJob(t, w, mpiFlavour[mpi], 2, []string{"/bin/sh", "-c", script, probe(t, mpi)}, 2*time.Minute)
					checkHello(t, res, mpiFlavour[mpi], 2)
					requireNoLeftovers(t, rt, res.jobID)
					if n := strings.Count(res.stdout, "secret=absent"); n != 2 {
						t.Errorf("a host variable outside the allow-list reached %d of 2 ranks:\n%s", 2-n, res.stdout)
					}
					if n := strings.Count(res.stdout, "passed=yes"); n != 2 {
						t.Errorf("a pass_env variable reached %d of 2 ranks:\n%s", n, res.stdout)
					}
					for _, bad := range []string{"hostroot=", "wrote="} {
						if strings.Contains(res.stdout, bad) {
							t.Errorf("a rank reached the host's files through /proc/<pid>/root (%s):\n%s", bad, res.stdout)
						}
					}
					if b, err := os.ReadFile(marker); err != nil || string(b) != "host\n" {
						t.Errorf("the host's marker file changed: %q, %v", b, err)
					}
				})
			}
		})
	}
}

// TestConformanceShmIsolated: with shm = isolated, every container
// runtime's per-rank ranks still form one job (over the MPI's network
// path), and the run records the mode and CMA's availability.
func TestConformanceShmIsolated(t *testing.T) {
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool { return rt.Name() != "native" }) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, mpi := range []string{"mpich", "openmpi"} {
				t.Run(mpi, func(t *testing.T) {
					spec := specFor(t, rt, mpi, PerRank)
					spec.Shm = ShmIsolated
					w, err := rt.Wrapper(context.Background(), spec)
					if err != nil {
						t.Fatal(err)
					}
					c := w.Choices()
					if c["shm"] != string(ShmIsolated) || c["shm_transport"] == "" || c["cma"] == "" {
						t.Errorf("choices shm=%q shm_transport=%q cma=%q", c["shm"], c["shm_transport"], c["cma"])
					}
					// MPICH's finalize over UCX's TCP path can deadlock
					// (finalizeDeadlock), in about one run of ten on a loaded
					// machine (natively too): such a run is tried again, four
					// times at most; any other failure fails at once.
					attempts := 1
					if mpi == "mpich" {
						attempts = 5
					}
					var res launchResult
					for a := 1; ; a++ {
						res = launchJob(t, w, mpiFlavour[mpi], 2, []string{probe(t, mpi), "hello"}, 30*time.Second)
						if a == attempts || !finalizeDeadlock(res, 2) {
							break
						}
						t.Logf("attempt %d: both ranks reported, then the job timed out in MPI_Finalize (MPICH 4.0.2's UCX TCP finalize race); trying again", a)
						requireNoLeftovers(t, rt, res.jobID)
					}
					checkHello(t, res, mpiFlavour[mpi], 2)
					requireNoLeftovers(t, rt, res.jobID)
					t.Logf("%s: %s; cma %s", Describe(c), c["shm_how"], c["cma"])
				})
			}
		})
	}
}

// finalizeDeadlock says whether res is the one known way an MPICH job of
// n ranks kept off shared memory (UCX over TCP) fails: every rank printed
// its hello line, then the job ran into its time limit. MPICH 4.0.2's UCX
// finalize closes each endpoint in flush mode, progressing only until its
// own closes complete, then blocks in the PMI barrier; a rank that gets
// there first no longer reads its sockets, so a peer whose close waits for
// its answer spins for ever. Seen here under load: one rank in
// ucp_worker_progress under MPI_Finalize, the other blocked reading its PMI
// socket with 25 bytes of the first one's unread on its UCX socket. Later
// MPICH releases changed that finalize; the user's MPI is not hpcbench's to
// change, and a study records such a run as timed out.
func finalizeDeadlock(res launchResult, n int) bool {
	if res.rep == nil || res.rep.Failure != pmi.FailureTimeout {
		return false
	}
	return len(helloLine.FindAllStringSubmatch(res.stdout, -1)) == n
}

// TestConformanceOneRankPIDNamespace: a job of one rank in private
// isolation, which starts no pid namespace holder in Docker, Podman and
// OCI bundles, still runs in a pid namespace of its own: the rank sees
// its own processes only.
func TestConformanceOneRankPIDNamespace(t *testing.T) {
	script := `n=0; for d in /proc/[0-9]*; do n=$((n+1)); done
echo "procs=$n"
exec "$0" hello`
	for _, name := range conformanceRuntimesWhere(t, func(rt Runtime) bool {
		return rt.Name() == "docker" || rt.Name() == "podman" || rt.Name() == "oci"
	}) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			spec := specFor(t, rt, "mpich", PerRank)
			spec.Binds = []string{filepath.Dir(probe(t, "mpich"))}
			w, err := rt.Wrapper(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Choices()["pid"]; got != "private" {
				t.Fatalf("choices pid = %q, want private", got)
			}
			res := launchJob(t, w, mpiFlavour["mpich"], 1, []string{"/bin/sh", "-c", script, probe(t, "mpich")}, 2*time.Minute)
			checkHello(t, res, mpiFlavour["mpich"], 1)
			requireNoLeftovers(t, rt, res.jobID)
			var procs int
			for _, line := range strings.Split(res.stdout, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "procs="); ok {
					procs, _ = strconv.Atoi(v)
				}
			}
			// The shell, and at most a child of its own; the host has
			// hundreds.
			if procs < 1 || procs > 3 {
				t.Errorf("the rank saw %d processes, want its own only (a pid namespace of its own):\n%s", procs, res.stdout)
			}
		})
	}
}
