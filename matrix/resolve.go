package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/signing"
)

// ErrImageRefused: an image failed the check its runtime asked for (a SIF
// unsigned, signed by a key the keyring lacks, or altered; a digest other
// than the pinned one; an unchecked image under study.require_signed). Its
// cells never run: the plan skips them with the reason (Plan.CheckImages).
var ErrImageRefused = errors.New("image refused")

// Resolver finds runtimes (runtimes.GetCommand, then Detect) and prepares
// images (Prepare) at most once each: a study asks for the same runtime
// and image for every run of every cell, and an engine's answer does not
// change within a study. The local executor, slurm's batch scripts and
// srun launcher, and "hpcbench launch --runtime" all resolve through one.
// It is safe for concurrent use.
type Resolver struct {
	// BuildImage, when set, builds a cell's missing image for its runtime
	// on first use (the built-in quick study, --build-images); the image
	// is then prepared again. It is called at most once per runtime and
	// image; nil leaves a missing image an error.
	BuildImage ImageBuilder

	mu       sync.Mutex
	runtimes map[string]Resolved // by runtime name and command
	images   map[string]Resolved // by runtime name, command, image and policy
	built    map[string]bool     // the images BuildImage was asked for
	keyrings map[string]keyring  // by file
}

// keyring is a keyring file as read, once per study.
type keyring struct {
	ring openpgp.EntityList
	err  error
}

// Policy is what an image must pass before its cells run: a cell's Verify
// and RequireSigned. A pinned digest is part of the image reference
// itself (NAME@sha256:HEX) and is always checked.
type Policy struct {
	// Keyring is the file a SIF's signature must verify against
	// (Apptainer); "" asks for no signature.
	Keyring string
	// RequireSigned refuses an image that is neither verified nor pinned.
	RequireSigned bool
}

// ImageBuilder builds the image cell c names (c.Image) for runtime, from
// the cell's MPI and binaries.
type ImageBuilder func(ctx context.Context, runtime string, c Cell) error

// Resolved is a runtime found on this host with its version and, when an
// image was asked for, the image prepared for it.
type Resolved struct {
	// Runtime is nil when the name or the command was refused
	// (runtimes.ErrUnknownRuntime, runtimes.ErrFlags); Err says why.
	Runtime runtimes.Runtime
	Version string
	Image   runtimes.ImageInfo
	// Integrity is what checking the image found (see Policy): verified
	// with the signer, a pinned digest matched, unsigned, unverified, or
	// why it was refused. Results record it with every run.
	Integrity signing.Outcome
	// Err is why the runtime or the image cannot be used; nil when both can.
	// An image that failed its check wraps ErrImageRefused.
	Err error
}

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver {
	return &Resolver{runtimes: map[string]Resolved{}, images: map[string]Resolved{}, built: map[string]bool{}, keyrings: map[string]keyring{}}
}

// Runtime finds the runtime name running command ("" for the adapter's
// default) and detects its version.
func (r *Resolver) Runtime(ctx context.Context, name, command string) Resolved {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runtime(ctx, name, command)
}

func (r *Resolver) runtime(ctx context.Context, name, command string) Resolved {
	key := name + "\x00" + command
	if res, ok := r.runtimes[key]; ok {
		return res
	}
	var res Resolved
	res.Runtime, res.Err = runtimes.GetCommand(name, command)
	if res.Err == nil {
		res.Version, res.Err = res.Runtime.Detect(ctx)
	}
	r.runtimes[key] = res
	return res
}

// Image is Runtime, then prepares image for it and checks it: a pinned
// image (NAME@sha256:HEX) must have that digest. ImageWith checks more.
func (r *Resolver) Image(ctx context.Context, name, command, image string) Resolved {
	return r.ImageWith(ctx, name, command, image, Policy{})
}

// ImageWith is Image, with the checks pol asks for on top of the pinned
// digest.
func (r *Resolver) ImageWith(ctx context.Context, name, command, image string, pol Policy) Resolved {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.image(ctx, name, command, image, pol)
}

func imageKey(name, command, image string, pol Policy) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%t", name, command, image, pol.Keyring, pol.RequireSigned)
}

func (r *Resolver) image(ctx context.Context, name, command, image string, pol Policy) Resolved {
	key := imageKey(name, command, image, pol)
	if res, ok := r.images[key]; ok {
		return res
	}
	res := r.runtime(ctx, name, command)
	if res.Err == nil {
		pin, pinned, err := images.ParsePinned(image)
		switch {
		case err != nil:
			res.Err = err
		case pinned:
			res.Image, res.Err = res.Runtime.Prepare(ctx, pin.Name)
		default:
			res.Image, res.Err = res.Runtime.Prepare(ctx, image)
		}
		if res.Err == nil {
			var p *images.PinnedRef
			if pinned {
				p = &pin
			}
			res.Integrity, res.Err = r.check(res.Runtime, res.Image, p, pol)
		}
	}
	r.images[key] = res
	return res
}

