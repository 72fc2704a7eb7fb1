package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/signing"
	"github.com/urfave/cli/v2"
)

// imageSigningCommands are "hpcbench image keygen", "sign" and "verify".
func imageSigningCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "keygen",
			Usage:     "make an OpenPGP key pair for signing SIF images",
			UsageText: "hpcbench image keygen --name NAME [--email ADDR] [--comment TEXT] [--algorithm rsa4096|ed25519] -o DIR",
			Description: `Writes DIR/FILE.pub.asc, the public key to hand out as the keyring that
verifies (image verify --keyring, a config's verify = "FILE.pub.asc"), and
DIR/FILE.priv.asc, the signing key (image sign --key, image build
--sign-with), readable by its owner only and not protected by a passphrase:
keep it where only the people who sign can read it. FILE is NAME in lower
case with other characters than letters and digits made '-'. Existing files
are never overwritten.

The keys are ordinary OpenPGP keys: "apptainer key import FILE.pub.asc"
makes Apptainer trust the signatures, and "gpg --import" reads both files.
RSA 4096 is what "apptainer key newpair" makes; ed25519 keys are smaller
and made in an instant. A key protected by a passphrase (made by gpg or
Apptainer) signs when $HPCBENCH_KEY_PASSPHRASE holds the passphrase.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "name", Usage: "the key owner's name (\"HPC Center Benchmarks\")", Required: true},
				&cli.StringFlag{Name: "email", Usage: "the key owner's address"},
				&cli.StringFlag{Name: "comment", Usage: "a comment in the key's identity"},
				&cli.StringFlag{Name: "algorithm", Value: "rsa4096", Usage: "rsa4096 or ed25519"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "folder `DIR` for the two files", Required: true},
			},
			Action: runImageKeygen,
		},
		{
			Name:      "sign",
			Usage:     "sign a SIF image (an Apptainer image file, or a store image's SIF) with an OpenPGP key",
			UsageText: "hpcbench image sign --key FILE IMAGE",
			Description: `IMAGE is a SIF file or the name of an image in the store (its NAME.sif;
the manifest then records the signed file's new digest). The signature is
added to every object group of the SIF, as "apptainer sign" does, so
"apptainer verify" checks it too. A SIF already signed by the key is left
as it is. No apptainer program is needed.

FILE is a private key: a FILE.priv.asc from "hpcbench image keygen", or one
exported with "apptainer key export --secret" or "gpg --export-secret-keys".`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "key", Usage: "private key `FILE`", Required: true},
				&cli.StringFlag{Name: "store", Usage: "image store `DIR`"},
			},
			Action: runImageSign,
		},
		{
			Name:      "verify",
			Usage:     "check the signatures of a SIF image against a keyring",
			UsageText: "hpcbench image verify [--keyring FILE] [--json] IMAGE",
			Description: `IMAGE is a SIF file or the name of an image in the store. Every object group
of the SIF must carry a signature by a key of the keyring, and its data,
descriptors and header must still match what was signed. The exit status is
0 when it is verified, 1 when it is unsigned, altered, signed by a key the
keyring lacks, or not a SIF; the message says which and why.

FILE is a keyring: one or more public keys, ASCII-armored (FILE.pub.asc
from "hpcbench image keygen", "gpg --export --armor") or binary. Without
--keyring, Apptainer's local keyring is used ($APPTAINER_KEYSDIR/pgp-public
or ~/.apptainer/keys/pgp-public), as "apptainer verify --local" does.
--json prints the outcome as one JSON object (image, path, digest, keyring,
status, signers, identity, reason).`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "keyring", Usage: "public keys `FILE` to trust"},
				&cli.BoolFlag{Name: "json", Usage: "print the outcome as JSON"},
				&cli.StringFlag{Name: "store", Usage: "image store `DIR`"},
			},
			Action: runImageVerify,
		},
	}
}

// keyFileBase makes a file name from a key owner's name.
func keyFileBase(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		s = "signing-key"
	}
	return s
}

func runImageKeygen(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("image keygen: unexpected argument %q", c.Args().First())
	}
	alg, err := signing.ParseAlgorithm(c.String("algorithm"))
	if err != nil {
		return usageError("image keygen: --algorithm: %v", err)
	}
	e, err := signing.GenerateKey(c.String("name"), c.String("email"), c.String("comment"), alg)
	if err != nil {
		return usageError("image keygen: %v", err)
	}
	pub, priv, err := signing.WriteKeyPair(e, c.String("output"), keyFileBase(c.String("name")))
	if err != nil {
		return fmt.Errorf("image keygen: %w", err)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "key %s (%s)\n", signing.Fingerprint(e), signing.Identity(e))
	fmt.Fprintf(w, "  public   %s  (the keyring: image verify --keyring, verify = in a config)\n", pub)
	fmt.Fprintf(w, "  private  %s  (image sign --key, image build --sign-with; keep it private)\n", priv)
	return nil
}

// sifImage finds what image names: a SIF file, or a store image's SIF (its
// manifest is returned too).
func sifImage(store *images.Store, image string) (string, *images.Manifest, error) {
	if fi, err := os.Stat(image); err == nil {
		if fi.IsDir() {
			return "", nil, fmt.Errorf("%s is a folder (a sandbox): only SIF files carry signatures; pin its digest instead (IMAGE@sha256:HEX)", image)
		}
		return image, nil, nil
	}
	m, err := store.Lookup(image)
	if err != nil {
		return "", nil, fmt.Errorf("%q is neither a file nor an image in the store %s", image, store.Root)
	}
	if m.SIF == nil {
		return "", nil, fmt.Errorf("image %s has no SIF (build it with --runtimes apptainer); Docker, Podman and OCI images are pinned by digest instead", image)
	}
	return m.SIF.Path, m, nil
}

func runImageSign(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("image sign: want one IMAGE (a SIF file or a store image), got %d arguments", c.Args().Len())
	}
	key, err := signing.ReadSigningKey(c.String("key"))
	if err != nil {
		return usageError("image sign: --key: %v", err)
	}
	store := images.OpenStore(c.String("store"))
	path, m, err := sifImage(store, c.Args().First())
	if err != nil {
		return usageError("image sign: %v", err)
	}
	signed := true
	if m != nil {
		signed, err = imagebuild.SignSIF(store, m, key)
	} else if o := signing.VerifySIF(path, openpgp.EntityList{key}, c.String("key")); o.Status == signing.Verified {
		signed = false
	} else {
		err = signing.SignSIF(path, key)
	}
	if err != nil {
		return fmt.Errorf("image sign: %w", err)
	}
	digest, err := images.FileSHA256(path)
	if err != nil {
		return fmt.Errorf("image sign: %w", err)
	}
	what := "signed"
	if !signed {
		what = "already signed"
	}
	fmt.Fprintf(c.App.Writer, "%s %s by %s (%s)\n  digest %s\n", path, what, signing.Fingerprint(key), signing.Identity(key), digest)
	return nil
}

// verifyReport is "image verify --json".
type verifyReport struct {
	Image   string `json:"image"`
	Path    string `json:"path,omitempty"`
	Digest  string `json:"digest,omitempty"`
	Keyring string `json:"keyring,omitempty"`
	signing.Outcome
	Text string `json:"outcome"`
}

func runImageVerify(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("image verify: want one IMAGE (a SIF file or a store image), got %d arguments", c.Args().Len())
	}
	ringPath := c.String("keyring")
	if ringPath == "" {
		if ringPath = signing.ApptainerKeyring(); ringPath == "" {
			return usageError("image verify: no --keyring given, and Apptainer's local keyring (~/.apptainer/keys/pgp-public) does not exist")
		}
	}
	ring, err := signing.ReadKeyRing(ringPath)
	if err != nil {
		return usageError("image verify: --keyring: %v", err)
	}
	rep := verifyReport{Image: c.Args().First(), Keyring: ringPath}
	path, _, err := sifImage(images.OpenStore(c.String("store")), rep.Image)
	if err != nil {
		rep.Outcome = signing.Outcome{Status: signing.Failed, Reason: err.Error()}
	} else {
		rep.Path = path
		rep.Digest, _ = images.FileSHA256(path)
		rep.Outcome = signing.VerifySIF(path, ring, ringPath)
	}
	rep.Text = rep.Outcome.String()
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if rep.Outcome.Status == signing.Verified {
		w := c.App.Writer
		fmt.Fprintf(w, "%s: verified\n", rep.Image)
		fmt.Fprintf(w, "  file     %s\n  digest   %s\n", rep.Path, rep.Digest)
		for _, s := range rep.Signers {
			fmt.Fprintf(w, "  signer   %s (%s)\n", s, rep.Identity)
		}
		fmt.Fprintf(w, "  keyring  %s\n", ringPath)
	}
	if rep.Outcome.Status != signing.Verified {
		return &exitError{Code: 1, Err: fmt.Errorf("image verify: %s: %s", rep.Image, rep.Outcome)}
	}
	return nil
}
