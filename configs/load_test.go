package configs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimal is a valid config the tests below change one thing in.
const minimal = `[study]
name = "t"

[matrix]
ranks = [1, 2]

[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
`

func TestShippedConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("*.toml")
	if err != nil || len(files) < 4 {
		t.Fatalf("shipped configs: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// That each one expands to cells is matrix's TestShippedConfigsExpand.
	cfg, err := Quick()
	if err != nil {
		t.Fatalf("built-in quick config: %v", err)
	}
	disk, err := os.ReadFile("quick.toml")
	if err != nil || string(disk) != string(QuickSource()) {
		t.Errorf("the built-in quick config differs from quick.toml")
	}
	if cfg.Study.Name != "quick" || cfg.Study.Repetitions != 4 || cfg.Study.Warmup != 1 {
		t.Errorf("quick study = %+v", cfg.Study)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("d.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Study
	if s.Repetitions != DefaultRepetitions || s.Warmup != DefaultWarmup || s.Timeout.Duration != DefaultTimeout ||
		s.Bind != "none" || s.Order != "random" || s.NPBDir != DefaultNPBDir || s.Seed == 0 ||
		s.Margin != 0.02 || s.MinRunTime.Duration != time.Second {
		t.Errorf("study defaults = %+v", s)
	}
	if !reflect.DeepEqual(cfg.Matrix.MPI, MPINames) || len(cfg.Matrix.PMI) != 3 {
		t.Errorf("matrix defaults = %+v", cfg.Matrix)
	}
	if len(cfg.Runtimes) != 1 || cfg.Runtimes[0].Name != "native" {
		t.Errorf("runtimes default = %+v", cfg.Runtimes)
	}
	b := cfg.Benchmarks[0]
	if b.Label != "ep" || b.Binary != "{dir}/{mpi}/{name}" {
		t.Errorf("benchmark defaults = %+v", b)
	}
	// The same name gives the same seed: the order is reproducible.
	again, _ := Parse("other.toml", []byte(minimal))
	if again.Study.Seed != s.Seed {
		t.Errorf("seed from name not stable: %d vs %d", again.Study.Seed, s.Seed)
	}
}

type wantErr struct {
	line int
	key  string
	err  error
}

func checkErrors(t *testing.T, name, text string, want []wantErr) {
	t.Helper()
	_, err := Parse("c.toml", []byte(text))
	if err == nil {
		t.Errorf("%s: no error, want %v", name, want)
		return
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Errorf("%s: error %T is not Errors: %v", name, err, err)
		return
	}
	var got []wantErr
	for _, e := range es {
		if e.File != "c.toml" {
			t.Errorf("%s: error names file %q", name, e.File)
		}
		got = append(got, wantErr{e.Line, e.Key, e.Err})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v\nmessage:\n%v", name, got, want, err)
	}
}

func TestUnknownKeyLines(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"in study", strings.Replace(minimal, `name = "t"`, "name = \"t\"\nrepetitons = 3", 1),
			[]wantErr{{3, "study.repetitons", ErrUnknownKey}}},
		{"top level", "verbose = true\n" + minimal,
			[]wantErr{{1, "verbose", ErrUnknownKey}}},
		{"unknown table", minimal + "\n[extras]\na = 1\nb = 2\n",
			[]wantErr{{12, "extras", ErrUnknownKey}}},
		{"second benchmark only", minimal + `
[[benchmark]]
kind = "npb"
name = "cg"
classes = ["S"]
clases = ["W"]
`, []wantErr{{16, "benchmark[1].clases", ErrUnknownKey}}},
		{"same key in two entries", `[matrix]
ranks = [1]

[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
colour = "red"

[[benchmark]]
kind = "npb"
name = "cg"
classes = [
  "S",
  "W",
]
# colour = "blue" in a comment is not a key
colour = "blue"
`, []wantErr{{8, "benchmark[0].colour", ErrUnknownKey}, {18, "benchmark[1].colour", ErrUnknownKey}}},
		{"after a multi-line string", minimal + `
[[runtime]]
name = "native"

[slurm]
prologue = """
nodes = 3
"""
partitionn = "x"
`, []wantErr{{19, "slurm.partitionn", ErrUnknownKey}}},
		{"dotted key", strings.Replace(minimal, `name = "t"`, "name = \"t\"\nx.y = 1", 1),
			[]wantErr{{3, "study.x", ErrUnknownKey}}},
		{"dotted key after an array table", minimal + "study.color = 1\n",
			[]wantErr{{11, "benchmark[0].study", ErrUnknownKey}}},
		{"in a runtime", minimal + "\n[[runtime]]\nname = \"docker\"\nimage = \"x\"\nnetwork = \"host\"\n",
			[]wantErr{{15, "runtime[0].network", ErrUnknownKey}}},
	}
	for _, tt := range tests {
		checkErrors(t, tt.name, tt.text, tt.want)
	}
}

func TestBadValues(t *testing.T) {
	rep := func(old, new string) string { return strings.Replace(minimal, old, new, 1) }
	add := func(s string) string { return minimal + s }
	tests := []struct {
		name string
		text string
		want []wantErr
	}{
		{"bad class", rep(`classes = ["S"]`, `classes = ["S", "Z"]`), []wantErr{{10, "benchmark[0].classes", ErrInvalid}}},
		{"bad npb name", rep(`name = "ep"`, `name = "xx"`), []wantErr{{9, "benchmark[0].name", ErrInvalid}}},
		{"bad kind", rep(`kind = "npb"`, `kind = "spec"`), []wantErr{{8, "benchmark[0].kind", ErrInvalid}}},
		{"no classes", rep(`classes = ["S"]`, ``), []wantErr{{7, "benchmark[0]", ErrMissing}}},
		{"bad mpi", rep(`ranks = [1, 2]`, "ranks = [1, 2]\nmpi = [\"intel\"]"), []wantErr{{6, "matrix.mpi", ErrInvalid}}},
		{"bad pmi", rep(`ranks = [1, 2]`, "ranks = [1, 2]\npmi = [\"pmi3\"]"), []wantErr{{6, "matrix.pmi", ErrInvalid}}},
		{"zero ranks", rep(`ranks = [1, 2]`, `ranks = [0, 2]`), []wantErr{{5, "matrix.ranks", ErrInvalid}}},
		{"duplicate ranks", rep(`ranks = [1, 2]`, `ranks = [2, 2]`), []wantErr{{5, "matrix.ranks", ErrInvalid}}},
		{"no ranks", rep(`ranks = [1, 2]`, ``), []wantErr{{4, "matrix", ErrMissing}}},
		{"bad bind", rep(`name = "t"`, "name = \"t\"\nbind = \"socket\""), []wantErr{{3, "study.bind", ErrInvalid}}},
		{"negative blas_threads", rep(`name = "t"`, "name = \"t\"\nblas_threads = -1"), []wantErr{{3, "study.blas_threads", ErrInvalid}}},
		{"blas_threads pinned to a core", rep(`name = "t"`, "name = \"t\"\nbind = \"core\"\nblas_threads = 2"), []wantErr{{4, "study.blas_threads", ErrInvalid}}},
		{"bad duration", rep(`name = "t"`, "name = \"t\"\ntimeout = \"10 minutes\""), []wantErr{{3, "study.timeout", ErrInvalid}}},
		{"negative duration", rep(`name = "t"`, "name = \"t\"\ntimeout = \"-1m\""), []wantErr{{3, "study.timeout", ErrInvalid}}},
		{"zero margin", rep(`name = "t"`, "name = \"t\"\nmargin = 0.0"), []wantErr{{3, "study.margin", ErrInvalid}}},
		{"margin as a percentage", rep(`name = "t"`, "name = \"t\"\nmargin = 2"), []wantErr{{3, "study.margin", ErrInvalid}}},
		{"margin of one half", rep(`name = "t"`, "name = \"t\"\nmargin = 0.5"), []wantErr{{3, "study.margin", ErrInvalid}}},
		{"zero min_run_time", rep(`name = "t"`, "name = \"t\"\nmin_run_time = \"0s\""), []wantErr{{3, "study.min_run_time", ErrInvalid}}},
		{"wrong type", rep(`ranks = [1, 2]`, `ranks = "2"`), []wantErr{{5, "matrix.ranks", ErrInvalid}}},
		{"wrong type in array table", rep(`classes = ["S"]`, `classes = "S"`), []wantErr{{10, "benchmark[0].classes", ErrInvalid}}},
		{"zero repetitions", rep(`name = "t"`, "name = \"t\"\nrepetitions = 0"), []wantErr{{3, "study.repetitions", ErrInvalid}}},
		{"bad placeholder", rep(`classes = ["S"]`, "classes = [\"S\"]\nbinary = \"{dir}/{nmae}\""), []wantErr{{11, "benchmark[0].binary", ErrInvalid}}},
		{"bad layout", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\nlayouts = [\"per-core\"]\n"), []wantErr{{15, "runtime[0].layouts", ErrInvalid}}},
		{"unknown runtime", add("\n[[runtime]]\nname = \"lxc\"\n"), []wantErr{{13, "runtime[0].name", ErrInvalid}}},
		{"verify on docker", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\nverify = \"k.asc\"\n"), []wantErr{{15, "runtime[0].verify", ErrInvalid}}},
		{"verify on native", add("\n[[runtime]]\nname = \"native\"\nverify = \"k.asc\"\n"), []wantErr{{14, "runtime[0].verify", ErrInvalid}}},
		{"short pinned digest", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i@sha256:abc\"\n"), []wantErr{{14, "runtime[0].image", ErrInvalid}}},
		{"pin without sha256", add("\n[[runtime]]\nname = \"podman\"\nimage = \"i@md5:" + strings.Repeat("a", 32) + "\"\n"), []wantErr{{14, "runtime[0].image", ErrInvalid}}},
		{"require_signed without keyring", rep(`name = "t"`, "name = \"t\"\nrequire_signed = true") + "\n[[runtime]]\nname = \"apptainer\"\nimage = \"i.sif\"\n", []wantErr{{13, "runtime[0]", ErrMissing}}},
		{"bad isolation", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\nisolation = \"none\"\n"), []wantErr{{15, "runtime[0].isolation", ErrInvalid}}},
		{"bad pass_env", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\npass_env = [\"MYAPP_*\", \"A=B\"]\n"), []wantErr{{15, "runtime[0].pass_env", ErrInvalid}}},
		{"bad pass_env glob", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\npass_env = [\"[A\"]\n"), []wantErr{{15, "runtime[0].pass_env", ErrInvalid}}},
		{"bad shm", add("\n[[runtime]]\nname = \"charliecloud\"\nimage = \"i\"\nshm = [\"shared\", \"private\"]\n"), []wantErr{{15, "runtime[0].shm", ErrInvalid}}},
		{"shm twice", add("\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\nshm = [\"isolated\", \"isolated\"]\n"), []wantErr{{15, "runtime[0].shm", ErrInvalid}}},
		{"native with shm", add("\n[[runtime]]\nname = \"native\"\nshm = [\"isolated\"]\n"), []wantErr{{14, "runtime[0].shm", ErrInvalid}}},
		{"native with isolation", add("\n[[runtime]]\nname = \"native\"\nisolation = \"host\"\n"), []wantErr{{14, "runtime[0].isolation", ErrInvalid}}},
		{"image missing", add("\n[[runtime]]\nname = \"podman\"\n"), []wantErr{{12, "runtime[0]", ErrMissing}}},
		{"native with image", add("\n[[runtime]]\nname = \"native\"\nimage = \"x\"\n"), []wantErr{{14, "runtime[0].image", ErrInvalid}}},
		{"duplicate runtime label", add("\n[[runtime]]\nname = \"native\"\n\n[[runtime]]\nname = \"native\"\n"), []wantErr{{15, "runtime[1]", ErrInvalid}}},
		{"unknown runtime label", rep(`classes = ["S"]`, "classes = [\"S\"]\nruntimes = [\"dokcer\"]"), []wantErr{{11, "benchmark[0].runtimes", ErrInvalid}}},
		{"duplicate benchmark", add("\n[[benchmark]]\nkind = \"npb\"\nnames = [\"cg\", \"ep\"]\nclasses = [\"S\"]\n"), []wantErr{{12, "benchmark[1]", ErrInvalid}}},
		{"hpl without size", add("\n[[benchmark]]\nkind = \"hpl\"\n"), []wantErr{{12, "benchmark[1]", ErrMissing}}},
		{"hpl with both sizes", add("\n[[benchmark]]\nkind = \"hpl\"\nn = 1000\nmem_fraction = 0.2\n"), []wantErr{{15, "benchmark[1].mem_fraction", ErrInvalid}}},
		{"hpl p without q", add("\n[[benchmark]]\nkind = \"hpl\"\nn = 1000\np = 2\n"), []wantErr{{12, "benchmark[1]", ErrInvalid}}},
		{"hpl with classes", add("\n[[benchmark]]\nkind = \"hpcc\"\nn = 1000\nclasses = [\"A\"]\n"), []wantErr{{15, "benchmark[1].classes", ErrInvalid}}},
		{"command without argv", add("\n[[benchmark]]\nkind = \"command\"\nname = \"osu\"\n"), []wantErr{{12, "benchmark[1]", ErrMissing}}},
		{"mpi none outside command", rep(`classes = ["S"]`, "classes = [\"S\"]\nmpi = [\"none\"]"), []wantErr{{11, "benchmark[0].mpi", ErrInvalid}}},
		{"bad env name", rep(`name = "t"`, "name = \"t\"\nenv = { \"A-B\" = \"1\" }"), []wantErr{{3, "study.env", ErrInvalid}}},
		{"slurm time", add("\n[slurm]\ntime = \"two hours\"\n"), []wantErr{{13, "slurm.time", ErrInvalid}}},
		{"slurm cpu_bind", add("\n[slurm]\ncpu_bind = \"everything\"\n"), []wantErr{{13, "slurm.cpu_bind", ErrInvalid}}},
		{"slurm uneven ranks", add("\n[slurm]\nnodes = 2\n"), []wantErr{{5, "matrix.ranks", ErrInvalid}}},
		{"image placeholder", add("\n[[runtime]]\nname = \"docker\"\nimage = \"x-{class}\"\n"), []wantErr{{14, "runtime[0].image", ErrInvalid}}},
		{"two errors in line order", rep(`name = "t"`, "name = \"t\"\nbind = \"x\"\norder = \"y\""),
			[]wantErr{{3, "study.bind", ErrInvalid}, {4, "study.order", ErrInvalid}}},
	}
	for _, tt := range tests {
		checkErrors(t, tt.name, tt.text, tt.want)
	}
}

