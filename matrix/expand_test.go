package matrix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
)

// fakeNode is an inventory of a 2-core Debian 12 node with MPICH (PMI-1)
// and Open MPI (PMIx), Docker whose engine is down, Podman, no Apptainer.
func fakeNode() *inventory.Inventory {
	return &inventory.Inventory{
		Host: inventory.Host{Cores: 2, MemoryBytes: 16 << 30},
		MPI: []inventory.MPI{
			{Component: inventory.Component{Name: "mpich", Found: true, Version: "4.0.2"}, PMI: []pmi.Flavour{pmi.PMI1}, PMIEvidence: "no fullinit in libmpich.so.12"},
			{Component: inventory.Component{Name: "openmpi", Found: true, Version: "4.1.4"}, PMI: []pmi.Flavour{pmi.PMIx}},
		},
		Runtimes: []inventory.Runtime{
			{Component: inventory.Component{Name: "docker", Found: true, Hint: "start the engine"}},
			{Component: inventory.Component{Name: "podman", Found: true}, Usable: true},
			{Component: inventory.Component{Name: "apptainer", Hint: "build it"}},
			{Component: inventory.Component{Name: "singularity"}},
			{Component: inventory.Component{Name: "crun", Found: true}, Usable: true},
		},
	}
}

// exe makes an executable file and returns its path.
func exe(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func parse(t *testing.T, text string) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse("x.toml", []byte(text))
	if err != nil {
		t.Fatalf("config does not load: %v\n%s", err, text)
	}
	return cfg
}

