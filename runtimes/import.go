package runtimes

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/images"
)

// Importer is implemented by runtimes that keep images in a format of
// their own (Docker's and Podman's storage, Apptainer's SIF files): they
// import a root filesystem built by package images. A runtime that runs the
// root filesystem as it is (OCI bundles) declares so in its capabilities
// (Capabilities.RunsRootfs) instead.
type Importer interface {
	// ImportRootfs puts m's root filesystem into the runtime and records
	// the runtime's copy in m (Engines or SIF), unless the copy m records
	// is still there and rebuilt is false. The caller saves m.
	ImportRootfs(ctx context.Context, m *images.Manifest, rebuilt bool, log io.Writer) error
}

// ImportTargets returns the runtimes an image is imported into: those
// named (an error when one cannot take images or is unavailable), or, with
// none named, every registered runtime that imports images and is
// available here (the others are logged as skipped). Runtimes that run the
// root filesystem as it is need no import and are left out.
func ImportTargets(ctx context.Context, names []string, log io.Writer) ([]Runtime, error) {
	explicit := len(names) > 0
	if !explicit {
		names = Names()
	}
	var out []Runtime
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		rt, err := Get(n)
		if err != nil || (!explicit && rt.Name() != n) {
			if explicit {
				return nil, fmt.Errorf("runtime %q: images are built for %s", n, imageTargets())
			}
			continue // an alias: its runtime is on the list under its own name
		}
		_, imports := rt.(Importer)
		switch {
		case seen[rt.Name()]:
			continue
		case !imports && rt.Capabilities().RunsRootfs:
			continue // the root filesystem is its image
		case !imports:
			if explicit {
				return nil, fmt.Errorf("runtime %q: images are built for %s", n, imageTargets())
			}
			continue
		}
		seen[rt.Name()] = true
		if _, err := rt.Detect(ctx); err != nil {
			if explicit {
				return nil, err
			}
			fmt.Fprintf(log, "%s: skipped (%v)\n", rt.Name(), err)
			continue
		}
		out = append(out, rt)
	}
	return out, nil
}

// imageTargets lists the runtimes images are built for, as a phrase:
// those that import them, then those that run the root filesystem.
func imageTargets() string {
	var importers, direct []string
	for _, n := range Names() {
		rt, _ := Get(n)
		if _, ok := rt.(Importer); ok && rt.Name() == n {
			importers = append(importers, n)
		} else if rt.Capabilities().RunsRootfs {
			direct = append(direct, n)
		}
	}
	all := append(importers, direct...)
	if len(all) < 2 {
		return strings.Join(all, "")
	}
	return strings.Join(all[:len(all)-1], ", ") + " or " + all[len(all)-1]
}

// ImportRootfs imports m's root filesystem into Docker's or Podman's
// storage under m.Name ("docker import" / "podman import"), unless the
// image ID m records is still there.
func (e *engine) ImportRootfs(ctx context.Context, m *images.Manifest, rebuilt bool, log io.Writer) error {
	start := time.Now()
	if have, ok := m.Engines[e.name]; ok && !rebuilt {
		if out, err := e.tool(ctx, "image", "inspect", "--format", "{{.Id}}", have.Ref); err == nil && sameID(strings.TrimSpace(out), have.ID) {
			fmt.Fprintf(log, "%s: %s unchanged (%s)\n", e.name, have.Ref, shortID(have.ID))
			return nil
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(images.WriteRootfsTar(m.Rootfs, pw)) }()
	args := append(append([]string(nil), e.globalArgs...), "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "-", m.Name)
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Stdin = pr
	if len(e.env) > 0 {
		cmd.Env = append(os.Environ(), e.env...)
	}
	out, err := cmd.CombinedOutput()
	pr.Close()
	if err != nil {
		return fmt.Errorf("%s import: %w: %s", e.name, err, strings.TrimSpace(string(out)))
	}
	idOut, err := e.tool(ctx, "image", "inspect", "--format", "{{.Id}}", m.Name)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(idOut)
	if !strings.Contains(id, ":") {
		id = "sha256:" + id
	}
	if m.Engines == nil {
		m.Engines = map[string]images.EngineImage{}
	}
	m.Engines[e.name] = images.EngineImage{Ref: m.Name, ID: id}
	fmt.Fprintf(log, "%s: imported %s as %s in %.1f s\n", e.name, m.Name, shortID(id), time.Since(start).Seconds())
	return nil
}

// ImportRootfs builds <store>/<name>/<name>.sif from m's root filesystem
// ("apptainer build"), unless the SIF m records is still there unchanged.
func (a *apptainer) ImportRootfs(ctx context.Context, m *images.Manifest, rebuilt bool, log io.Writer) error {
	start := time.Now()
	path := filepath.Join(m.Dir, m.Name+".sif")
	if m.SIF != nil && !rebuilt {
		if d, err := images.FileSHA256(m.SIF.Path); err == nil && d == m.SIF.Digest {
			fmt.Fprintf(log, "apptainer: %s unchanged\n", m.SIF.Path)
			return nil
		}
	}
	if _, err := runTool(ctx, nil, a.binary(), "build", "--force", path, m.Rootfs); err != nil {
		return fmt.Errorf("apptainer build: %w", err)
	}
	d, err := images.FileSHA256(path)
	if err != nil {
		return err
	}
	m.SIF = &images.SIFImage{Path: path, Digest: d, Meta: images.SIFMetadata(path)}
	fmt.Fprintf(log, "apptainer: built %s in %.1f s\n", path, time.Since(start).Seconds())
	return nil
}

func sameID(a, b string) bool {
	return strings.TrimPrefix(a, "sha256:") == strings.TrimPrefix(b, "sha256:")
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
