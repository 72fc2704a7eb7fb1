package matrix

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/npb"
)

// EnvBLASLibrary is the key under which an HPL or HPCC run's Env records
// which BLAS its binary loads (npb.BLAS's String), beside the
// OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and OPENBLAS_CORETYPE it ran with.
// It describes the run; it is not passed to the ranks.
const EnvBLASLibrary = "HPCBENCH_BLAS_LIBRARY"

// blasOf says which BLAS cell c's binary loads where it runs: on the host
// for native cells, in the image's root filesystem for images hpcbench
// built. It is worked out once per binary and image in a study.
func (ex *executor) blasOf(ctx context.Context, c Cell, ir *Resolved) string {
	key := c.Binary + "\x00" + c.Runtime + "\x00" + c.Image
	if s, ok := ex.blas[key]; ok {
		return s
	}
	s := describeBLAS(ctx, c, ir)
	if ex.blas == nil {
		ex.blas = map[string]string{}
	}
	ex.blas[key] = s
	return s
}

func describeBLAS(ctx context.Context, c Cell, ir *Resolved) string {
	bin := c.Binary
	if filepath.Base(bin) != bin && !filepath.IsAbs(bin) {
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
	}
	root := ""
	if !c.IsNative() {
		if ir == nil || ir.Err != nil {
			return "unknown: the image was not prepared"
		}
		m, err := images.OpenStore("").Lookup(c.Image)
		if err != nil || m.Rootfs == "" {
			return fmt.Sprintf("unknown: %s is not an image hpcbench built, so its files were not inspected", c.Image)
		}
		root = m.Rootfs
	}
	b, err := npb.DetectBLASIn(ctx, bin, root)
	switch {
	case errors.Is(err, npb.ErrNoBinary):
		return fmt.Sprintf("unknown: %s is not on this host", c.Binary)
	case err != nil:
		return "unknown: " + err.Error()
	}
	if root != "" {
		return b.String() + " in image " + c.Image
	}
	return b.String()
}