// TestExpandSkips has one case per kind of impossible combination: the
// config yields exactly one cell, and it must be skipped for that reason
// (or, for the control cases, run).
func TestExpandSkips(t *testing.T) {
	dir := t.TempDir()
	exe(t, filepath.Join(dir, "mpich", "ep"))
	exe(t, filepath.Join(dir, "mpich", "cg"))
	exe(t, filepath.Join(dir, "openmpi", "ep"))
	exe(t, filepath.Join(dir, "mpich", "is.S.4"))
	one := func(bench, matrix, runtime string) string {
		return "[study]\nnpb_dir = \"" + dir + "\"\n\n[matrix]\n" + matrix + "\n\n[[benchmark]]\n" + bench + "\n" + runtime
	}
	ep := "kind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]"
	tests := []struct {
		name   string
		text   string
		inv    *inventory.Inventory
		err    error  // nil: the cell runs
		reason string // part of the reason
	}{
		{"runs", one(ep, `mpi = ["mpich"]`+"\npmi = [\"pmi1\"]\nranks = [2]", ""), fakeNode(), nil, ""},
		{"mpich pmix", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmix\"]\nranks = [2]", ""), fakeNode(), ErrSkipPMI, "mpich speaks pmi1 only, not pmix (no fullinit in libmpich.so.12)"},
		{"mpich pmi2 by Debian's facts", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi2\"]\nranks = [2]", ""), nil, ErrSkipPMI, "as Debian 12's package does"},
		{"openmpi pmi1", one(ep, "mpi = [\"openmpi\"]\npmi = [\"pmi1\"]\nranks = [2]", ""), fakeNode(), ErrSkipPMI, "openmpi speaks pmix only, not pmi1"},
		{"openmpi pmix runs", one(ep, "mpi = [\"openmpi\"]\npmi = [\"pmix\"]\nranks = [1]", ""), fakeNode(), nil, ""},
		{"sp on 2 ranks", one("kind = \"npb\"\nname = \"sp\"\nclasses = [\"S\"]\ncheck_binary = false", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", ""), nil, ErrSkipRanks, "needs a square"},
		{"bt on 8 ranks", one("kind = \"npb\"\nname = \"bt\"\nclasses = [\"A\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [8]", ""), nil, ErrSkipRanks, "BT on 8 ranks"},
		{"cg on 3 ranks", one("kind = \"npb\"\nname = \"cg\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [3]", ""), nil, ErrSkipRanks, "power of two"},
		{"is on 6 ranks", one("kind = \"npb\"\nname = \"is\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [6]", ""), nil, ErrSkipRanks, "power of two"},
		{"mg on 3 ranks", one("kind = \"npb\"\nname = \"mg\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [3]", ""), nil, ErrSkipRanks, "power of two"},
		{"ft on 12 ranks", one("kind = \"npb\"\nname = \"ft\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [12]", ""), nil, ErrSkipRanks, "power of two"},
		{"lu on 5 ranks", one("kind = \"npb\"\nname = \"lu\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [5]", ""), nil, ErrSkipRanks, "process grid"},
		{"lu on 6 ranks runs", one("kind = \"npb\"\nname = \"lu\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [6]", ""), nil, nil, ""},
		{"more ranks than cores", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [4]", ""), fakeNode(), ErrSkipCores, "4 ranks on 2 cores"},
		{"more ranks than a launch may start", "[study]\noversubscribe = true\n" + one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [100000]", "")[len("[study]\n"):],
			fakeNode(), ErrSkipMaxRanks, "100000 ranks, more than the 128 one launch may start on this node (64 per core; hpcbench matrix --max-ranks raises it)"},
		{"runtime not installed", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", "[[runtime]]\nname = \"apptainer\"\nimage = \"x.sif\"\n"), fakeNode(), ErrSkipRuntime, "apptainer: not installed (build it)"},
		{"engine down", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", "[[runtime]]\nname = \"docker\"\nimage = \"i\"\n"), fakeNode(), ErrSkipRuntime, "engine does not answer"},
		{"podman runs", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", "[[runtime]]\nname = \"podman\"\nimage = \"i\"\nlayouts = [\"per-node\"]\n"), fakeNode(), nil, ""},
		{"native with a layout", one(ep, "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", "[[runtime]]\nname = \"native\"\nlayouts = [\"per-rank\"]\n"), fakeNode(), ErrSkipLayout, "native runs no container"},
		{"mpi not installed", one(ep, "mpi = [\"openmpi\"]\npmi = [\"pmix\"]\nranks = [2]", ""), func() *inventory.Inventory {
			inv := fakeNode()
			inv.MPI[1] = inventory.MPI{Component: inventory.Component{Name: "openmpi", Hint: "apt-get install openmpi-bin libopenmpi-dev"}}
			return inv
		}(), ErrSkipMPI, "openmpi is not installed on this node (apt-get install openmpi-bin"},
		{"binary missing", one("kind = \"npb\"\nname = \"is\"\nclasses = [\"S\"]", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", ""), fakeNode(), ErrSkipBinary, "/mpich/is is not an executable file"},
		{"binary with class and ranks", one("kind = \"npb\"\nname = \"is\"\nclasses = [\"S\"]\nbinary = \"{dir}/{mpi}/{name}.{class}.{ranks}\"", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", ""), fakeNode(), ErrSkipBinary, "is.S.2 is not"},
		{"binary only in image", one("kind = \"npb\"\nname = \"is\"\nclasses = [\"S\"]\ncheck_binary = false", "mpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2]", ""), fakeNode(), nil, ""},
		{"hpl grid", one("kind = \"hpl\"\nn = 1000\np = 2\nq = 2\ncheck_binary = false", "mpi = [\"openmpi\"]\npmi = [\"pmix\"]\nranks = [2]", ""), nil, ErrSkipRanks, "grid p x q = 2 x 2 needs 4 ranks"},
		{"command binary not in PATH", one("kind = \"command\"\nname = \"probe\"\nargv = [\"no-such-probe-xyz\", \"{ranks}\"]\nmpi = [\"none\"]\npmi = [\"pmi2\"]", "ranks = [2]", ""), fakeNode(), ErrSkipBinary, "no-such-probe-xyz is not in PATH"},
		{"command without MPI speaks pmi2", one("kind = \"command\"\nname = \"probe\"\nargv = [\"true\"]\nmpi = [\"none\"]\npmi = [\"pmi2\"]", "ranks = [2]", ""), fakeNode(), nil, ""},
	}
	for _, tt := range tests {
		cfg := parse(t, tt.text)
		cells, skipped := Expand(cfg, tt.inv)
		if tt.err == nil {
			if len(skipped) != 0 || len(cells) == 0 {
				t.Errorf("%s: want it to run, got skipped %v", tt.name, skipped)
			}
			continue
		}
		if len(cells) != 0 || len(skipped) != 1 {
			t.Errorf("%s: want one skipped cell, got %d cells and %v", tt.name, len(cells), skipped)
			continue
		}
		s := skipped[0]
		if !errors.Is(s.Err, tt.err) || !strings.Contains(s.Reason, tt.reason) {
			t.Errorf("%s: skipped for %q (%v), want %v containing %q", tt.name, s.Reason, s.Err, tt.err, tt.reason)
		}
	}
}

// The ceiling on ranks per launch skips a cell of 100,000 ranks even
// with oversubscribe (it used to start thousands of processes); a plan's
// MaxRanks moves it, and the executor gets it.
func TestMaxRanksPerLaunch(t *testing.T) {
	dir := t.TempDir()
	exe(t, filepath.Join(dir, "mpich", "ep"))
	text := "[study]\noversubscribe = true\nnpb_dir = \"" + dir + "\"\n[matrix]\nmpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2, 128, 129, 100000]\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n"
	plan, err := NewPlan(context.Background(), parse(t, text), Overrides{Inventory: fakeNode()})
	if err != nil {
		t.Fatal(err)
	}
	if plan.MaxRanks != 128 {
		t.Errorf("plan ceiling %d, want 64 per core x 2 cores", plan.MaxRanks)
	}
	ranksOf := func(cells []Cell) map[int]bool {
		m := map[int]bool{}
		for _, c := range cells {
			m[c.Ranks] = true
		}
		return m
	}
	if got := ranksOf(plan.Cells); len(got) != 2 || !got[2] || !got[128] {
		t.Errorf("cells of %v ranks, want 2 and 128", got)
	}
	if len(plan.Skipped) != 2 {
		t.Fatalf("skipped %v", plan.Skipped)
	}
	for _, s := range plan.Skipped {
		if !errors.Is(s.Err, ErrSkipMaxRanks) {
			t.Errorf("%d ranks skipped for %q", s.Cell.Ranks, s.Reason)
		}
	}
	plan, err = NewPlan(context.Background(), parse(t, text), Overrides{Inventory: fakeNode(), MaxRanks: 200000})
	if err != nil {
		t.Fatal(err)
	}
	if got := ranksOf(plan.Cells); len(got) != 4 || plan.MaxRanks != 200000 || len(plan.Skipped) != 0 {
		t.Errorf("with --max-ranks 200000: cells of %v ranks, skipped %v", got, plan.Skipped)
	}
	// Slurm starts its own ranks, across nodes: no ceiling of this node.
	cells, skipped := Expand(parse(t, text+"[slurm]\nnodes = 1\n"), fakeNode())
	if len(skipped) != 0 || len(ranksOf(cells)) != 4 {
		t.Errorf("slurm study: %d cells, skipped %v", len(cells), skipped)
	}
}

func TestOversubscribeMarksCells(t *testing.T) {
	dir := t.TempDir()
	exe(t, filepath.Join(dir, "mpich", "ep"))
	cfg := parse(t, "[study]\noversubscribe = true\nnpb_dir = \""+dir+"\"\n[matrix]\nmpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [2, 4]\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n")
	cells, skipped := Expand(cfg, fakeNode())
	if len(skipped) != 0 {
		t.Fatalf("skipped %v", skipped)
	}
	var over, normal int
	for _, c := range cells {
		if c.Oversubscribed != (c.Ranks == 4) {
			t.Errorf("cell %s oversubscribed = %v", c.RunID(), c.Oversubscribed)
		}
		if c.Oversubscribed {
			over++
			if !strings.Contains(c.Key(), "oversubscribed") {
				t.Errorf("key %s does not say oversubscribed", c.Key())
			}
		} else {
			normal++
		}
	}
	if over == 0 || normal == 0 {
		t.Errorf("over %d normal %d", over, normal)
	}
}

func TestExpandRepetitionsAndKeys(t *testing.T) {
	cfg := parse(t, `[study]
repetitions = 3
warmup = 2
bind = "core"
[matrix]
mpi = ["mpich", "openmpi"]
ranks = [1, 2]
[[benchmark]]
kind = "npb"
names = ["ep", "cg"]
classes = ["S", "W"]
args = ["{class}"]
[[runtime]]
name = "native"
[[runtime]]
name = "docker"
image = "hpcbench-{mpi}"
layouts = ["per-rank", "bind"]
`)
	cells, skipped := Expand(cfg, nil)
	// 2 benchmarks x 2 classes x (native + 2 docker layouts) x 2 ranks,
	// each MPI with its one flavour; the other 2 flavours per MPI skipped.
	perCell := 3 + 2
	wantCells := 2 * 2 * 3 * 2 * 2
	if len(cells) != wantCells*perCell || len(skipped) != wantCells*2 {
		t.Fatalf("%d runs and %d skipped, want %d and %d", len(cells), len(skipped), wantCells*perCell, wantCells*2)
	}
	keys := map[string]int{}
	runs := map[string]bool{}
	for _, c := range cells {
		keys[c.Key()]++
		if runs[c.RunID()] {
			t.Errorf("run id %s twice", c.RunID())
		}
		runs[c.RunID()] = true
	}
	for k, n := range keys {
		if n != perCell {
			t.Errorf("key %s has %d runs, want %d", k, n, perCell)
		}
	}
	// Warm-ups come first for each cell.
	if !cells[0].Warmup || !cells[1].Warmup || cells[2].Warmup || cells[2].Repetition != 1 {
		t.Errorf("first runs: %+v %+v %+v", cells[0].RunID(), cells[1].RunID(), cells[2].RunID())
	}
	var docker Cell
	for _, c := range cells {
		if c.Runtime == "docker" && c.MPI == "openmpi" && c.Layout == configs.LayoutBind && c.Name == "cg" && c.Class == "W" && c.Ranks == 2 {
			docker = c
			break
		}
	}
	want := "benchmark=cg,class=W,runtime=docker,layout=bind,mpi=openmpi,pmi=pmix,ranks=2,bind=core,kind=npb"
	if docker.Key() != want {
		t.Errorf("key = %q, want %q", docker.Key(), want)
	}
	if docker.Image != "hpcbench-openmpi" || docker.Binary != "npb/kernels/build/openmpi/cg" ||
		strings.Join(docker.Argv, " ") != "npb/kernels/build/openmpi/cg W" || docker.Timeout != configs.DefaultTimeout {
		t.Errorf("resolved cell = %+v", docker)
	}
}

func TestHPLProblemFromMemory(t *testing.T) {
	cfg := parse(t, "[matrix]\nmpi = [\"openmpi\"]\npmi = [\"pmix\"]\nranks = [2]\n[[benchmark]]\nkind = \"hpcc\"\nmem_fraction = 0.5\nnb = 100\ncheck_binary = false\n")
	inv := fakeNode()
	cells, skipped := Expand(cfg, inv)
	if len(skipped) != 0 || len(cells) == 0 {
		t.Fatalf("skipped %v", skipped)
	}
	h := cells[0].HPL
	// 0.5 * 16 GiB / 8 bytes = 2^30 elements: N = 32768, a multiple of 100 below it.
	if h == nil || h.N != 32700 || h.NB != 100 || h.P != 1 || h.Q != 2 || cells[0].HPLMemFraction != 0.5 {
		t.Errorf("HPL problem = %+v", h)
	}
	if cells[0].Binary != "hpcc" || cells[0].Name != "hpcc" || cells[0].Benchmark != "hpcc" {
		t.Errorf("hpcc cell = %+v", cells[0])
	}
}

func TestFilter(t *testing.T) {
	cfg := parse(t, `[matrix]
ranks = [1, 2]
[[benchmark]]
kind = "npb"
names = ["ep", "is"]
classes = ["S"]
[[runtime]]
name = "native"
[[runtime]]
name = "podman"
label = "podman-runc"
image = "i"
`)
	cells, skipped := Expand(cfg, nil)
	count := func(spec ...string) (int, int) {
		f, err := ParseFilter(spec...)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", spec, err)
		}
		c, s := f.Apply(cells, skipped)
		return len(c), len(s)
	}
	all, allSkipped := count()
	if all != len(cells) || allSkipped != len(skipped) {
		t.Errorf("an empty filter dropped cells")
	}
	perCell := configs.DefaultRepetitions + configs.DefaultWarmup
	tests := []struct {
		spec  []string
		cells int
	}{
		{[]string{"benchmark=ep"}, 2 * 2 * 2 * perCell},                  // 2 runtimes x 2 MPI (own PMI) x 2 ranks
		{[]string{"benchmark=ep,ranks=2"}, 2 * 2 * perCell},              //
		{[]string{"benchmark=ep", "ranks=2"}, 2 * 2 * perCell},           // flags combine
		{[]string{"mpi=mpich,pmi=pmi1,runtime=native"}, 2 * 2 * perCell}, //
		{[]string{"runtime=podman"}, 2 * 2 * 2 * perCell},                // by runtime name
		{[]string{"runtime=podman-runc,layout=per-rank"}, 2 * 2 * 2 * perCell},
		{[]string{"layout=native"}, 2 * 2 * 2 * perCell},
		{[]string{"mpi=mpich,mpi=openmpi,class=S,ranks=1"}, 2 * 2 * 2 * perCell},
		{[]string{"pmi=pmi2"}, 0},
	}
	for _, tt := range tests {
		if n, _ := count(tt.spec...); n != tt.cells {
			t.Errorf("filter %q: %d runs, want %d", tt.spec, n, tt.cells)
		}
	}
	if _, s := count("pmi=pmi2"); s == 0 {
		t.Errorf("filter pmi=pmi2 kept no skipped cells")
	}
	for _, bad := range []string{"colour=red", "benchmark", "ranks=two", "mpi="} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%q) accepted", bad)
		}
	}
}

