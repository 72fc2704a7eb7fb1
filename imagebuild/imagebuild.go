// Package imagebuild builds an image for every runtime: the root
// filesystem once (package images), then each runtime's own copy through
// its import capability (runtimes.Importer). It sits above both packages,
// so that images knows no runtime and runtimes never calls back into the
// code that builds for all of them.
package imagebuild

import (
	"context"
	"fmt"
	"io"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/runtimes"
)

// Build builds (or reuses) the image opts describes and imports it into
// the runtimes named ("docker", "podman", "apptainer"; "oci" runs the root
// filesystem itself), or, with none named, into every available runtime
// that imports images. A named runtime that is unavailable fails the build
// before anything is built. A runtime's copy is kept when the root
// filesystem was not rebuilt and the runtime still holds it. The manifest
// is saved after each import, and returned.
func Build(ctx context.Context, opts images.BuildOptions, runtimeNames []string) (*images.Manifest, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	targets, err := runtimes.ImportTargets(ctx, runtimeNames, log)
	if err != nil {
		return nil, err
	}
	m, rebuilt, err := images.BuildRootfs(ctx, &opts)
	if err != nil {
		return nil, err
	}
	for _, rt := range targets {
		if err := rt.(runtimes.Importer).ImportRootfs(ctx, m, rebuilt, log); err != nil {
			return nil, fmt.Errorf("image %s: %w", opts.Name, err)
		}
		if err := opts.Store.Save(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}
