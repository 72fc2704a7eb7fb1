package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/results"
)

// TestCompletionBash loads the bash script and completes with it as bash
// would: verbs, a verb's flags, and after --study the stored studies.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	// The script calls hpcbench by the name typed: put it in PATH.
	if err := os.Symlink(bin, filepath.Join(dir, "hpcbench")); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "r.db")
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateStudy(context.Background(), results.Study{Name: "quick-20240601-120000", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	complete := func(line string) string {
		t.Helper()
		script := `set -e
source <(hpcbench completion bash)
COMP_WORDS=(` + line + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_hpcbench_complete
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
		}
		return string(out)
	}
	if out := complete(`hpcbench ma`); strings.TrimSpace(out) != "matrix" {
		t.Errorf("hpcbench ma<TAB>: %q", out)
	}
	if out := complete(`hpcbench matrix --dr`); strings.TrimSpace(out) != "--dry-run" {
		t.Errorf("hpcbench matrix --dr<TAB>: %q", out)
	}
	if out := complete(`hpcbench results show --db r.db --study ''`); strings.TrimSpace(out) != "quick-20240601-120000" {
		t.Errorf("--study <TAB>: %q", out)
	}
	for _, shell := range []string{"zsh", "fish"} {
		if out, code := runCLI(t, bin, "completion", shell); code != 0 || !strings.Contains(out, "hpcbench") {
			t.Errorf("completion %s: exit %d\n%s", shell, code, out)
		}
	}
	if _, code := runCLI(t, bin, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}