// TestQuickOnThisNode expands the built-in quick study against this
// node's real inventory.
func TestQuickOnThisNode(t *testing.T) {
	cfg, err := configs.Quick()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inv := inventory.Detect(ctx, inventory.Options{})
	// The kernels live at the repository root.
	wd, _ := os.Getwd()
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	cells, skipped := Expand(cfg, inv)
	reasons := map[string]int{}
	for _, s := range skipped {
		reasons[s.Reason]++
		if errors.Is(s.Err, ErrSkipBinary) {
			t.Logf("kernel missing: %s", s.Reason)
		}
	}
	for _, c := range cells {
		if c.MPI == "mpich" && c.PMI != pmi.PMI1 && !inv.FindMPI("mpich").Speaks(c.PMI) {
			t.Errorf("cell %s: mpich does not speak %s here", c.Key(), c.PMI)
		}
	}
	if _, err := os.Stat("npb/kernels/build/mpich/ep"); err == nil && inv.FindMPI("mpich").Found {
		native := 0
		for _, c := range cells {
			if c.IsNative() && c.MPI == "mpich" {
				native++
			}
		}
		if native == 0 {
			t.Errorf("kernels are built and MPICH is here, yet no native MPICH cell: %v", reasons)
		}
	}
	t.Logf("%d runs, %d skipped: %v", len(cells), len(skipped), reasons)
}

