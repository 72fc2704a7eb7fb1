package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
)

// injectionConfig is a valid config with shell metacharacters everywhere a
// valid config may hold them: the ranks' environment, a program's
// arguments, the NPB folder, an sbatch option's quoted value. Each
// injected command would create a file named PWNED in the folder the
// script runs in (or in outside).
func injectionConfig(outside string) string {
	touch := "touch PWNED; touch " + filepath.Join(outside, "PWNED-abs")
	evil := []string{
		"$(" + touch + ")", "`" + touch + "`", "; " + touch, "&& " + touch, "| " + touch, "> PWNED",
		"'; " + touch + "; '", `"; ` + touch + `; "`, "line\n" + touch, "\r\n" + touch, "$PATH", "*", "~", "!!", `\`, "#no comment",
	}
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	var argv []string
	for _, e := range evil {
		argv = append(argv, q(e))
	}
	return `
[study]
repetitions = 1
warmup = 0
npb_dir = ` + q("/opt/x y/$("+touch+")/`"+touch+"`;"+touch) + `
env = { EVIL = ` + q(strings.Join(evil, " ")+" ${HOME} {x}") + ` }

[matrix]
mpi = ["mpich"]
pmi = ["pmi1", "pmix"]
ranks = [1, 2]

[[benchmark]]
kind = "command"
name = "inject"
argv = ["{dir}/prog", ` + strings.Join(argv, ", ") + `]
check_binary = false

[[benchmark]]
kind = "command"
name = "commas"
argv = ["/bin/prog", "a,b"]
# A comma in a value: srun --export cannot carry it, env(1) does.
env = { LIST = ` + q("a,b;"+touch) + ` }
check_binary = false

[[runtime]]
name = "native"

[slurm]
modules = ["mpi/openmpi-4.1"]
cpu_bind = "map_cpu:0,1"
sbatch_flags = [` + q(`--comment="$(`+touch+`); `+touch+`"`) + `, "--exclusive"]
prologue = "true"
`
}

// TestInjectedScriptsRunNothing generates the scripts of a config full of
// shell metacharacters and runs them under bash with stub srun, module
// and hpcbench on PATH, in a folder of their own: every srun gets exactly
// the words the manifest holds, nothing injected runs, and nothing is
// written outside the output folder.
func TestInjectedScriptsRunNothing(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root := t.TempDir()
	out, outside, tools := filepath.Join(root, "out"), filepath.Join(root, "outside"), filepath.Join(root, "to ols'$(touch PWNED)")
	cfgDir := filepath.Join(root, "cfg")
	for _, d := range []string{outside, tools, cfgDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stubs := map[string]string{
		"srun":     "#!/bin/sh\nprintf '%s\\0' \"$@\"\n",
		"module":   "#!/bin/sh\nexit 0\n",
		"hpcbench": "#!/bin/sh\nexit 0\n",
	}
	for name, text := range stubs {
		if err := os.WriteFile(filepath.Join(tools, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The config's own path, and the MPICH builds' folders, reach the
	// scripts' comments and words too.
	cfgPath := filepath.Join(cfgDir, "st$(touch PWNED)'x\nz.toml")
	if err := os.WriteFile(cfgPath, []byte(injectionConfig(outside)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	inv := nodeWithBuilds("/opt/hp c$(touch PWNED)\n`touch PWNED`")
	study, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Generate(context.Background(), study, GenOptions{Dir: out, Self: filepath.Join(tools, "hpcbench"), Group: GroupBenchmark})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Jobs) != 2 || plan.Runs() != 8 {
		t.Fatalf("%d jobs, %d runs; want 2 jobs of 4 runs (skipped: %v)", len(plan.Jobs), plan.Runs(), plan.Skipped)
	}
	viaEnv := false
	for _, j := range plan.Jobs {
		script, err := os.ReadFile(j.Script)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", j.Script)
		cmd.Dir = outside
		cmd.Env = []string{"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + outside, "TMPDIR=" + outside, "LANG=C"}
		stderr, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("bash %s: %v\n%s\n%s", j.Script, err, stderr, script)
		}
		if status, _ := os.ReadFile(j.ExitStatusFile()); strings.TrimSpace(string(status)) != "0" {
			t.Errorf("%s: exit-status file %q, want 0", j.Name, status)
		}
		for _, r := range j.Runs {
			got, err := os.ReadFile(r.Output)
			if err != nil {
				t.Fatalf("run %s: srun never ran: %v", r.ID, err)
			}
			words := strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00")
			if !slices.Equal(words, r.Srun[1:]) {
				t.Errorf("job %s run %s: srun got\n%q\nwant\n%q\nscript:\n%s", j.Name, r.ID, words, r.Srun[1:], script)
			}
			viaEnv = viaEnv || slices.Contains(words, "env")
		}
	}
	if !viaEnv {
		t.Errorf("no srun line went through env(1): the comma case was not exercised")
	}
	// Nothing outside the output folder: the folder the scripts ran in
	// is empty, and no injected file exists anywhere under root.
	if left, _ := os.ReadDir(outside); len(left) > 0 {
		t.Errorf("the scripts wrote in the folder they ran in: %v", left)
	}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "PWNED") {
			t.Errorf("an injected command ran: %s exists", path)
		}
		return nil
	})
	if left, _ := os.ReadDir(tools); len(left) != len(stubs) {
		t.Errorf("the scripts wrote beside the stubs: %v", left)
	}
}

// TestGenRefusesUnsafeSettings: what the config's validation cannot see
// (command-line overrides, a plan built in code) is checked when the
// scripts are written, before anything is: a line break in a #SBATCH
// value, a study name that leaves the output folder, an output folder a
// #SBATCH line cannot carry, a job folder outside the output folder.
func TestGenRefusesUnsafeSettings(t *testing.T) {
	cfg := loadConfig(t, `
[study]
name = "safe"
repetitions = 1
warmup = 0
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]
[[benchmark]]
kind = "command"
name = "prog"
argv = ["/bin/prog"]
check_binary = false
[[runtime]]
name = "native"
`)
	newStudy := func() *matrix.Plan {
		p, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Study: "safe", Inventory: nodeWithBuilds("/opt/b")})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := t.TempDir()
	canary := filepath.Join(root, "keep")
	if err := os.WriteFile(canary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "sub", "out")
	tests := []struct {
		name  string
		opts  GenOptions
		study func(*matrix.Plan)
		want  string
	}{
		{"partition flag with a newline", GenOptions{Partition: "debug\necho injected"}, nil, "--partition"},
		{"account flag with a newline", GenOptions{Account: "a\necho injected"}, nil, "--account"},
		{"time flag with a newline", GenOptions{Time: "10\necho injected"}, nil, "--time"},
		{"study leaving the folder", GenOptions{}, func(p *matrix.Plan) { p.Study = "../../../x" }, "study name"},
		{"study with a newline", GenOptions{}, func(p *matrix.Plan) { p.Study = "s\necho injected" }, "study name"},
		{"sbatch flag set in code", GenOptions{}, func(p *matrix.Plan) {
			c := *p.Config
			c.Slurm = &configs.Slurm{Nodes: 1, SbatchFlags: []string{"--exclusive\necho injected"}}
			p.Config = &c
		}, "sbatch_flags"},
		{"benchmark job folder outside", GenOptions{Group: GroupBenchmark}, func(p *matrix.Plan) {
			for i := range p.Cells {
				p.Cells[i].Benchmark = ".."
			}
		}, "not a folder name inside"},
		{"output folder with a space", GenOptions{Dir: filepath.Join(root, "a b")}, nil, "output folder"},
	}
	for _, tt := range tests {
		study := newStudy()
		if tt.study != nil {
			tt.study(study)
		}
		opts := tt.opts
		if opts.Dir == "" {
			opts.Dir = out
		}
		opts.Self = "/usr/bin/hpcbench"
		_, err := Generate(context.Background(), study, opts)
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrUnsafe naming %q", tt.name, err, tt.want)
		}
		if _, err := os.Stat(canary); err != nil {
			t.Fatalf("%s: removed a file outside the output folder: %v", tt.name, err)
		}
		for _, p := range []string{root, filepath.Dir(out)} {
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				if e.Name() != "keep" && e.Name() != "sub" && e.Name() != "out" {
					t.Errorf("%s: wrote %s in %s", tt.name, e.Name(), p)
				}
			}
		}
		if entries, _ := os.ReadDir(out); len(entries) > 0 {
			t.Errorf("%s: wrote in the output folder before refusing: %v", tt.name, entries)
		}
	}
}

// TestSubmitStudyNameStaysInFolder: "slurm submit" with no -o puts a
// study's scripts in hpcbench-slurm/STUDY; a study named ../../../x is
// refused before anything is written, there or anywhere.
func TestSubmitStudyNameStaysInFolder(t *testing.T) {
	cfg := loadConfig(t, "[study]\nname = \"s\"\n[matrix]\nmpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]\n"+
		"[[benchmark]]\nkind = \"command\"\nname = \"prog\"\nargv = [\"/bin/prog\"]\ncheck_binary = false\n")
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	work := filepath.Join(t.TempDir(), "a", "b", "c")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	study, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Study: "s", Inventory: nodeWithBuilds("/opt/b")})
	if err != nil {
		t.Fatal(err)
	}
	study.Study = "../../../x"
	var log bytes.Buffer
	_, err = Submit(context.Background(), study, SubmitOptions{Store: st, Gen: GenOptions{Self: "/usr/bin/hpcbench"}, Log: &log})
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("err = %v, want ErrUnsafe", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) > 0 {
		t.Errorf("submit wrote in %s: %v", work, entries)
	}
	// hpcbench-slurm/../../../x from work.
	if _, err := os.Stat(filepath.Join(work, "..", "..", "x")); err == nil {
		t.Errorf("submit wrote outside hpcbench-slurm/")
	}
	// The same through matrix.NewPlan, as --study gives it.
	if _, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Study: "../../../x", Inventory: nodeWithBuilds("/opt/b")}); !errors.Is(err, matrix.ErrOverride) {
		t.Errorf("--study ../../../x: %v, want ErrOverride", err)
	}
}
