package runtimes

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

// BenchmarkRankStartVsCLI compares, per container runtime, the start of
// one rank of /bin/true by "hpcbench launch" with the runtime's own
// command line starting the same image: whole processes, timed from the
// outside, in interleaved rounds (hpcbench in private isolation, the
// default; hpcbench in host isolation; the runtime's CLI), medians, their
// ratios and what hpcbench adds in milliseconds (the median of the
// rounds' paired differences) printed. Where the CLI
// starts a rank in a few milliseconds (ch-run, runc) the difference is the
// figure to read: hpcbench's own start, its PMI server and its wait for
// the rank are a few milliseconds in any case.
//
// The CLI baselines share hpcbench's namespaces where a choice exists:
//
//	docker, podman  R run --rm --network host --ipc host IMAGE /bin/true
//	                (a pid namespace of the container's own, as private
//	                isolation gives a job of one rank)
//	apptainer       apptainer exec SIF /bin/true
//	oci             runc run (or crun run) of the bundle hpcbench writes
//	                for the rank (a pid namespace of its own, the working
//	                folder bound in)
//	charliecloud    ch-run ROOTFS -- /bin/true
//
// One untimed round goes first (it fills the version cache, as any start
// after a reboot or an upgrade does).
//
//	go test ./runtimes -run '^$' -bench RankStartVsCLI -benchtime 1x
//
// hpcbench is built as "make build" builds it: the front program, which
// runs such a launch itself.
// HPCBENCH_BENCH_ROUNDS (default 8) sets the rounds; HPCBENCH_BENCH_HPCBENCH
// names another hpcbench program to measure (an older build, for a before
// and after).
func BenchmarkRankStartVsCLI(b *testing.B) {
	rounds := 8
	if v, err := strconv.Atoi(os.Getenv("HPCBENCH_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	bin := os.Getenv("HPCBENCH_BENCH_HPCBENCH")
	if bin == "" {
		bin = testenv.BuildPrograms(b, "../cmd/hpcbench")
	}
	m := testImage(b, "mpich", false)
	work := b.TempDir()
	env := append(os.Environ(), "USER="+chUser())

	type row struct {
		name                   string
		private, host, cli     []string
		tPrivate, tHost, tCLI  []float64
		failPriv, failH, failC int
	}
	var rows []*row
	for _, name := range []string{"docker", "podman", "apptainer", "oci", "charliecloud"} {
		rt, err := Get(name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Detect(b.Context()); err != nil {
			testenv.Missingf(b, "%s not available here, left out: %v", name, err)
			continue
		}
		launch := []string{bin, "launch", "-q", "-n", "1", "--no-pmi", "--runtime", name, "--image", m.Name}
		r := &row{name: name,
			private: append(append([]string(nil), launch...), "--", "/bin/true"),
			host:    append(append([]string(nil), launch...), "--isolation", "host", "--", "/bin/true"),
		}
		switch name {
		case "docker", "podman":
			e := rt.(*engine)
			ref := m.Engines[name].Ref
			if ref == "" {
				testenv.Missingf(b, "image %s has no %s copy, left out", m.Name, name)
				continue
			}
			r.cli = e.command("run", "--rm", "--network", "host", "--ipc", "host", ref, "/bin/true")
			env = append(env, e.env...)
		case "apptainer":
			if m.SIF == nil {
				testenv.Missingf(b, "image %s has no SIF, left out", m.Name)
				continue
			}
			r.cli = []string{rt.(*apptainer).binary(), "exec", m.SIF.Path, "/bin/true"}
		case "oci":
			// The bundle hpcbench itself writes for the rank (its mounts,
			// the working folder's bind, its environment), kept for
			// every round.
			info, err := rt.Prepare(b.Context(), m.Name)
			if err != nil {
				b.Fatal(err)
			}
			w, err := rt.Wrapper(b.Context(), Spec{Layout: PerRank, Image: info})
			if err != nil {
				b.Fatal(err)
			}
			job := pmi.Job{ID: "cli-" + strconv.Itoa(os.Getpid()), Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
			cmd := &pmi.RankCommand{Argv: []string{"/bin/true"}, Dir: work, CPU: -1,
				Env: []string{"PATH=/usr/bin:/bin", "PMI_FD=3", "PMI_RANK=0", "PMI_SIZE=1", "PMI_JOBID=" + job.ID}}
			null, err := os.Open(os.DevNull) // stands for the PMI socket
			if err != nil {
				b.Fatal(err)
			}
			cmd.ExtraFiles = []*os.File{null}
			err = w.WrapRank(job, cmd)
			null.Close()
			if err != nil {
				b.Fatal(err)
			}
			i := slices.Index(cmd.Argv, "--bundle")
			if i < 0 {
				b.Fatalf("oci rank command without a bundle: %q", cmd.Argv)
			}
			bundle := filepath.Join(work, "bundle")
			if err := os.CopyFS(bundle, os.DirFS(cmd.Argv[i+1])); err != nil {
				b.Fatal(err)
			}
			_ = w.Cleanup(job)
			r.cli = []string{rt.(*ociRuntime).binary(), "run", "--bundle", bundle, "hpcbench-bench-cli-" + strconv.Itoa(os.Getpid())}
		case "charliecloud":
			r.cli = []string{rt.(*charliecloud).binary(), m.Rootfs, "--", "/bin/true"}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		b.Skip("no container runtime")
	}
	run := func(argv []string) (float64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env, cmd.Dir = env, work
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start).Seconds()
		if err != nil {
			return 0, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return d, nil
	}
	// A timed sample that failed is NaN, so that the three series stay
	// in step round by round for the paired differences.
	sample := func(argv []string, into *[]float64, failed *int, timed bool) {
		d, err := run(argv)
		if err != nil {
			*failed++
			b.Logf("sample left out: %v", err)
			d = math.NaN()
		}
		if timed {
			*into = append(*into, d)
		}
	}
	for round := -1; round < rounds; round++ {
		for _, r := range rows {
			// The order turns round by round: none of the three always
			// follows another.
			order := []int{0, 1, 2}
			if round >= 0 {
				k := round % 3
				order = append(order[k:], order[:k]...)
			}
			for _, i := range order {
				switch i {
				case 0:
					sample(r.private, &r.tPrivate, &r.failPriv, round >= 0)
				case 1:
					sample(r.host, &r.tHost, &r.failH, round >= 0)
				case 2:
					sample(r.cli, &r.tCLI, &r.failC, round >= 0)
				}
			}
		}
	}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "runtime\tits CLI (s)\thpcbench private (s)\tx CLI\t+ms\thpcbench host (s)\tx CLI\t+ms\tsamples\t\n")
	for _, r := range rows {
		c, p, h := median(finite(r.tCLI)), median(finite(r.tPrivate)), median(finite(r.tHost))
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%s\t%+.1f\t%.3f\t%s\t%+.1f\t%d/%d/%d\t\n", r.name, c,
			p, ratio(p, c), pairedDiff(r.tPrivate, r.tCLI)*1000, h, ratio(h, c), pairedDiff(r.tHost, r.tCLI)*1000,
			len(finite(r.tPrivate)), len(finite(r.tHost)), len(finite(r.tCLI)))
	}
	tw.Flush()
	b.Logf("one rank of /bin/true, whole processes, medians of %d interleaved rounds; +ms is the median of the rounds' differences to the CLI:\n%s", rounds, sb.String())
	fmt.Println(sb.String())
	for _, r := range rows {
		if r.failPriv+r.failH+r.failC > 0 {
			b.Errorf("%s: %d/%d/%d failed starts", r.name, r.failPriv, r.failH, r.failC)
		}
	}
}

// finite is v without its NaNs (failed samples).
func finite(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// pairedDiff is the median of a[i]-b[i] over the rounds where both
// samples were taken: what one adds to the other, steadier than the
// difference of two medians when the machine's speed drifts from round to
// round.
func pairedDiff(a, b []float64) float64 {
	var d []float64
	for i := range min(len(a), len(b)) {
		if !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			d = append(d, a[i]-b[i])
		}
	}
	return median(d)
}