// minimalConfig is a valid config TestOverrides changes one thing in.
const minimalConfig = `[study]
name = "t"

[matrix]
ranks = [1, 2]

[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
`

// TestShippedConfigsExpand expands every config shipped in configs/:
// each yields cells, and every skipped cell says why.
func TestShippedConfigsExpand(t *testing.T) {
	files, err := filepath.Glob("../configs/*.toml")
	if err != nil || len(files) < 4 {
		t.Fatalf("shipped configs: %v %v", files, err)
	}
	for _, f := range files {
		cfg, err := configs.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		cells, skipped := Expand(cfg, nil)
		if len(cells) == 0 {
			t.Errorf("%s expands to no cells (skipped %d)", f, len(skipped))
		}
		for _, s := range skipped {
			if s.Reason == "" || s.Err == nil {
				t.Errorf("%s: skipped cell %s without a reason", f, s.Cell.Key())
			}
		}
	}
}

func TestOverrides(t *testing.T) {
	cfg, err := configs.Parse("o.toml", []byte(minimalConfig+`timeout = "90s"
repetitions = 2
warmup = 0
ranks = [4]
mpi = ["mpich"]
pmi = ["pmi1"]
env = { A = "bench" }

[[runtime]]
name = "native"
env = { A = "runtime", B = "x" }
`))
	if err != nil {
		t.Fatal(err)
	}
	cells, skipped := Expand(cfg, nil)
	if len(skipped) != 0 || len(cells) != 2 {
		t.Fatalf("cells %d skipped %v", len(cells), skipped)
	}
	c := cells[0]
	if c.Ranks != 4 || c.MPI != "mpich" || c.PMI != "pmi1" || c.Timeout != 90*time.Second || c.Warmup ||
		c.Env["A"] != "runtime" || c.Env["B"] != "x" {
		t.Errorf("cell = %+v", c)
	}
}

