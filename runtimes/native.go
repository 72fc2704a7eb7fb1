package runtimes

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hpcbench/hpcbench/pmi"
)

// Native runs ranks on the host as they are: the baseline every container
// runtime is compared with. PMI-1/PMI-2 use the inherited socket (PMI_FD).
type native struct{}

func newNative(_, _ string) Runtime { return native{} }

func init() { register("native", newNative) }

func (native) Name() string { return "native" }

// Capabilities: ranks run on the host; there is no bind layout (no
// container to bind the host's MPI into).
func (native) Capabilities() Capabilities {
	return Capabilities{Layouts: []Layout{PerRank, PerNode}, PassesFDs: true, Rootless: true}
}

// Fingerprint reads the kernel release: there is nothing else to be
// missing.
func (n native) Fingerprint(context.Context) Fingerprint {
	fp := Fingerprint{Runtime: "native", Capabilities: n.Capabilities()}
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		fp.Err = fmt.Errorf("native: %w", err)
		return fp
	}
	fp.Found, fp.Usable = true, true
	fp.Version = strings.TrimSpace(string(b))
	fp.Provenance = "linux " + fp.Version
	return fp
}

// Detect returns "linux" and the kernel release.
func (n native) Detect(ctx context.Context) (string, error) { return n.Fingerprint(ctx).detected() }

// Prepare accepts no image: native ranks run on the host's files.
func (native) Prepare(_ context.Context, image string) (ImageInfo, error) {
	if image != "" && image != "host" {
		return ImageInfo{}, fmt.Errorf("native: runs on the host and takes no image (got %q)", image)
	}
	return ImageInfo{Ref: "host"}, nil
}

// noContainer refuses the container settings a native run cannot honour.
func noContainer(spec Spec) error {
	if len(spec.Flags) > 0 {
		return fmt.Errorf("native: %w: runs no container, so it takes no runtime flags (got %s): remove runtime.flags", ErrFlags, quoteArgs(spec.Flags))
	}
	if spec.Command != "" {
		return fmt.Errorf("native: %w: runs no container, so it takes no command (got %q): remove runtime.command", ErrFlags, spec.Command)
	}
	return nil
}

func (native) Wrapper(_ context.Context, spec Spec) (Wrapper, error) {
	if err := noContainer(spec); err != nil {
		return nil, err
	}
	if spec.Layout == Bind {
		return nil, fmt.Errorf("native: %w: bind needs a container", ErrLayout)
	}
	spec, err := perRankSpec("native", spec)
	if err != nil {
		return nil, err
	}
	spec.Image = ImageInfo{}
	return nativeWrapper{spec: spec}, nil
}

// WrapNode leaves the node launch as it is: natively, "hpcbench launch"
// simply runs on the host.
func (native) WrapNode(_ context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error {
	if err := noContainer(spec); err != nil {
		return err
	}
	if len(cmd.Argv) == 0 {
		return fmt.Errorf("native: per-node launch of job %s: empty command line", job.ID)
	}
	cmd.Env = withBuildEnv(cmd.Env, spec.MPIBuild)
	return nil
}

func (native) Cleanup(context.Context, pmi.Job) error { return nil }

type nativeWrapper struct{ spec Spec }

func (nativeWrapper) Channel() pmi.Channel { return pmi.ChannelFD }

// WrapRank changes nothing but refuses a rank that would start without PMI.
func (w nativeWrapper) WrapRank(job pmi.Job, cmd *pmi.RankCommand) error {
	if err := checkPMI(job, cmd); err != nil {
		return err
	}
	cmd.Env = withBuildEnv(cmd.Env, w.spec.MPIBuild)
	return nil
}

func (nativeWrapper) Cleanup(pmi.Job) error { return nil }

func (w nativeWrapper) Choices() map[string]string {
	c := baseChoices("native", w.spec, pmi.ChannelFD)
	c["network"], c["ipc"], c["pid"] = "host", "host", "host"
	c["mpi_source"] = "host"
	return c
}