func TestSyntaxErrorKeepsPosition(t *testing.T) {
	_, err := Parse("s.toml", []byte("[study]\nname = \"t\"\nseed = = 3\n"))
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %#v, want a syntax error at line 3", err)
	}
	if !strings.HasPrefix(err.Error(), "s.toml:3:") {
		t.Errorf("message %q does not start with file:line", err.Error())
	}
}

func TestErrorMessageNamesKeyAndLine(t *testing.T) {
	_, err := Parse("m.toml", []byte(strings.Replace(minimal, `name = "t"`, "name = \"t\"\nrepetitons = 3", 1)))
	want := `m.toml:3: study.repetitons: unknown key "repetitons" (did you mean "repetitions"?)`
	if err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func TestVerdictSettings(t *testing.T) {
	cfg, err := Parse("v.toml", []byte(strings.Replace(minimal, `name = "t"`, "name = \"t\"\nmargin = 0.05\nmin_run_time = \"500ms\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Study.Margin != 0.05 || cfg.Study.MinRunTime.Duration != 500*time.Millisecond {
		t.Errorf("margin %v, min_run_time %v", cfg.Study.Margin, cfg.Study.MinRunTime)
	}
}

func TestAdaptiveRepetitions(t *testing.T) {
	withStudy := func(keys string) string {
		return strings.Replace(minimal, `name = "t"`, "name = \"t\"\n"+keys, 1)
	}
	cfg, err := Parse("a.toml", []byte(withStudy(`repetitions = "auto"`)))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Study
	if !s.AutoRepetitions || s.Repetitions != DefaultMinRepetitions || s.MinRepetitions != DefaultMinRepetitions ||
		s.MaxRepetitions != DefaultMaxRepetitions || s.TargetCI != DefaultTargetCI || s.Budget.Duration != 0 {
		t.Errorf("adaptive defaults = %+v", s)
	}
	cfg, err = Parse("a.toml", []byte(withStudy("repetitions = \"auto\"\nmin_repetitions = 4\nmax_repetitions = 12\ntarget_ci = 0.005\nbudget = \"30m\"")))
	if err != nil {
		t.Fatal(err)
	}
	s = cfg.Study
	if !s.AutoRepetitions || s.Repetitions != 4 || s.MinRepetitions != 4 || s.MaxRepetitions != 12 || s.TargetCI != 0.005 || s.Budget.Duration != 30*time.Minute {
		t.Errorf("adaptive study = %+v", s)
	}
	cfg, err = Parse("f.toml", []byte(withStudy("repetitions = 7")))
	if err != nil || cfg.Study.AutoRepetitions || cfg.Study.Repetitions != 7 {
		t.Errorf("repetitions = 7: %+v, %v", cfg, err)
	}

	for _, tc := range []struct{ keys, want string }{
		{`repetitions = "many"`, "repetitions"},
		{"repetitions = 2.5", "repetitions"},
		{"min_repetitions = 4", `study.min_repetitions: only for an adaptive study`},
		{"budget = \"1h\"", `study.budget: only for an adaptive study`},
		{"repetitions = \"auto\"\nmin_repetitions = 2", "study.min_repetitions: 2: need at least 3"},
		{"repetitions = \"auto\"\nmin_repetitions = 8\nmax_repetitions = 6", "study.max_repetitions: 6: below min_repetitions (8)"},
		{"repetitions = \"auto\"\ntarget_ci = 0", "study.target_ci: 0: want a fraction"},
		{"repetitions = \"auto\"\nbudget = \"-5m\"", "study.budget: -5m0s: must be positive"},
	} {
		_, err := Parse("bad.toml", []byte(withStudy(tc.keys)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.toml:") {
			t.Errorf("%q: got %v, want an error naming the file and containing %q", tc.keys, err, tc.want)
		}
	}
	bench := withStudy(`repetitions = "auto"`) + "repetitions = 3\n"
	if _, err := Parse("b.toml", []byte(bench)); err == nil || !strings.Contains(err.Error(), `benchmark[0].repetitions: not in a study with repetitions = "auto"`) {
		t.Errorf("a benchmark's repetitions in an adaptive study: got %v", err)
	}
}

// TestImageIntegrityKeys: study.keyring is the verify of every apptainer
// runtime that names none; a runtime's own verify wins; a pinned image is
// kept as written; require_signed is satisfied by either keyring.
func TestImageIntegrityKeys(t *testing.T) {
	pin := "sha256:" + strings.Repeat("0a", 32)
	text := strings.Replace(minimal, `name = "t"`, "name = \"t\"\nkeyring = \"center.pub.asc\"\nrequire_signed = true", 1) +
		"\n[[runtime]]\nname = \"apptainer\"\nimage = \"a.sif\"\n" +
		"\n[[runtime]]\nname = \"apptainer\"\nlabel = \"other\"\nimage = \"b.sif\"\nverify = \"other.pub.asc\"\n" +
		"\n[[runtime]]\nname = \"docker\"\nimage = \"hpcbench-mpich@" + pin + "\"\n"
	cfg, err := Parse("integrity.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Study.RequireSigned || cfg.Study.Keyring != "center.pub.asc" {
		t.Errorf("study = %+v", cfg.Study)
	}
	if got := cfg.Runtimes[0].Verify; got != "center.pub.asc" {
		t.Errorf("apptainer verify = %q, want the study keyring", got)
	}
	if got := cfg.Runtimes[1].Verify; got != "other.pub.asc" {
		t.Errorf("other verify = %q, want its own", got)
	}
	if got := cfg.Runtimes[2]; got.Verify != "" || got.Image != "hpcbench-mpich@"+pin {
		t.Errorf("docker = verify %q image %q", got.Verify, got.Image)
	}
}

// TestRuntimeShm: a container runtime's shm modes default to shared and
// are kept as written; isolated cells get a label of their own.
func TestRuntimeShm(t *testing.T) {
	text := minimal + "\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\n\n[[runtime]]\nname = \"ch-run\"\nimage = \"i\"\nshm = [\"shared\", \"isolated\"]\n"
	cfg, err := Parse("shm.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Runtimes[0].Shm; len(got) != 1 || got[0] != ShmShared {
		t.Errorf("docker shm = %q, want the default [shared]", got)
	}
	if got := cfg.Runtimes[1].Shm; len(got) != 2 || got[1] != ShmIsolated {
		t.Errorf("ch-run shm = %q", got)
	}
	if ShmLabel("docker", ShmShared) != "docker" || ShmLabel("docker", ShmIsolated) != "docker+isolated" {
		t.Error("ShmLabel")
	}
	clash := minimal + "\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\nshm = [\"isolated\"]\n\n[[runtime]]\nname = \"podman\"\nlabel = \"docker+isolated\"\nimage = \"i\"\n"
	if _, err := Parse("clash.toml", []byte(clash)); err == nil || !strings.Contains(err.Error(), "docker+isolated") {
		t.Errorf("a label equal to another runtime's isolated cells: %v", err)
	}
}

// TestRuntimeIsolation: a container runtime's isolation defaults to
// private; host and pass_env patterns are kept as written.
func TestRuntimeIsolation(t *testing.T) {
	text := minimal + "\n[[runtime]]\nname = \"docker\"\nimage = \"i\"\n\n[[runtime]]\nname = \"podman\"\nimage = \"i\"\nisolation = \"host\"\npass_env = [\"MYAPP_*\", \"FOO\"]\n"
	cfg, err := Parse("isolation.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Runtimes[0].Isolation; got != IsolationPrivate {
		t.Errorf("docker isolation = %q, want the default %q", got, IsolationPrivate)
	}
	if got := cfg.Runtimes[1].Isolation; got != IsolationHost {
		t.Errorf("podman isolation = %q, want host", got)
	}
	if got := cfg.Runtimes[1].PassEnv; len(got) != 2 || got[0] != "MYAPP_*" || got[1] != "FOO" {
		t.Errorf("podman pass_env = %q", got)
	}
}
