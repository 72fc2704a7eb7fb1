package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/matrix"
)

// firstUseImages builds a cell's missing image when a study first needs
// it, as "hpcbench image build --minimal" would: the MPI of the cell (with
// hpcbench's MPICH builds for MPICH), every program in the folder of the
// cell's binary (the project's kernels) and hpcbench itself, imported into
// the cell's runtime only; another runtime asking for the same image
// reuses the root filesystem and imports it. Progress goes to log.
func firstUseImages(log io.Writer) matrix.ImageBuilder {
	return func(ctx context.Context, runtime string, c matrix.Cell) error {
		if c.MPI != "mpich" && c.MPI != "openmpi" {
			return fmt.Errorf("only images of MPICH or Open MPI are built on first use (cell MPI %q)", c.MPI)
		}
		// Relative to the folder hpcbench runs in, as the runs take it
		// (npb_dir = "npb/kernels/build").
		binary := matrix.AbsoluteProgram(c.Binary)
		bins, err := programsBeside(binary)
		if err != nil {
			return err
		}
		if self, err := os.Executable(); err == nil {
			bins = append(bins, self)
		}
		fmt.Fprintf(log, "image %s for %s: not found, building it (once: minimal, %s and the programs of %s; 'hpcbench image list' shows it after)\n",
			c.Image, runtime, c.MPI, filepath.Dir(binary))
		start := time.Now()
		opts := images.BuildOptions{Name: c.Image, MPI: c.MPI, Minimal: true, Binaries: bins,
			Store: images.OpenStore(""), Log: io.Discard}
		if _, err := imagebuild.Build(ctx, opts, []string{runtime}); err != nil {
			return err
		}
		fmt.Fprintf(log, "image %s for %s: built in %s\n", c.Image, runtime, time.Since(start).Round(100*time.Millisecond))
		return nil
	}
}

// programsBeside lists the executable files in the folder of binary (an
// absolute path): what an image built for one kernel needs for the others.
func programsBeside(binary string) ([]string, error) {
	if !filepath.IsAbs(binary) {
		return nil, fmt.Errorf("binary %q is not an absolute path: give the image's programs with 'hpcbench image build --binaries'", binary)
	}
	dir := filepath.Dir(binary)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bins []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		bins = append(bins, filepath.Join(dir, e.Name()))
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("no program in %s", dir)
	}
	return bins, nil
}
