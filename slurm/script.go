package slurm

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
)

// srunPlacement is what a run's srun line needs besides the cell.
type srunPlacement struct {
	nodes   int // 0: srun decides (inside an allocation)
	cpuBind string
	work    string
	env     []string
	self    string // hpcbench, for "slurm task"
	image   string // the resolved image reference
}

// srunLine is the whole srun command line of a run, and the choices it
// stands for.
func srunLine(c matrix.Cell, p srunPlacement) ([]string, map[string]string) {
	plugin := MPIPlugin(c.PMI)
	argv := []string{"srun", "--mpi=" + plugin}
	if p.nodes > 0 {
		argv = append(argv, "--nodes="+strconv.Itoa(p.nodes))
	}
	argv = append(argv, "--ntasks="+strconv.Itoa(c.Ranks))
	bind := p.cpuBind
	if bind == "" && c.Bind == "core" {
		bind = "cores"
	}
	if bind != "" {
		argv = append(argv, "--cpu-bind="+bind)
	}
	if c.Timeout > 0 {
		// The step's own limit: one hung run must not eat the job's time.
		argv = append(argv, "--time="+strconv.Itoa(minutes(c.Timeout)))
	}
	if p.work != "" {
		argv = append(argv, "--chdir="+p.work)
	}
	var viaEnv []string
	if len(p.env) > 0 {
		commas := false
		for _, kv := range p.env {
			commas = commas || strings.Contains(kv, ",")
		}
		if commas {
			// --export cannot carry a comma in a value.
			viaEnv = append([]string{"env"}, p.env...)
		} else {
			argv = append(argv, "--export=ALL,"+strings.Join(p.env, ","))
		}
	}
	choices := map[string]string{"launcher": "srun", "srun_mpi": plugin}
	if bind != "" {
		choices["cpu_bind"] = bind
	}
	if !c.IsNative() {
		argv = append(argv, p.self, "slurm", "task", "--runtime", c.Runtime, "--image", p.image)
		if c.Layout != "" {
			argv = append(argv, "--layout", string(c.Layout))
		}
		if c.RuntimeCommand != "" {
			argv = append(argv, "--runtime-command", c.RuntimeCommand)
		}
		if len(c.RuntimeFlags) > 0 {
			// One word, as JSON: a flag may hold commas or spaces.
			b, _ := json.Marshal(c.RuntimeFlags)
			argv = append(argv, "--runtime-flags", string(b))
		}
		if c.Isolation != "" {
			argv = append(argv, "--isolation", c.Isolation)
		}
		if c.Shm != "" && c.Shm != configs.ShmShared {
			argv = append(argv, "--shm", c.Shm)
		}
		if pass := containerPassEnv(c); len(pass) > 0 {
			b, _ := json.Marshal(pass)
			argv = append(argv, "--pass-env", string(b))
		}
		argv = append(argv, "--mpi", c.MPI, "--pmi", string(c.PMI))
		if c.MPIBuild != nil {
			argv = append(argv, "--mpi-build", c.MPIBuild.Prefix)
		}
		argv = append(argv, "--")
	}
	argv = append(argv, viaEnv...)
	argv = append(argv, absoluteProgram(c.Argv)...)
	return argv, choices
}

// absoluteProgram makes a relative program path absolute: the ranks run in
// their own working folder.
func absoluteProgram(argv []string) []string {
	out := append([]string(nil), argv...)
	if len(out) > 0 && strings.ContainsRune(out[0], '/') && !filepath.IsAbs(out[0]) {
		if abs, err := filepath.Abs(out[0]); err == nil {
			out[0] = abs
		}
	}
	return out
}

