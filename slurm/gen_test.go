package slurm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// nodeWithBuilds is a node with Debian's MPICH and Open MPI, hpcbench's
// three MPICH builds under root, and every runtime usable.
func nodeWithBuilds(root string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Host: inventory.Host{Hostname: "submit", Cores: 64, MemoryBytes: 64 << 30},
		MPI: []inventory.MPI{
			{Component: inventory.Component{Name: "mpich", Found: true, Version: "4.0.2"}, PMI: []pmi.Flavour{pmi.PMI1}},
			{Component: inventory.Component{Name: "openmpi", Found: true, Version: "4.1.4"}, PMI: []pmi.Flavour{pmi.PMIx}},
		},
	}
	for _, f := range []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx} {
		prefix := filepath.Join(root, "mpich-"+string(f))
		inv.MPICHBuilds = append(inv.MPICHBuilds, inventory.MPICHBuild{
			Build: mpibuild.Build{Flavour: string(f), Prefix: prefix, LibDir: filepath.Join(prefix, "lib"), Version: "4.0.2"},
			PMI:   []pmi.Flavour{f}, Usable: true,
		})
	}
	inv.MPI[0].PMI = []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx}
	for _, name := range []string{"docker", "podman", "apptainer", "singularity", "crun", "runc"} {
		inv.Runtimes = append(inv.Runtimes, inventory.Runtime{Component: inventory.Component{Name: name, Found: true, Version: "1"}, Usable: true})
	}
	return inv
}

// TestGenShippedConfigs generates every shipped config on a node with
// the MPICH builds and the binaries present (check_binary off): the steps
// follow the cells' PMI (--mpi=pmi2 for PMI-1 and PMI-2, --mpi=pmix for
// PMIx), slurm.toml alone has both kinds of step, and a native MPICH step
// runs on the build of its flavour. No Slurm daemon is involved.
func TestGenShippedConfigs(t *testing.T) {
	files, err := filepath.Glob("../configs/*.toml")
	if err != nil || len(files) < 4 {
		t.Fatalf("shipped configs: %v %v", files, err)
	}
	root := "/opt/hpcbench-test"
	plugins := map[string]bool{}
	for _, f := range files {
		cfg, err := configs.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		no := false
		for i := range cfg.Benchmarks {
			cfg.Benchmarks[i].CheckBinary = &no
		}
		study, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Study: "gen", Inventory: nodeWithBuilds(root)})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		plan, err := Generate(context.Background(), study, GenOptions{Dir: t.TempDir(), Self: "/usr/bin/hpcbench"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		here := map[string]bool{}
		for _, j := range plan.Jobs {
			script, err := os.ReadFile(j.Script)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("bash", "-n", j.Script).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", j.Script, err, out)
			}
			for _, r := range j.Runs {
				c := r.Cell
				want := map[pmi.Flavour]string{pmi.PMI1: "pmi2", pmi.PMI2: "pmi2", pmi.PMIx: "pmix"}[c.PMI]
				if r.Srun[1] != "--mpi="+want || r.MPIPlugin != want {
					t.Errorf("%s run %s (%s %s): srun %v, want --mpi=%s", f, r.ID, c.MPI, c.PMI, r.Srun[:2], want)
				}
				here[r.Srun[1]] = true
				if c.MPI != "mpich" {
					continue
				}
				build := filepath.Join(root, "mpich-"+string(c.PMI))
				if c.MPIBuild == nil || c.MPIBuild.Prefix != build || r.Choices["mpi_build"] != build {
					t.Errorf("%s run %s (mpich %s): build %v, choices %v; want %s", f, r.ID, c.PMI, c.MPIBuild, r.Choices, build)
				}
				if c.IsNative() && !strings.Contains(string(script), "LD_LIBRARY_PATH="+build+"/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \\\nrun "+r.ID+" ") {
					t.Errorf("%s run %s: the script does not put %s/lib first on LD_LIBRARY_PATH", f, r.ID, build)
				}
				if !c.IsNative() && !strings.Contains(strings.Join(r.Srun, " "), "--mpi-build "+build) {
					t.Errorf("%s run %s: slurm task is not given the build: %v", f, r.ID, r.Srun)
				}
			}
		}
		t.Logf("%s: %d runs in %d jobs, steps %v, %d cells skipped", filepath.Base(f), plan.Runs(), len(plan.Jobs), here, len(plan.Skipped))
		if filepath.Base(f) == "slurm.toml" && !(here["--mpi=pmi2"] && here["--mpi=pmix"]) {
			t.Errorf("slurm.toml generates %v, want --mpi=pmi2 and --mpi=pmix steps (its description: PMI-2 vs PMIx through srun)", here)
		}
		for k := range here {
			plugins[k] = true
		}
	}
	if !plugins["--mpi=pmi2"] || !plugins["--mpi=pmix"] {
		t.Errorf("shipped configs generate %v, want both --mpi=pmi2 and --mpi=pmix", plugins)
	}
}

// A cell whose detection timed out on the submit host must not become a
// recorded skip of the batch: generation stops and names the cell.
func TestGenRefusesUndecidedCells(t *testing.T) {
	cfg := loadConfig(t, `
[study]
name = "undecided"
repetitions = 1

[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1]

[[benchmark]]
kind = "npb"
names = ["ep"]
classes = ["S"]
check_binary = false

[[runtime]]
name = "native"
`)
	study := studyPlan(t, cfg, "undecided")
	if len(study.Cells) == 0 {
		t.Fatal("no runnable cell in the test config")
	}
	undecided := study.Cells[0]
	study.Skipped = append(study.Skipped, matrix.Skipped{Cell: undecided, Reason: "docker: probe timed out", Err: matrix.ErrSkipUnknown})
	dir := t.TempDir()
	plan, err := Generate(context.Background(), study, GenOptions{Dir: dir, Self: "/usr/bin/hpcbench"})
	if !errors.Is(err, matrix.ErrSkipUnknown) || plan != nil || !strings.Contains(err.Error(), undecided.Key()) {
		t.Fatalf("Generate with an undecided cell: plan %v, err %v; want ErrSkipUnknown naming %s", plan, err, undecided.Key())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused batch wrote %d file(s)", len(entries))
	}
}