// TestExpandShmAxis: runtime.shm is an axis. Each mode is a cell of its
// own, the isolated one labelled LABEL+isolated and carrying its mode to
// the runtime; per-node isolated cells are skipped (one container always
// shares memory); native has no shm.
func TestExpandShmAxis(t *testing.T) {
	cfg := parse(t, `[study]
repetitions = 1
warmup = 0
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]
[[benchmark]]
kind = "npb"
name = "cg"
classes = ["S"]
args = ["{class}"]
[[runtime]]
name = "native"
[[runtime]]
name = "charliecloud"
image = "hpcbench-{mpi}"
layouts = ["per-rank", "per-node"]
shm = ["shared", "isolated"]
`)
	cells, skipped := Expand(cfg, nil)
	byLabel := map[string][]Cell{}
	for _, c := range cells {
		byLabel[c.RuntimeLabel] = append(byLabel[c.RuntimeLabel], c)
	}
	if len(byLabel["native"]) != 1 || byLabel["native"][0].Shm != "" {
		t.Errorf("native cells %+v: want one, without shm", byLabel["native"])
	}
	if got := byLabel["charliecloud"]; len(got) != 2 || got[0].Shm != configs.ShmShared || got[1].Shm != configs.ShmShared {
		t.Errorf("shared cells %+v: want per-rank and per-node", got)
	}
	iso := byLabel["charliecloud+isolated"]
	if len(iso) != 1 || iso[0].Shm != configs.ShmIsolated || iso[0].Layout != configs.LayoutPerRank || iso[0].Runtime != "charliecloud" {
		t.Fatalf("isolated cells %+v: want one per-rank", iso)
	}
	if iso[0].Key() == byLabel["charliecloud"][0].Key() {
		t.Errorf("both modes share the key %s", iso[0].Key())
	}
	var shmSkips int
	for _, s := range skipped {
		if errors.Is(s.Err, ErrSkipShm) {
			shmSkips++
			if s.Cell.Layout != configs.LayoutPerNode || s.Cell.Shm != configs.ShmIsolated {
				t.Errorf("skipped for shm: %+v", s.Cell)
			}
		}
	}
	if shmSkips != 1 {
		t.Errorf("%d cells skipped for shm, want the per-node isolated one", shmSkips)
	}
}

