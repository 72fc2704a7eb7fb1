package slurm

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hpcbench/hpcbench/matrix"
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
