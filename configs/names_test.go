package configs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestUnsafeWordsRefused: every word of a config that reaches a batch
// script, a folder name or a cell key is refused, with its key and line,
// when it holds what could end a script line (a newline), leave a folder
// ("../"), or hide what it says (NUL, U+202E).
func TestUnsafeWordsRefused(t *testing.T) {
	rep := func(old, new string) string { return strings.Replace(minimal, old, new, 1) }
	add := func(s string) string { return minimal + s }
	study := func(keys string) string { return rep(`name = "t"`, keys) }
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"study name with a newline", study(`name = "t\necho injected"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"study name leaving the folder", study(`name = "../../../x"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"study name with a slash", study(`name = "a/b"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"study name with NUL", study(`name = "a\u0000b"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"study name with U+202E", study(`name = "abc\u202Etxt.exe"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"study name too long", study(`name = "` + strings.Repeat("a", MaxNameLength+1) + `"`), []wantErr{{2, "study.name", ErrInvalid}}},
		{"description with U+202E", study("name = \"t\"\ndescription = \"x\\u202Ey\""), []wantErr{{3, "study.description", ErrInvalid}}},
		{"benchmark label with a newline", rep(`classes = ["S"]`, "classes = [\"S\"]\nlabel = \"ep\\nrm -rf /\""), []wantErr{{11, "benchmark[0].label", ErrInvalid}}},
		{"benchmark label of dots", rep(`classes = ["S"]`, "classes = [\"S\"]\nlabel = \"..\""), []wantErr{{11, "benchmark[0].label", ErrInvalid}}},
		{"benchmark label with a comma", rep(`classes = ["S"]`, "classes = [\"S\"]\nlabel = \"a,mpi=x\""), []wantErr{{11, "benchmark[0].label", ErrInvalid}}},
		{"command name with a newline", add("\n[[benchmark]]\nkind = \"command\"\nname = \"x\\n$(id)\"\nargv = [\"/bin/true\"]\n"), []wantErr{{14, "benchmark[1].name", ErrInvalid}}},
		{"runtime label with a newline", add("\n[[runtime]]\nname = \"native\"\nlabel = \"n\\necho hi\"\n"), []wantErr{{14, "runtime[0].label", ErrInvalid}}},
		{"runtime label with U+202E", add("\n[[runtime]]\nname = \"native\"\nlabel = \"n\\u202Ex\"\n"), []wantErr{{14, "runtime[0].label", ErrInvalid}}},
		{"empty names", rep(`name = "ep"`, `names = []`), []wantErr{{9, "benchmark[0].names", ErrInvalid}}},
		{"partition with a newline", add("\n[slurm]\npartition = \"debug\\necho injected\"\n"), []wantErr{{13, "slurm.partition", ErrInvalid}}},
		{"partition with a space", add("\n[slurm]\npartition = \"debug --uid=0\"\n"), []wantErr{{13, "slurm.partition", ErrInvalid}}},
		{"account with a newline", add("\n[slurm]\naccount = \"a\\necho injected\"\n"), []wantErr{{13, "slurm.account", ErrInvalid}}},
		{"sbatch flag with a newline", add("\n[slurm]\nsbatch_flags = [\"--exclusive\\necho injected\"]\n"), []wantErr{{13, "slurm.sbatch_flags", ErrInvalid}}},
		{"sbatch flag that is two", add("\n[slurm]\nsbatch_flags = [\"--qos=high --output=/etc/x\"]\n"), []wantErr{{13, "slurm.sbatch_flags", ErrInvalid}}},
		{"sbatch flag that is no option", add("\n[slurm]\nsbatch_flags = [\"echo hi\"]\n"), []wantErr{{13, "slurm.sbatch_flags", ErrInvalid}}},
		{"sbatch flag with an open quote", add("\n[slurm]\nsbatch_flags = [\"--comment=\\\"a b\"]\n"), []wantErr{{13, "slurm.sbatch_flags", ErrInvalid}}},
		{"module with a command", add("\n[slurm]\nmodules = [\"gcc; echo hi\"]\n"), []wantErr{{13, "slurm.modules", ErrInvalid}}},
		{"cpu_bind with a command", add("\n[slurm]\ncpu_bind = \"map_cpu:0;id\"\n"), []wantErr{{13, "slurm.cpu_bind", ErrInvalid}}},
		{"prologue with NUL", add("\n[slurm]\nprologue = \"true\\u0000\"\n"), []wantErr{{13, "slurm.prologue", ErrInvalid}}},
	}
	for _, tt := range tests {
		checkErrors(t, tt.name, tt.text, tt.want)
	}
}

// TestSafeWordsAccepted: what configs use today keeps loading.
func TestSafeWordsAccepted(t *testing.T) {
	text := strings.Replace(minimal, `name = "t"`, "name = \"golden-study_2.1+x\"\ndescription = \"two lines\\n\\tand a tab\"", 1) + `
[[benchmark]]
kind = "hpl"
label = "hpl-n5000"
n = 5000

[[runtime]]
name = "native"

[[runtime]]
name = "native"
label = "native+10%"

[[runtime]]
name = "docker"
label = "docker@host:v2"
image = "x"

[slurm]
partition = "compute,debug"
account = "hpc-benchmarks"
time = "1-12:00:00"
modules = ["mpi/openmpi-4.1", "openmpi@4.1.4%gcc@12"]
cpu_bind = "map_cpu:0,1,0x3*2"
sbatch_flags = ["--exclusive", "--qos=high", "-C ib", "-pdebug", "--comment=\"two words\"", "--mem 0"]
prologue = """
ulimit -s unlimited
echo "a # hash" && true
"""
`
	if _, err := Parse("ok.toml", []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// TestStudyNameFromFileIsSafe: a study named after its config file keeps
// the file name where it is safe, and turns the rest into '_'.
func TestStudyNameFromFileIsSafe(t *testing.T) {
	body := strings.Replace(minimal, "name = \"t\"\n", "", 1)
	for file, want := range map[string]string{
		"quick.toml":            "quick",
		"/x/my-study.v2.toml":   "my-study.v2",
		"/x/a b$(id)\n.toml":    "a_b__id__",
		"/x/..toml":             "study",
		"/x/.hidden.toml":       "hidden",
		"/x/\u202Egnp.toml":     "gnp",
		"/x/\u00e9t\u00e9.toml": "t_",
	} {
		cfg, err := Parse(file, []byte(body))
		if err != nil {
			t.Errorf("%q: %v", file, err)
			continue
		}
		if cfg.Study.Name != want || CheckStudyName(cfg.Study.Name) != nil {
			t.Errorf("%q: study name %q, want %q", file, cfg.Study.Name, want)
		}
	}
}

// TestRunCeilings: repetitions, warm-ups and the expanded matrix have
// ceilings, checked while validating, before anything is expanded: a
// count of 10^9 is refused at once with its key and line.
func TestRunCeilings(t *testing.T) {
	study := func(keys string) string { return strings.Replace(minimal, `name = "t"`, "name = \"t\"\n"+keys, 1) }
	bench := func(keys string) string {
		return strings.Replace(minimal, `classes = ["S"]`, "classes = [\"S\"]\n"+keys, 1)
	}
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"repetitions 1e9", study("repetitions = 1000000000"), []wantErr{{3, "study.repetitions", ErrInvalid}}},
		{"warmup 1e6", study("warmup = 1000000"), []wantErr{{3, "study.warmup", ErrInvalid}}},
		{"max_repetitions 1e9", study("repetitions = \"auto\"\nmax_repetitions = 1000000000"), []wantErr{{4, "study.max_repetitions", ErrInvalid}}},
		{"min_repetitions 1e9", study("repetitions = \"auto\"\nmin_repetitions = 1000000000"), []wantErr{{4, "study.min_repetitions", ErrInvalid}}},
		{"benchmark repetitions 1e9", bench("repetitions = 1000000000"), []wantErr{{11, "benchmark[0].repetitions", ErrInvalid}}},
		{"benchmark warmup 1e9", bench("warmup = 1000000000"), []wantErr{{11, "benchmark[0].warmup", ErrInvalid}}},
		// 10,000 runs a cell is allowed; 2 rank counts x 3 PMI x 2 MPI of
		// them are not.
		{"matrix too large", study("repetitions = 10000\nwarmup = 0"), []wantErr{{9, "benchmark[0]", ErrInvalid}}},
		{"adaptive matrix too large", study("repetitions = \"auto\"\nmax_repetitions = 10000"), []wantErr{{9, "benchmark[0]", ErrInvalid}}},
	}
	for _, tt := range tests {
		start := time.Now()
		checkErrors(t, tt.name, tt.text, tt.want)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: validating took %v", tt.name, d)
		}
	}
	_, err := Parse("big.toml", []byte(study("repetitions = 10000\nwarmup = 0")))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("expands to 120000 runs, more than the %d a study may have", MaxStudyRuns)) ||
		!strings.Contains(err.Error(), "2 MPI x 3 PMI flavours x 2 rank counts x 10000 runs per cell") {
		t.Errorf("the ceiling's message does not say what the runs are made of: %v", err)
	}
	// Exactly at the ceiling is fine: 2 MPI x 3 PMI x 2 rank counts x 8333 runs.
	if _, err := Parse("edge.toml", []byte(study("repetitions = 8333\nwarmup = 0"))); err != nil {
		t.Errorf("99,996 runs: %v", err)
	}
	var es Errors
	if _, err := Parse("x.toml", []byte(study("repetitions = 1000000000"))); !errors.As(err, &es) || !strings.Contains(es[0].Msg, "more than the 10000 runs a cell may have") {
		t.Errorf("repetitions = 1e9: %v", err)
	}
}

func TestCheckSbatchFlag(t *testing.T) {
	for _, f := range []string{"--exclusive", "--qos=high", "-C ib", "-pdebug", "--comment=\"a b\"", "--mem 0", "--gres=gpu:2", "--constraint=[a|b]"} {
		if err := CheckSbatchFlag(f); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
	for _, f := range []string{"", "-", "--", "exclusive", "--x\n", "--x=a b", "-C a b", "--x=\"a", "--x=", "--x\u202e", "---x"} {
		if err := CheckSbatchFlag(f); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}
