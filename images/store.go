package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Store is the folder holding the images "hpcbench image build" made, one
// subfolder per image name:
//
//	<root>/<name>/manifest.json   what was built from what, and each
//	                              runtime's copy with its digest
//	<root>/<name>/rootfs/         the unpacked root filesystem (OCI bundles)
//	<root>/<name>/<name>.sif      the Apptainer image
//
// Docker and Podman keep their copies in their own storage under the same
// name; the manifest records their image IDs.
type Store struct{ Root string }

// DefaultStoreRoot is $HPCBENCH_IMAGES, else /var/lib/hpcbench/images for
// root, else the user's data folder.
func DefaultStoreRoot() string {
	if d := os.Getenv("HPCBENCH_IMAGES"); d != "" {
		return d
	}
	if isRoot() {
		return "/var/lib/hpcbench/images"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "hpcbench", "images")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "hpcbench", "images")
}

// OpenStore returns the store at root ("" for DefaultStoreRoot). The
// folder is created when an image is first built.
func OpenStore(root string) *Store {
	if root == "" {
		root = DefaultStoreRoot()
	}
	return &Store{Root: root}
}

// Manifest describes one built image.
type Manifest struct {
	Name    string `json:"name"`
	MPI     string `json:"mpi"`
	Minimal bool   `json:"minimal"`
	// WithoutMPI images leave the MPI library out (layout bind mounts the host's).
	WithoutMPI bool          `json:"without_mpi,omitempty"`
	Binaries   []BinaryInput `json:"binaries"`
	// MPIBuilds are hpcbench's MPICH builds the image carries at their
	// host paths (empty: none, the image's MPICH is Debian's only).
	MPIBuilds []MPIBuildRecord `json:"mpi_builds,omitempty"`
	// Inputs is a digest of everything the root filesystem was built from;
	// an unchanged value means a rebuild can be skipped.
	Inputs       string    `json:"inputs"`
	Rootfs       string    `json:"rootfs"`
	RootfsDigest string    `json:"rootfs_digest"`
	RootfsBytes  int64     `json:"rootfs_bytes"`
	Created      time.Time `json:"created"`
	// Engines maps "docker"/"podman" to the image each holds.
	Engines map[string]EngineImage `json:"engines,omitempty"`
	SIF     *SIFImage              `json:"sif,omitempty"`

	// Dir is the image's folder in the store.
	Dir string `json:"-"`
}

// BinaryInput is a program copied into the image at its host path.
type BinaryInput struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// MPIBuildRecord is one MPICH build (package mpibuild) an image carries.
type MPIBuildRecord struct {
	Flavour        string `json:"flavour"`
	Prefix         string `json:"prefix"`
	Version        string `json:"version,omitempty"`
	ConfigureFlags string `json:"configure_flags,omitempty"`
	// Manifest is "sha256:<hex>" of the build's hpcbench-build.txt, which
	// changes with every rebuild of it.
	Manifest string `json:"manifest"`
}

// Carries returns the build of flavour at prefix that m carries.
func (m *Manifest) Carries(flavour, prefix string) (MPIBuildRecord, bool) {
	for _, b := range m.MPIBuilds {
		if b.Flavour == flavour && filepath.Clean(b.Prefix) == filepath.Clean(prefix) {
			return b, true
		}
	}
	return MPIBuildRecord{}, false
}

// EngineImage is an image in Docker's or Podman's storage.
type EngineImage struct {
	Ref string `json:"ref"`
	ID  string `json:"id"`
}

// SIFImage is an Apptainer image file.
type SIFImage struct {
	Path   string            `json:"path"`
	Digest string            `json:"digest"`
	Meta   map[string]string `json:"meta,omitempty"`
}

// validImageName is the form of a local image name; at most 128
// characters (checked apart: a counted repetition makes the expression
// costly to compile for every hpcbench start).
var validImageName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// checkImageName accepts names every runtime takes as a local image name.
func checkImageName(name string) error {
	if len(name) > 128 || !validImageName.MatchString(name) {
		return fmt.Errorf("image name %q: use lower-case letters, digits, '.', '_' and '-' (as Docker and Podman require)", name)
	}
	return nil
}

// Lookup reads the manifest of the image called name.
func (s *Store) Lookup(name string) (*Manifest, error) {
	if checkImageName(name) != nil {
		return nil, fmt.Errorf("%w: %q in store %s", ErrImageNotFound, name, s.Root)
	}
	dir := filepath.Join(s.Root, name)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q in store %s", ErrImageNotFound, name, s.Root)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image %s: %s: %w (remove the folder and rebuild)", name, filepath.Join(dir, "manifest.json"), err)
	}
	m.Dir = dir
	return &m, nil
}

// List returns every image in the store, by name.
func (s *Store) List() ([]*Manifest, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if m, err := s.Lookup(e.Name()); err == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Save writes m's manifest into its folder (m.Dir), replacing the old one
// in one rename.
func (s *Store) Save(m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(m.Dir, "manifest.json.new")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(m.Dir, "manifest.json"))
}
