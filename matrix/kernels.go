package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/npb/kernels"
)

// kernelDirs finds the project's kernels for the NPB benchmarks of cfg that
// use the default npb_dir (configs.DefaultNPBDir, a path relative to the
// current folder): where <npb_dir>/<mpi> exists here (the source tree after
// "make kernels") it is used as before; elsewhere the kernels come from
// cache, built on first use. The result maps an MPI to the folder {dir}
// stands for in its cells; an MPI whose compiler wrapper is missing is left
// out, and its cells are skipped with the usual reason.
// An MPI the filter rules out is not built for.
func kernelDirs(ctx context.Context, cfg *configs.Config, filter Filter, cache *kernels.Cache) (map[string]string, error) {
	if cache == nil || cfg.Study.NPBDir != configs.DefaultNPBDir {
		return nil, nil
	}
	var mpis []string
	for _, b := range cfg.Benchmarks {
		if b.Kind != configs.KindNPB || b.Dir != "" {
			continue
		}
		for _, mpi := range or(b.MPI, cfg.Matrix.MPI) {
			if wanted := filter["mpi"]; len(wanted) > 0 && !slices.Contains(wanted, mpi) {
				continue
			}
			if !slices.Contains(mpis, mpi) {
				mpis = append(mpis, mpi)
			}
		}
	}
	dirs := map[string]string{}
	for _, mpi := range mpis {
		if st, err := os.Stat(filepath.Join(configs.DefaultNPBDir, mpi)); err == nil && st.IsDir() {
			continue
		}
		if _, known := kernels.Wrappers[mpi]; !known {
			continue
		}
		e, _, err := cache.Ensure(ctx, mpi)
		if errors.Is(err, kernels.ErrNoWrapper) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the project's kernels for %s (%s): %w", mpi, cfg.File, err)
		}
		dirs[mpi] = e.Dir
	}
	return dirs, nil
}
