package images

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// PinnedRef is an image reference pinned to a content digest,
// "NAME@sha256:HEX": the image NAME may run only while its digest is HEX.
// For Docker and Podman the digest is the engine's image ID; for an image
// of hpcbench's store run as an OCI bundle, its root filesystem's content
// digest (RootfsDigest); for a SIF file, the file's sha256 ("hpcbench
// image list" shows them all).
type PinnedRef struct {
	Name   string // the reference without its digest
	Digest string // "sha256:<64 hex digits>"
}

// ParsePinned splits ref at its last '@' (one followed by a '/' belongs to
// a folder's name). ok is false for a reference that pins nothing; err
// says what is wrong with a malformed pin.
func ParsePinned(ref string) (p PinnedRef, ok bool, err error) {
	i := strings.LastIndex(ref, "@")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return PinnedRef{}, false, nil // no '@', or one in a folder's name
	}
	name, dig := ref[:i], ref[i+1:]
	hexPart, found := strings.CutPrefix(dig, "sha256:")
	if !found {
		return PinnedRef{}, false, fmt.Errorf("image %q: a pinned digest is written NAME@sha256:HEX", ref)
	}
	if name == "" {
		return PinnedRef{}, false, fmt.Errorf("image %q: no image name before the @sha256 digest", ref)
	}
	if len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return PinnedRef{}, false, fmt.Errorf("image %q: the digest after sha256: must be 64 lower-case hex digits (got %d characters)", ref, len(hexPart))
	}
	return PinnedRef{Name: name, Digest: "sha256:" + hexPart}, true, nil
}

// String is "NAME@sha256:HEX".
func (p PinnedRef) String() string { return p.Name + "@" + p.Digest }

// RootfsDigest recomputes the content digest of the root filesystem folder
// root, as BuildRootfs records it in Manifest.RootfsDigest: the sha256 of
// its canonical tar stream.
func RootfsDigest(root string) (string, error) {
	h := sha256.New()
	if err := WriteRootfsTar(root, io.Writer(h)); err != nil {
		return "", fmt.Errorf("root filesystem %s: %w", root, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
