package matrix

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/npb/kernels"
	"github.com/hpcbench/hpcbench/results"
)

// Overrides are what a command line changes in a loaded config for one
// study, and what NewPlan may reuse instead of probing the node again.
type Overrides struct {
	// Study names the study instead of [study] name (--study).
	Study string
	// BLASThreads replaces [study] blas_threads when above 0
	// (--blas-threads); the config's own rule for it applies.
	BLASThreads int
	// Filter keeps only the cells it matches (--filter); empty keeps all.
	Filter Filter
	// MaxRanks raises or lowers the ceiling on ranks per local launch
	// when above 0 (--max-ranks); see MaxRanks.
	MaxRanks int
	// Inventory is what this node has; nil detects it.
	Inventory *inventory.Inventory
	// Kernels, when set, is where the project's kernels are found (and
	// built on first use) for cells of the default npb_dir outside the
	// source tree; nil leaves npb_dir as the config says.
	Kernels *kernels.Cache
}

// Plan is one study made ready for an executor: the config with its
// overrides applied, what this node has, the cells to run (repetitions
// included, in config order) and the cells that cannot run, with reasons.
// Every executor (Local, slurm's) runs a Plan; none expands a config
// itself.
type Plan struct {
	Config    *configs.Config
	Inventory *inventory.Inventory
	// Study is the name the runs are stored under: Overrides.Study, else
	// DefaultStudyName.
	Study string
	// StudyGiven says Study came from Overrides.Study. Without it, a
	// resumed study continues the newest one of the config (StudyBase).
	StudyGiven bool
	// Seed shuffles the runs (Schedule).
	Seed    int64
	Filter  Filter
	Cells   []Cell
	Skipped []Skipped
	// MaxRanks is the ceiling on ranks per local launch the cells were
	// checked against (0: none); the executor lets each launch start as
	// many.
	MaxRanks int
	// Runtimes detects each cell's runtime and prepares its image at most
	// once, whichever executor asks.
	Runtimes *Resolver
}

// Errors NewPlan wraps; both are the user's to fix (hpcbench exits 2).
var (
	// ErrOverride: an override the config cannot take.
	ErrOverride = errors.New("override not accepted")
	// ErrNoCell: the filter left no cell, runnable or skipped.
	ErrNoCell = errors.New("matches no cell")
)

// NewPlan applies the overrides to cfg (which the plan then owns), takes
// the node's inventory unless the overrides bring one, expands the matrix
// and filters it. Runtimes and images are resolved later, once each, by
// whichever executor needs them (Plan.Runtimes).
func NewPlan(ctx context.Context, cfg *configs.Config, o Overrides) (*Plan, error) {
	if cfg == nil {
		return nil, fmt.Errorf("matrix: no config")
	}
	if o.Study != "" {
		// The name becomes folder and Slurm job names: the rule [study]
		// name follows holds for --study too.
		if err := configs.CheckStudyName(o.Study); err != nil {
			return nil, fmt.Errorf("--study %w", overrideError{err})
		}
		cfg.Study.Name = o.Study
	}
	if o.BLASThreads != 0 {
		if err := configs.CheckBLASThreads(o.BLASThreads, cfg.Study.Bind); err != nil {
			return nil, fmt.Errorf("--blas-threads %w ([study] bind in %s)", overrideError{err}, cfg.File)
		}
		cfg.Study.BLASThreads = o.BLASThreads
	}
	inv := o.Inventory
	if inv == nil {
		inv = inventory.Detect(ctx, inventory.Options{NPBDirs: []string{cfg.Study.NPBDir}})
	}
	maxRanks := MaxRanks(inv, o.MaxRanks)
	dirs, err := kernelDirs(ctx, cfg, o.Filter, o.Kernels)
	if err != nil {
		return nil, err
	}
	cells, skipped := expand(cfg, inv, maxRanks, dirs)
	cells, skipped = o.Filter.Apply(cells, skipped)
	if len(cells) == 0 && len(skipped) == 0 && len(o.Filter) > 0 {
		return nil, fmt.Errorf("--filter %s %w", o.Filter, ErrNoCell)
	}
	p := &Plan{
		Config: cfg, Inventory: inv,
		Study: o.Study, StudyGiven: o.Study != "",
		Seed: studySeed(cfg), Filter: o.Filter,
		Cells: cells, Skipped: skipped, MaxRanks: maxRanks,
		Runtimes: NewResolver(),
	}
	if p.Study == "" {
		p.Study = DefaultStudyName(cfg, time.Now())
	}
	return p, nil
}

// overrideError carries the config's own reason for refusing an override
// and marks it as ErrOverride.
type overrideError struct{ err error }

func (e overrideError) Error() string   { return e.err.Error() }
func (e overrideError) Unwrap() []error { return []error{e.err, ErrOverride} }

// StudyBase is what a config's studies are named after: [study] name, else
// the config file's name without its extension.
func StudyBase(cfg *configs.Config) string {
	if cfg.Study.Name != "" {
		return cfg.Study.Name
	}
	base := strings.TrimSuffix(filepath.Base(cfg.File), filepath.Ext(cfg.File))
	if base == "" || base == "." || base == string(filepath.Separator) {
		return "study"
	}
	return base
}

// DefaultStudyName names a study started at now that was given no name:
// StudyBase, a dash, and the date and time ("quick-20240601-153000").
func DefaultStudyName(cfg *configs.Config, now time.Time) string {
	return StudyBase(cfg) + "-" + now.Format("20060102-150405")
}

// Executor runs a plan's cells and stores what they measured: Local on
// this node, slurm's through batch jobs.
type Executor interface {
	Run(ctx context.Context, plan *Plan, store *results.Store) (StudyResult, error)
}

// StudyResult is what an executor tells the user when it stops.
type StudyResult interface {
	fmt.Stringer
	// StudyName is the name the runs were stored under.
	StudyName() string
}

// SafeName makes s usable in a file name (and a Slurm job name): every
// character but ASCII letters, digits, '-', '_' and '.' becomes '_'.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}
