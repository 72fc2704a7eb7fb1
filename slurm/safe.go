package slurm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hpcbench/hpcbench/configs"
)

// What reaches a batch script is checked here once more, whatever built
// the plan: the config's validation covers [slurm], but the command line
// overrides it (--partition, --account, --time) and a Plan may be built
// in code. The script itself shell-quotes every word of its commands;
// what cannot be quoted (#SBATCH lines, comments) must not hold a line
// break, and names that become paths must stay inside the output folder.

// ErrUnsafe: a value would change what a generated script does, or where
// it writes.
var ErrUnsafe = errors.New("unsafe value for a batch script")

// checkBatchSettings checks the study name and the batch settings the
// scripts will carry. file is the config, for errors about its keys.
func checkBatchSettings(study string, sc configs.Slurm, opts GenOptions, file string) error {
	if err := configs.CheckStudyName(study); err != nil {
		return fmt.Errorf("slurm: study name (--study or [study] name in %s): %w: %w", file, ErrUnsafe, err)
	}
	// where names a setting by the flag that gave it, else the config key.
	where := func(flag, override, key string) string {
		if override != "" {
			return flag
		}
		return "[slurm] " + key + " in " + file
	}
	var errs []error
	add := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("slurm: %s: %w: %w", what, ErrUnsafe, err))
		}
	}
	if sc.Partition != "" {
		add(where("--partition", opts.Partition, "partition"), configs.CheckSlurmPartition(sc.Partition))
	}
	if sc.Account != "" {
		add(where("--account", opts.Account, "account"), configs.CheckSlurmAccount(sc.Account))
	}
	if sc.Time != "" {
		add(where("--time", opts.Time, "time"), configs.CheckSlurmTime(sc.Time))
	}
	if sc.CPUBind != "" && !configs.CPUBindRe.MatchString(sc.CPUBind) {
		add("[slurm] cpu_bind in "+file, fmt.Errorf("%q is not an srun --cpu-bind type", sc.CPUBind))
	}
	for _, m := range sc.Modules {
		add("[slurm] modules in "+file, configs.CheckModule(m))
	}
	for _, f := range sc.SbatchFlags {
		add("[slurm] sbatch_flags in "+file, configs.CheckSbatchFlag(f))
	}
	add("[slurm] prologue in "+file, configs.CheckText(sc.Prologue, true))
	return errors.Join(errs...)
}

// sbatchPath is path as the value of a #SBATCH option: sbatch splits the
// line at spaces and reads quotes and backslashes, and '%' starts one of
// its file name patterns, so the first are refused and '%' is doubled.
func sbatchPath(path string) (string, error) {
	if strings.ContainsAny(path, " \t\"'\\") {
		return "", fmt.Errorf("%w: the output folder %q has a space, quote or backslash, which a #SBATCH line cannot carry: choose another folder with -o", ErrUnsafe, path)
	}
	if err := configs.CheckText(path, false); err != nil {
		return "", fmt.Errorf("%w: the output folder: %w", ErrUnsafe, err)
	}
	return strings.ReplaceAll(path, "%", "%%"), nil
}

// jobFolder is the folder of job name inside dir; it refuses a name that
// would put it anywhere else (Generate removes and refills it).
func jobFolder(dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%w: job name %q is not a folder name inside %s", ErrUnsafe, name, dir)
	}
	return within(dir, filepath.Join(dir, name))
}

// within returns path when it lies inside dir, else an error.
func within(dir, path string) (string, error) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %s is not inside the output folder %s", ErrUnsafe, path, dir)
	}
	return path, nil
}

// commentText is s as it may appear in a comment line of a script: as it
// is when every character is printable, else Go-quoted, so that no line
// break or invisible control can end the comment or hide what follows.
func commentText(s string) string {
	if configs.CheckText(s, false) == nil {
		return s
	}
	return strconv.QuoteToASCII(s)
}
