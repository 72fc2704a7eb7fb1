package runtimes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHolderReuse: with ReuseHolders, the jobs of a process, Docker and
// Podman alike, one after another, join one pid namespace holder, in
// which the second job sees nothing of the first (its ranks, and the
// holder); ReleaseHolders removes it.
func TestHolderReuse(t *testing.T) {
	script := `n=0; for d in /proc/[0-9]*; do n=$((n+1)); done
echo "procs=$n"
exec "$0" hello`
	for _, name := range conformanceRuntimesWhere(t, isEngine) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			e := rt.(*engine)
			ReuseHolders()
			t.Cleanup(func() { ReleaseHolders(context.Background()) })
			holders := func() []string {
				argv := e.command("ps", "-a", "-q", "--no-trunc", "--filter", "label="+LabelOwner+"="+strconv.Itoa(os.Getpid()), "--filter", "label="+LabelRank+"=pid")
				out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
				if err != nil {
					t.Fatalf("%q: %v\n%s", argv, err, out)
				}
				return strings.Fields(string(out))
			}
			var kept []string
			for job := 0; job < 2; job++ {
				spec := specFor(t, rt, "mpich", PerRank)
				spec.Binds = []string{filepath.Dir(probe(t, "mpich"))}
				w, err := rt.Wrapper(context.Background(), spec) // a wrapper per run, as a study makes
				if err != nil {
					t.Fatal(err)
				}
				if c := w.Choices()["pid_namespace"]; !strings.Contains(c, "reuse") {
					t.Errorf("choices pid_namespace = %q, want it to say the holder is reused", c)
				}
				res := launchJob(t, w, mpiFlavour["mpich"], 2, []string{"/bin/sh", "-c", script, probe(t, "mpich")}, 2*time.Minute)
				checkHello(t, res, mpiFlavour["mpich"], 2)
				requireNoLeftovers(t, rt, res.jobID)
				// The holder and the rank, its peer if started by then,
				// each with a child at most; a first job's ranks left in
				// the namespace would add theirs.
				for _, line := range strings.Split(res.stdout, "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), "procs="); ok {
						if n, _ := strconv.Atoi(v); n < 2 || n > 5 {
							t.Errorf("job %d: a rank saw %d processes in its pid namespace, want the holder and the job's ranks only:\n%s", job, n, res.stdout)
						}
					}
				}
				h := holders()
				if len(h) != 1 {
					t.Fatalf("after job %d: holders %q, want one kept", job, h)
				}
				kept = append(kept, h[0])
			}
			if kept[0] != kept[1] {
				t.Errorf("the second job started a holder of its own (%s, then %s)", kept[0], kept[1])
			}
			if err := ReleaseHolders(context.Background()); err != nil {
				t.Fatal(err)
			}
			if h := holders(); len(h) > 0 {
				t.Errorf("holders left after ReleaseHolders: %q", h)
			}
		})
	}
}
