package signing

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// Status is the kind of an Outcome.
type Status string

// The outcomes of checking an image.
const (
	// Verified: every object group of the SIF carries a valid signature by
	// a key of the keyring, and the data matches it.
	Verified Status = "verified"
	// Pinned: the image's digest is the one its pinned reference names.
	Pinned Status = "pinned digest matched"
	// Unsigned: the SIF carries no signature.
	Unsigned Status = "unsigned"
	// SignedUnchecked: the SIF is signed, but no keyring was given to
	// check the signature with.
	SignedUnchecked Status = "signed, not verified"
	// Unverified: nothing was asked of the image (no keyring, no pinned
	// digest).
	Unverified Status = "unverified"
	// Altered: the image changed after it was signed (its data, its
	// descriptors or its header no longer match the signature), or its
	// digest differs from the pinned one.
	Altered Status = "altered"
	// UnknownSigner: the signature was made by a key the keyring lacks.
	UnknownSigner Status = "unknown signer"
	// Mismatch: the image's digest is not the one its reference pins.
	Mismatch Status = "digest mismatch"
	// NotAllowed: the image passed no check, and the study requires one
	// (study.require_signed).
	NotAllowed Status = "not allowed"
	// Failed: the image could not be checked (not a SIF, unreadable, a
	// malformed signature).
	Failed Status = "verification failed"
)

// Outcome is what checking an image found, as results record it.
type Outcome struct {
	Status Status `json:"status"`
	// Signers are the fingerprints (upper-case hex) of the keys that signed
	// the image: the verified ones for Verified, the claimed ones
	// otherwise.
	Signers []string `json:"signers,omitempty"`
	// Identity is the verified signer's user id ("Name <email>").
	Identity string `json:"identity,omitempty"`
	// Reason says why the image was refused or could not be checked.
	Reason string `json:"reason,omitempty"`
}

// OK reports whether the image passed a check that was asked for
// (Verified or Pinned).
func (o Outcome) OK() bool { return o.Status == Verified || o.Status == Pinned }

// Refused reports whether the image failed a check: it was altered,
// signed by another key, or could not be checked.
func (o Outcome) Refused() bool {
	switch o.Status {
	case Altered, UnknownSigner, Failed, Mismatch, NotAllowed:
		return true
	}
	return false
}