// check checks a prepared image against its pin and pol, and says what it
// found; the error wraps ErrImageRefused.
func (r *Resolver) check(rt runtimes.Runtime, info runtimes.ImageInfo, pin *images.PinnedRef, pol Policy) (signing.Outcome, error) {
	refuse := func(o signing.Outcome) (signing.Outcome, error) {
		return o, fmt.Errorf("%w: %s", ErrImageRefused, o)
	}
	o := signing.Outcome{Status: signing.Unverified}
	sif := false
	if rt.Name() == "apptainer" {
		fi, err := os.Stat(info.Ref)
		sif = err == nil && fi.Mode().IsRegular()
	}
	if pin != nil {
		found := info.Digest
		if rt.Name() == "oci" {
			// The recorded digest is what the store says; the folder may
			// have changed since: recompute it, once per study.
			d, err := images.RootfsDigest(info.Ref)
			if err != nil {
				return refuse(signing.Outcome{Status: signing.Failed, Reason: err.Error()})
			}
			found = d
		}
		if found != pin.Digest {
			if found == "" {
				found = "no digest (not content-addressed)"
			}
			return refuse(signing.Outcome{Status: signing.Mismatch,
				Reason: fmt.Sprintf("%s image %s is pinned to %s, but its digest is %s", rt.Name(), pin.Name, pin.Digest, found)})
		}
		o = signing.Outcome{Status: signing.Pinned}
	}
	switch {
	case pol.Keyring != "" && rt.Name() == "apptainer":
		kr := r.keyring(pol.Keyring)
		if kr.err != nil {
			return refuse(signing.Outcome{Status: signing.Failed, Reason: kr.err.Error()})
		}
		v := signing.VerifySIF(info.Ref, kr.ring, pol.Keyring)
		if v.Status != signing.Verified {
			if v.Status == signing.Unsigned {
				v.Reason += ", and its runtime asks for a signature by " + pol.Keyring
			}
			return refuse(v)
		}
		o = v
	case sif && o.Status != signing.Pinned:
		if v := signing.VerifySIF(info.Ref, nil, ""); v.Status == signing.Unsigned || v.Status == signing.SignedUnchecked {
			o = signing.Outcome{Status: v.Status, Signers: v.Signers}
		}
	}
	if pol.RequireSigned && !o.OK() {
		reason := fmt.Sprintf("study.require_signed: %s image %s is %s", rt.Name(), info.Ref, o)
		if rt.Name() != "apptainer" {
			reason += "; pin it to its digest to run it"
			if info.Digest != "" {
				reason += fmt.Sprintf(" (now %s)", info.Digest)
			}
		}
		return refuse(signing.Outcome{Status: signing.NotAllowed, Reason: reason})
	}
	return o, nil
}

// keyring reads a keyring file once per study.
func (r *Resolver) keyring(path string) keyring {
	if k, ok := r.keyrings[path]; ok {
		return k
	}
	ring, err := signing.ReadKeyRing(path)
	k := keyring{ring: ring, err: err}
	r.keyrings[path] = k
	return k
}

// Cell resolves what cell c runs in: its runtime, and its image unless it
// runs natively. A missing image is built on first use when BuildImage is
// set.
func (r *Resolver) Cell(ctx context.Context, c Cell) Resolved {
	if c.IsNative() {
		return r.Runtime(ctx, c.Runtime, c.RuntimeCommand)
	}
	pol := c.Policy()
	res := r.ImageWith(ctx, c.Runtime, c.RuntimeCommand, c.Image, pol)
	if _, pinned, _ := images.ParsePinned(c.Image); pinned ||
		r.BuildImage == nil || res.Runtime == nil || !errors.Is(res.Err, runtimes.ErrImageNotFound) {
		return res
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := imageKey(c.Runtime, c.RuntimeCommand, c.Image, pol)
	if r.built[key] {
		return r.images[key]
	}
	r.built[key] = true
	if err := r.BuildImage(ctx, c.Runtime, c); err != nil {
		res.Err = fmt.Errorf("%w; building it on first use failed: %w", res.Err, err)
		r.images[key] = res
		return res
	}
	delete(r.images, key)
	return r.image(ctx, c.Runtime, c.RuntimeCommand, c.Image, pol)
}

// Policy is what the cell's image must pass (see Resolver.ImageWith).
func (c Cell) Policy() Policy {
	return Policy{Keyring: c.Verify, RequireSigned: c.RequireSigned}
}

// checksImage reports whether the cell's image is checked before it runs:
// its runtime verifies signatures, it is pinned, or the study requires it.
func (c Cell) checksImage() bool {
	if c.IsNative() {
		return false
	}
	_, pinned, err := images.ParsePinned(c.Image)
	return c.Verify != "" || c.RequireSigned || pinned || err != nil
}

// CheckImages checks, before the study starts, the image of every cell
// that asks for a check (a keyring, a pinned digest, require_signed),
// once per image, and moves the cells whose image is refused
// (ErrImageRefused) from Cells to Skipped with the reason. Other cells,
// and images that cannot be resolved now, are left to the run.
func (p *Plan) CheckImages(ctx context.Context) {
	var keep []Cell
	index := map[string]int{}
	for _, c := range p.Cells {
		if !c.checksImage() {
			keep = append(keep, c)
			continue
		}
		res := p.Runtimes.Cell(ctx, c)
		if !errors.Is(res.Err, ErrImageRefused) {
			keep = append(keep, c)
			continue
		}
		if i, ok := index[c.Key()]; ok {
			p.Skipped[i].Runs++
			continue
		}
		s := c
		s.Repetition, s.Warmup = 0, false
		index[c.Key()] = len(p.Skipped)
		p.Skipped = append(p.Skipped, Skipped{Cell: s, Reason: res.Err.Error(), Err: res.Err, Runs: 1})
	}
	p.Cells = keep
}
