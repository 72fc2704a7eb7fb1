package slurm

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// TestSrunLinePassesRuntimeOptions: a config's runtime.command and
// runtime.flags reach "hpcbench slurm task" (which hands them to the
// runtime's wrapper), the flags as one JSON word that survives commas and
// spaces.
func TestSrunLinePassesRuntimeOptions(t *testing.T) {
	flags := []string{"--env", "A=1,2", "--security-opt", "label=disable x"}
	c := matrix.Cell{Runtime: "podman", RuntimeCommand: "/opt/podman/bin/podman", RuntimeFlags: flags,
		Layout: "per-rank", MPI: "mpich", PMI: pmi.PMI1, Ranks: 2, Argv: []string{"/npb/ep", "S"}}
	argv, _ := srunLine(c, srunPlacement{self: "/bin/hpcbench", image: "img"})
	value := func(flag string) string {
		i := slices.Index(argv, flag)
		if i < 0 || i+1 >= len(argv) || slices.Index(argv, "--") < i {
			t.Fatalf("%s missing before the program: %q", flag, argv)
		}
		return argv[i+1]
	}
	if got := value("--runtime-command"); got != c.RuntimeCommand {
		t.Errorf("--runtime-command %q, want %q", got, c.RuntimeCommand)
	}
	var got []string
	if err := json.Unmarshal([]byte(value("--runtime-flags")), &got); err != nil || !slices.Equal(got, flags) {
		t.Errorf("--runtime-flags decodes to %q (%v), want %q", got, err, flags)
	}

	c.RuntimeCommand, c.RuntimeFlags = "", nil
	argv, _ = srunLine(c, srunPlacement{self: "/bin/hpcbench", image: "img"})
	if slices.Contains(argv, "--runtime-flags") || slices.Contains(argv, "--runtime-command") {
		t.Errorf("runtime options passed although the config has none: %q", argv)
	}
}

// TestSrunLinePassesMPIBuild: a container cell's MPICH build reaches
// "hpcbench slurm task" (which puts it in the runtime's Spec), before the
// program; a native cell's build is the script's business (LD_LIBRARY_PATH
// before the run), not srun's.
func TestSrunLinePassesMPIBuild(t *testing.T) {
	b := &mpibuild.Build{Flavour: "pmi2", Prefix: "/opt/hpcbench/mpich-pmi2", LibDir: "/opt/hpcbench/mpich-pmi2/lib"}
	c := matrix.Cell{Runtime: "apptainer", Layout: "per-rank", MPI: "mpich", PMI: pmi.PMI2, MPIBuild: b, Ranks: 2, Argv: []string{"/npb/ep", "S"}}
	argv, choices := srunLine(c, srunPlacement{self: "/bin/hpcbench", image: "img.sif"})
	i, end := slices.Index(argv, "--mpi-build"), slices.Index(argv, "--")
	if i < 0 || i > end || argv[i+1] != b.Prefix || argv[1] != "--mpi=pmi2" || choices["srun_mpi"] != "pmi2" {
		t.Errorf("srun line %q (choices %v): want --mpi=pmi2 and --mpi-build %s before --", argv, choices, b.Prefix)
	}
	c.Runtime, c.Layout = "native", ""
	argv, _ = srunLine(c, srunPlacement{self: "/bin/hpcbench"})
	if slices.Contains(argv, "--mpi-build") {
		t.Errorf("native srun line %q has --mpi-build", argv)
	}
}
