package imagebuild

import (
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/signing"
)

// SignSIF signs the SIF of the store image m with key (see package
// signing), unless a signature by key already verifies on it, then records
// the file's new digest in m and saves its manifest. It reports whether it
// signed. An image without a SIF is an error: only Apptainer images carry
// signatures (the others are pinned by digest).
func SignSIF(store *images.Store, m *images.Manifest, key *openpgp.Entity) (bool, error) {
	if m.SIF == nil || m.SIF.Path == "" {
		return false, fmt.Errorf("image %s has no SIF to sign (build it with --runtimes apptainer); Docker, Podman and OCI images are pinned by digest instead (NAME@sha256:HEX)", m.Name)
	}
	if o := signing.VerifySIF(m.SIF.Path, openpgp.EntityList{key}, "the signing key"); o.Status == signing.Verified {
		return false, nil
	}
	if err := signing.SignSIF(m.SIF.Path, key); err != nil {
		return false, fmt.Errorf("image %s: %w", m.Name, err)
	}
	digest, err := images.FileSHA256(m.SIF.Path)
	if err != nil {
		return true, fmt.Errorf("image %s: %w", m.Name, err)
	}
	m.SIF.Digest = digest
	if m.SIF.Meta == nil {
		m.SIF.Meta = map[string]string{}
	}
	m.SIF.Meta["signed_by"] = signing.Fingerprint(key)
	return true, store.Save(m)
}
