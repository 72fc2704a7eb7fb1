package matrix

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
)

// planConfig is an HPL study whose binary is not checked, planned below
// against the fake node of expand_test.go.
const planConfig = `[study]
name = "p"
repetitions = 2
warmup = 1
[matrix]
mpi = ["mpich"]
pmi = ["pmi1", "pmix"]
ranks = [1, 2]
[[benchmark]]
kind = "hpl"
n = 1000
nb = 100
check_binary = false
`

func TestPlanOverridesAndCells(t *testing.T) {
	cfg, err := configs.Parse("p.toml", []byte(planConfig))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilter("ranks=2")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(context.Background(), cfg, Overrides{Study: "named", BLASThreads: 3, Filter: f, Inventory: fakeNode()})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Study != "named" || !plan.StudyGiven || plan.Config.Study.Name != "named" || plan.Seed != cfg.Study.Seed {
		t.Errorf("study %q (given %v), config name %q, seed %d", plan.Study, plan.StudyGiven, plan.Config.Study.Name, plan.Seed)
	}
	// 1 x 2 grid on 2 ranks, pmi1 only (pmix skipped), 3 runs each.
	if len(plan.Cells) != 3 || len(plan.Skipped) != 1 || !errors.Is(plan.Skipped[0].Err, ErrSkipPMI) {
		t.Fatalf("%d cells, skipped %v", len(plan.Cells), plan.Skipped)
	}
	for _, c := range plan.Cells {
		if c.Ranks != 2 || c.BLASThreads != 3 {
			t.Errorf("cell %s: ranks %d, BLAS threads %d; want the filter's 2 and the override's 3", c.RunID(), c.Ranks, c.BLASThreads)
		}
	}
	if plan.Runtimes == nil {
		t.Error("the plan has no resolver")
	}
}

func TestPlanRefusals(t *testing.T) {
	load := func(text string) *configs.Config {
		cfg, err := configs.Parse("r.toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	pinned := strings.Replace(planConfig, `name = "p"`, "name = \"p\"\nbind = \"core\"", 1)
	_, err := NewPlan(context.Background(), load(pinned), Overrides{BLASThreads: 2, Inventory: fakeNode()})
	if !errors.Is(err, ErrOverride) || !strings.Contains(err.Error(), `--blas-threads 2 with bind = "core"`) || !strings.Contains(err.Error(), "r.toml") {
		t.Errorf("2 BLAS threads on pinned ranks: %v, want ErrOverride naming the flag and the config", err)
	}
	if _, err := NewPlan(context.Background(), load(pinned), Overrides{BLASThreads: 1, Inventory: fakeNode()}); err != nil {
		t.Errorf("1 BLAS thread on pinned ranks: %v", err)
	}
	f, _ := ParseFilter("benchmark=ep")
	_, err = NewPlan(context.Background(), load(planConfig), Overrides{Filter: f, Inventory: fakeNode()})
	if !errors.Is(err, ErrNoCell) || err.Error() != "--filter benchmark=ep matches no cell" {
		t.Errorf("a filter matching nothing: %v", err)
	}
}

func TestDefaultStudyName(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, file, want string
	}{
		{"quick", "configs/quick.toml", "quick-20260102-030405"},
		{"", "studies/npb.toml", "npb-20260102-030405"},
		{"", "", "study-20260102-030405"},
	}
	for _, tt := range tests {
		cfg := &configs.Config{File: tt.file}
		cfg.Study.Name = tt.name
		if got := DefaultStudyName(cfg, at); got != tt.want {
			t.Errorf("name %q, file %q: %q, want %q", tt.name, tt.file, got, tt.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	if got := SafeName("npb/ep 2:x-y_z.1"); got != "npb_ep_2_x-y_z.1" {
		t.Errorf("SafeName = %q", got)
	}
}