// String is the outcome in one line, as results store it: "verified
// FINGERPRINT (Name <email>)", "unsigned", "pinned digest matched",
// "altered: REASON", ...
func (o Outcome) String() string {
	s := string(o.Status)
	switch o.Status {
	case Verified:
		s += " " + strings.Join(o.Signers, ",")
		if o.Identity != "" {
			s += " (" + o.Identity + ")"
		}
		return s
	case SignedUnchecked:
		return s + " (by " + strings.Join(o.Signers, ",") + ")"
	}
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

// Error returns the outcome as an error when the image was refused (or is
// unsigned and unsignedOK is false), else nil.
func (o Outcome) Error(unsignedOK bool) error {
	if o.Refused() || (!unsignedOK && o.Status == Unsigned) {
		return errors.New(o.String())
	}
	return nil
}

// hexFP is a fingerprint in upper-case hex.
func hexFP(fp []byte) string { return strings.ToUpper(hex.EncodeToString(fp)) }

// VerifySIF checks the signatures of the SIF file at path against
// keyring; keyringName names it in reasons (its file). With a nil keyring
// it only tells signed from unsigned (SignedUnchecked or Unsigned). Every
// object group must carry a valid signature by a key of the keyring;
// signatures by other keys are ignored when one by the keyring covers the
// same group.
func VerifySIF(path string, keyring openpgp.KeyRing, keyringName string) Outcome {
	if fi, err := os.Stat(path); err != nil {
		return Outcome{Status: Failed, Reason: fmt.Sprintf("image %s: %v", path, err)}
	} else if fi.IsDir() {
		return Outcome{Status: Failed, Reason: fmt.Sprintf("image %s is a folder (a sandbox), not a SIF file: only SIF files carry signatures (pin its digest instead)", path)}
	}
	f, err := sif.LoadContainerFromPath(path, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return Outcome{Status: Failed, Reason: fmt.Sprintf("image %s is not a SIF file: %v", path, err)}
	}
	defer f.UnloadContainer()

	v, err := integrity.NewVerifier(f)
	if err != nil {
		return Outcome{Status: Failed, Reason: fmt.Sprintf("image %s: %v", path, err)}
	}
	fps, err := v.AnySignedBy()
	if err != nil {
		return Outcome{Status: Failed, Reason: fmt.Sprintf("image %s: %v", path, err)}
	}
	var claimed []string
	for _, fp := range fps {
		claimed = append(claimed, hexFP(fp))
	}
	if len(claimed) == 0 {
		return Outcome{Status: Unsigned, Reason: fmt.Sprintf("image %s carries no signature", path)}
	}
	if keyring == nil {
		return Outcome{Status: SignedUnchecked, Signers: claimed}
	}

	// groups: per object group, whether a signature by the keyring
	// verified it; unknown: the signers the keyring lacks.
	groups := map[uint32]bool{}
	verified := map[string]*openpgp.Entity{}
	cb := func(r integrity.VerifyResult) bool {
		id, _ := r.Signature().LinkedID()
		if r.Error() == nil {
			groups[id] = true
			if e := r.Entity(); e != nil {
				verified[Fingerprint(e)] = e
			}
			return false
		}
		if errors.Is(r.Error(), pgperrors.ErrUnknownIssuer) {
			if _, seen := groups[id]; !seen {
				groups[id] = false
			}
			return true // judged below: another signature may cover the group
		}
		return false
	}
	v, err = integrity.NewVerifier(f, integrity.OptVerifyWithKeyRing(keyring), integrity.OptVerifyCallback(cb))
	if err == nil {
		err = v.Verify()
	}
	if err != nil {
		return failure(path, keyringName, claimed, err)
	}
	for _, ok := range groups {
		if !ok {
			return Outcome{Status: UnknownSigner, Signers: claimed,
				Reason: fmt.Sprintf("image %s is signed by %s, which the keyring %s does not hold", path, strings.Join(claimed, ", "), keyringName)}
		}
	}
	if len(verified) == 0 {
		return Outcome{Status: Failed, Signers: claimed, Reason: fmt.Sprintf("image %s: no signature verified", path)}
	}
	o := Outcome{Status: Verified}
	for fp := range verified {
		o.Signers = append(o.Signers, fp)
	}
	sort.Strings(o.Signers)
	o.Identity = Identity(verified[o.Signers[0]])
	return o
}

// failure turns a verification error into an Outcome with a reason that
// says what was wrong.
func failure(path, keyringName string, claimed []string, err error) Outcome {
	o := Outcome{Signers: claimed}
	switch {
	case errors.Is(err, &integrity.ObjectIntegrityError{}):
		o.Status = Altered
		var oe *integrity.ObjectIntegrityError
		errors.As(err, &oe)
		o.Reason = fmt.Sprintf("image %s was altered after it was signed: data object %d no longer matches its signed digest", path, oe.ID)
	case errors.Is(err, &integrity.DescriptorIntegrityError{}):
		o.Status = Altered
		var de *integrity.DescriptorIntegrityError
		errors.As(err, &de)
		o.Reason = fmt.Sprintf("image %s was altered after it was signed: the descriptor of data object %d no longer matches its signature", path, de.ID)
	case errors.Is(err, integrity.ErrHeaderIntegrity):
		o.Status = Altered
		o.Reason = fmt.Sprintf("image %s was altered after it was signed: its global header no longer matches its signature", path)
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		o.Status = UnknownSigner
		o.Reason = fmt.Sprintf("image %s is signed by %s, which the keyring %s does not hold", path, strings.Join(claimed, ", "), keyringName)
	case errors.Is(err, &integrity.SignatureNotFoundError{}):
		o.Status = Unsigned
		o.Reason = fmt.Sprintf("image %s: %v", path, err)
	case errors.Is(err, &integrity.SignatureNotValidError{}):
		o.Status = Altered
		o.Reason = fmt.Sprintf("image %s: a signature does not verify (the signed metadata was altered, or the key was revoked or expired): %v", path, err)
	default:
		o.Status = Failed
		o.Reason = fmt.Sprintf("image %s: %v", path, err)
	}
	return o
}