// TestCommandPingpongMetric: a command that prints the project's
// pingpong summary is measured by its latency, with its bandwidth and
// wall time alongside; any other command by its wall time.
func TestCommandPingpongMetric(t *testing.T) {
	c := Cell{Kind: configs.KindCommand, Name: "pingpong", Ranks: 2}
	run := results.Run{Output: []byte("processes = 2\nlatency_8B_us = 0.612\nbandwidth_1MiB_samples = 200\nbandwidth_1MiB_MBps = 5900.5\n")}
	judgeOutput(&run, c, 2*time.Second, t.TempDir())
	if run.Status != results.StatusOK || run.Metric.Name != "latency_8B_us" || run.Metric.Value != 0.612 || run.Metric.HigherIsBetter {
		t.Errorf("pingpong run: %+v", run.Metric)
	}
	if run.Metrics["bandwidth_1MiB_MBps"] != 5900.5 || run.Metrics["wall_s"] != 2.0 {
		t.Errorf("pingpong metrics %v", run.Metrics)
	}
	other := results.Run{Output: []byte("hello\n")}
	judgeOutput(&other, c, time.Second, t.TempDir())
	if other.Metric.Name != "wall_s" || other.Metric.Value != 1 {
		t.Errorf("other command: %+v", other.Metric)
	}
}
