// Package images builds container images without a registry and keeps
// them: a root filesystem assembled on this machine (a Debian minbase made
// by debootstrap, or the ldd closure of the benchmark binaries and the MPI
// plus busybox), the host-library closure the bind layout mounts, the image
// store with each image's manifest and digests, and what a SIF file says
// about itself.
//
// The package knows no container runtime. Each runtime adapter (package
// runtimes) imports a root filesystem into its own format, and records its
// copy in the manifest; the code that builds an image for every runtime
// sits above both packages.
package images

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	"github.com/hpcbench/hpcbench/sentinel"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// ErrImageNotFound: the image is not in the store (the value is the one
// every package shares, see package sentinel).
var ErrImageNotFound = sentinel.ErrImageNotFound

// FileSHA256 returns "sha256:<hex>" of the file at path: the digest of a
// SIF image or of a binary copied into an image.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// SIFMetadata reads what a SIF says about itself (id, creation time,
// architecture, format version, root filesystem type), for provenance; a
// sandbox folder or a file that is not SIF yields nothing.
func SIFMetadata(path string) map[string]string {
	fi, err := sif.LoadContainerFromPath(path, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return nil
	}
	defer fi.UnloadContainer()
	m := map[string]string{
		"sif_id":      fi.ID(),
		"sif_created": fi.CreatedAt().UTC().Format("2006-01-02T15:04:05Z"),
		"sif_arch":    fi.PrimaryArch(),
		"sif_version": fi.Version(),
	}
	if ds, err := fi.GetDescriptors(sif.WithPartitionType(sif.PartPrimSys)); err == nil && len(ds) > 0 {
		if fs, _, _, err := ds[0].PartitionMetadata(); err == nil {
			m["sif_rootfs"] = fs.String()
		}
	}
	return m
}

// isRoot reports whether hpcbench runs as root (file owners are copied,
// debootstrap can run, the store lives under /var/lib).
func isRoot() bool { return os.Geteuid() == 0 }