// renderScript writes the batch script of job j. Every word of a command
// is shell-quoted; what lands in a comment or a #SBATCH line, which cannot
// be quoted for bash, is either checked to be one printable word
// (checkBatchSettings, sbatchPath) or written through commentText.
func renderScript(j *Job, sc configs.Slurm, self string) (string, error) {
	jobDir, err := sbatchPath(j.Dir)
	if err != nil {
		return "", err
	}
	output := jobDir + "/job-%j.out" // %j: sbatch puts the job id there
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	mpis, runtimesUsed, benchmarks := describeRuns(j.Runs)
	w("#!/bin/bash\n")
	w("# hpcbench study %s, job %s: %d runs of %s.\n", commentText(j.Study), commentText(j.Name), len(j.Runs), commentText(benchmarks))
	w("# MPI under srun: %s; runtimes: %s.\n", commentText(mpis), commentText(runtimesUsed))
	w("# Written by hpcbench %s from %s.\n", commentText(j.Version), commentText(j.Config))
	w("#\n")
	w("# Submit it with \"sbatch %s\", or let \"hpcbench slurm submit\" submit,\n", filepath.Base(j.Script))
	w("# watch and import it. Each run's output goes to %s/output/NNN.out and its\n", j.Name)
	w("# result, as JSON, to %s/results/NNN.json; the submitting host imports them\n", j.Name)
	w("# (\"hpcbench slurm collect\"). SQLite is never written from inside the job.\n")
	w("#SBATCH --job-name=hpcbench-%s\n", j.Name)
	w("#SBATCH --nodes=%d\n", j.Nodes)
	w("#SBATCH --ntasks=%d\n", j.NTasks)
	w("#SBATCH --time=%s\n", j.Time)
	if sc.Partition != "" {
		w("#SBATCH --partition=%s\n", sc.Partition)
	}
	if sc.Account != "" {
		w("#SBATCH --account=%s\n", sc.Account)
	}
	w("#SBATCH --output=%s\n", output)
	for _, f := range sc.SbatchFlags {
		w("#SBATCH %s\n", f)
	}
	w("\n")
	w("HPCBENCH=%s\n", shellQuote(self))
	w("JOBDIR=%s\n", shellQuote(j.Dir))
	w("RUNS=%s\n", shellQuote(j.Manifest))
	w("\n")
	w("# However the job ends (cancelled: SIGTERM), leave its exit status for\n")
	w("# the submitting host, which watches for this file.\n")
	w("trap 'echo $? >\"$JOBDIR/exit-status\"' EXIT\n")
	w("trap 'exit 143' TERM\n")
	w("\n")
	if len(sc.Modules) > 0 {
		w("# Modules first: some module systems trip over set -u.\n")
		for _, m := range sc.Modules {
			w("module load %s\n", shellQuote(m))
		}
		w("\n")
	}
	w("set -euo pipefail\n")
	w("\n")
	if p := strings.TrimSpace(sc.Prologue); p != "" {
		w("# Prologue from the config's [slurm] section.\n")
		w("%s\n\n", p)
	}
	w("# run ID COMMAND...: one run of one cell. The command's output goes to\n")
	w("# output/ID.out; its exit status, start and end times and output file go\n")
	w("# to \"hpcbench slurm record\", which judges the output and writes\n")
	w("# results/ID.json. A failed run does not end the job.\n")
	w("run() {\n")
	w("\tlocal id=$1\n")
	w("\tshift\n")
	w("\tlocal out=\"$JOBDIR/output/$id.out\" status=0 start end\n")
	w("\tstart=$(date +%%s.%%N)\n")
	w("\t\"$@\" >\"$out\" 2>&1 || status=$?\n")
	w("\tend=$(date +%%s.%%N)\n")
	w("\t\"$HPCBENCH\" slurm record --runs \"$RUNS\" --id \"$id\" --exit-status \"$status\" \\\n")
	w("\t\t--start \"$start\" --end \"$end\" --output \"$out\" ||\n")
	w("\t\techo \"hpcbench slurm record failed for run $id\" >&2\n")
	w("}\n")
	for i, r := range j.Runs {
		c := r.Cell
		kind := fmt.Sprintf("rep %d", c.Repetition)
		if c.Warmup {
			kind = fmt.Sprintf("warm-up %d", c.Repetition)
		}
		what := c.Benchmark
		if c.Class != "" {
			what += " class " + c.Class
		}
		where := c.RuntimeLabel
		if c.Layout != "" {
			where += " " + string(c.Layout)
		}
		w("\n# %d/%d, %s: %s, %s %s, %s, %d ranks\n", i+1, len(j.Runs), kind, commentText(what), commentText(c.MPI), commentText(string(c.PMI)), commentText(where), c.Ranks)
		if b := c.MPIBuild; b != nil && c.IsNative() {
			// The build's lib folder first on the loader path of this step
			// only, before what the job's modules put there; srun passes
			// it on to the ranks.
			w("# MPICH build %s: %s\n", commentText(b.Flavour), commentText(b.Prefix))
			w("%s=%s${%s:+:$%s} \\\n", mpibuild.LibraryPathVar, shellQuote(b.LibDir), mpibuild.LibraryPathVar, mpibuild.LibraryPathVar)
		}
		w("run %s %s\n", r.ID, renderArgv(r.Srun, self, j.Dir))
	}
	return b.String(), nil
}

// renderArgv writes an srun line as shell words, with hpcbench and the
// job's folder as the script's variables, broken before the program (and
// before "hpcbench slurm task").
func renderArgv(argv []string, self, jobDir string) string {
	var words []string
	inFlags := true
	for i, a := range argv {
		word := shellQuote(a)
		switch rest, ok := strings.CutPrefix(a, "--chdir="+jobDir+"/"); {
		case a == self:
			word = `"$HPCBENCH"`
		case ok && shellQuote(rest) == rest:
			word = `--chdir="$JOBDIR/` + rest + `"`
		}
		if i > 0 && inFlags && !strings.HasPrefix(a, "-") {
			inFlags = false
			word = "\\\n\t" + word
		} else if i > 0 && argv[i-1] == "--" {
			word = "\\\n\t" + word
		}
		words = append(words, word)
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for bash when it needs it.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// describeRuns names the MPI libraries with their srun plugin, the
// runtimes and the benchmarks of a job's runs, for its header.
func describeRuns(runs []Run) (mpis, rts, benchmarks string) {
	mpi, rt, bench := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		mpi[fmt.Sprintf("%s %s with --mpi=%s", r.Cell.MPI, r.Cell.PMI, r.MPIPlugin)] = true
		l := r.Cell.RuntimeLabel
		if r.Cell.Layout != "" {
			l += " " + string(r.Cell.Layout)
		}
		rt[l] = true
		b := r.Cell.Benchmark
		if r.Cell.Class != "" {
			b += " " + r.Cell.Class
		}
		bench[b] = true
	}
	return joinKeys(mpi), joinKeys(rt), joinKeys(bench)
}

func joinKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// containerPassEnv is what the task's ranks get beyond the runtimes'
// allow-list: the runtime entry's pass_env and the names of the cell's
// env, which the batch script exports.
func containerPassEnv(c matrix.Cell) []string {
	return append(append([]string(nil), c.PassEnv...), slices.Sorted(maps.Keys(c.Env))...)
}
