// Package signing makes, signs with and checks OpenPGP keys for SIF images,
// in process: no apptainer binary is needed. Signatures are the SIF
// integrity objects Apptainer itself writes and reads (package
// github.com/sylabs/sif/v2/pkg/integrity): a SIF signed here verifies with
// "apptainer verify", and one signed by "apptainer sign" verifies here.
//
//	GenerateKey ──> WriteKeyPair: NAME.pub.asc (the keyring to hand out)
//	                              NAME.priv.asc (the signing key, mode 0600)
//	ReadSigningKey(FILE) ──> SignSIF(IMAGE, key)
//	ReadKeyRing(FILE)    ──> VerifySIF(IMAGE, keyring) ──> Outcome
//
// An Outcome is what a results row records about its image: "verified"
// with the signer's fingerprint, "unsigned", or why the image was refused
// (altered after signing, signed by a key the keyring lacks, unreadable).
// The other runtimes' images are checked by digest (see package images'
// pinned references); their outcomes use the same Outcome.
package signing

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sylabs/sif/v2/pkg/integrity"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// Algorithm is the kind of key GenerateKey makes.
type Algorithm string

const (
	// RSA4096 is what "apptainer key newpair" makes; every OpenPGP tool
	// reads it.
	RSA4096 Algorithm = "rsa4096"
	// Ed25519 keys are small and made in an instant; GnuPG 2.1 and later
	// and Apptainer read them.
	Ed25519 Algorithm = "ed25519"
)

// ParseAlgorithm accepts an algorithm name as written on the command line
// ("" is RSA4096).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToLower(strings.TrimSpace(s))); a {
	case "":
		return RSA4096, nil
	case RSA4096, Ed25519:
		return a, nil
	}
	return "", fmt.Errorf("key algorithm %q: want rsa4096 or ed25519", s)
}

// GenerateKey makes an OpenPGP key pair for signing images. name is the
// key's owner as "apptainer verify" prints it; email and comment may be
// empty. The private key is not protected by a passphrase: keep its file
// readable by its owner only (WriteKeyPair does).
func GenerateKey(name, email, comment string, alg Algorithm) (*openpgp.Entity, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("key name is empty")
	}
	for _, s := range []string{name, email, comment} {
		if strings.ContainsAny(s, "()<>\x00\n") {
			return nil, fmt.Errorf("key identity %q: '(', ')', '<', '>' and line breaks are not allowed", s)
		}
	}
	cfg := &packet.Config{}
	switch alg {
	case "", RSA4096:
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 4096
	case Ed25519:
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoEdDSA, packet.Curve25519
	default:
		return nil, fmt.Errorf("key algorithm %q: want rsa4096 or ed25519", alg)
	}
	e, err := openpgp.NewEntity(name, comment, email, cfg)
	if err != nil {
		return nil, fmt.Errorf("generate key %q: %w", name, err)
	}
	return e, nil
}

// WriteKeyPair writes e's public key to DIR/BASE.pub.asc (mode 0644) and
// its private key to DIR/BASE.priv.asc (mode 0600), both ASCII-armored,
// creating dir. It refuses to overwrite either file.
func WriteKeyPair(e *openpgp.Entity, dir, base string) (pub, priv string, err error) {
	if base == "" || strings.ContainsAny(base, `/\`) || base == "." || base == ".." {
		return "", "", fmt.Errorf("key file name %q: want a plain file name", base)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	pub = filepath.Join(dir, base+".pub.asc")
	priv = filepath.Join(dir, base+".priv.asc")
	for _, p := range []string{pub, priv} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists (remove it, or choose another --name or -o)", p)
		}
	}
	var pubBuf, privBuf bytes.Buffer
	if err := armored(&pubBuf, openpgp.PublicKeyType, e.Serialize); err != nil {
		return "", "", fmt.Errorf("encode public key: %w", err)
	}
	if err := armored(&privBuf, openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivate(w, nil) }); err != nil {
		return "", "", fmt.Errorf("encode private key: %w", err)
	}
	if err := writeNew(priv, privBuf.Bytes(), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pub, pubBuf.Bytes(), 0o644); err != nil {
		os.Remove(priv)
		return "", "", err
	}
	return pub, priv, nil
}

func armored(w io.Writer, blockType string, serialize func(io.Writer) error) error {
	aw, err := armor.Encode(w, blockType, nil)
	if err != nil {
		return err
	}
	if err := serialize(aw); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// Fingerprint is e's primary key fingerprint in upper-case hex, as
// "apptainer verify" and "gpg --fingerprint" print it.
func Fingerprint(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// Identity is e's primary user id ("Name (comment) <email>").
func Identity(e *openpgp.Entity) string {
	if e == nil {
		return ""
	}
	if id := e.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// ReadKeyRing reads the OpenPGP keys in the file at path: ASCII-armored
// (a NAME.pub.asc from "hpcbench image keygen", "gpg --export --armor",
// "apptainer key export --armor") or binary (Apptainer's own pgp-public
// keyring, "gpg --export"). A file holding no key is an error.
func ReadKeyRing(path string) (openpgp.EntityList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	el, err := parseKeys(b)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return el, nil
}

// parseKeys reads armored or binary keys, one or more armored blocks.
func parseKeys(b []byte) (openpgp.EntityList, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file, no OpenPGP key in it")
	}
	var el openpgp.EntityList
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP")) {
		rest := trimmed
		for len(rest) > 0 {
			blk, err := armor.Decode(bytes.NewReader(rest))
			if err != nil {
				if len(el) > 0 && errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("not an OpenPGP key: %w", err)
			}
			if blk.Type != openpgp.PublicKeyType && blk.Type != openpgp.PrivateKeyType {
				return nil, fmt.Errorf("armored block %q is not an OpenPGP key", blk.Type)
			}
			keys, err := openpgp.ReadKeyRing(blk.Body)
			if err != nil {
				return nil, fmt.Errorf("not an OpenPGP key: %w", err)
			}
			el = append(el, keys...)
			// The next block, if any, starts after this one's END line.
			end := bytes.Index(rest, []byte("-----END PGP"))
			if end < 0 {
				break
			}
			nl := bytes.IndexByte(rest[end:], '\n')
			if nl < 0 {
				break
			}
			rest = bytes.TrimSpace(rest[end+nl+1:])
		}
	} else {
		keys, err := openpgp.ReadKeyRing(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("not an OpenPGP keyring: %w", err)
		}
		el = keys
	}
	if len(el) == 0 {
		return nil, errors.New("no OpenPGP key in it")
	}
	return el, nil
}

// PassphraseEnv names the variable holding the passphrase of an encrypted
// signing key (keys made by "hpcbench image keygen" have none).
const PassphraseEnv = "HPCBENCH_KEY_PASSPHRASE"

// ReadSigningKey reads the private key in the file at path (armored or
// binary): the first key in it that holds its private part. An encrypted
// key is decrypted with $HPCBENCH_KEY_PASSPHRASE; without it, it is an
// error that says so.
func ReadSigningKey(path string) (*openpgp.Entity, error) {
	el, err := ReadKeyRing(path)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, errors.Unwrap(err))
	}
	for _, e := range el {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			pass, ok := os.LookupEnv(PassphraseEnv)
			if !ok {
				return nil, fmt.Errorf("signing key %s (%s) is protected by a passphrase: set $%s", path, Fingerprint(e), PassphraseEnv)
			}
			if err := e.DecryptPrivateKeys([]byte(pass)); err != nil {
				return nil, fmt.Errorf("signing key %s (%s): wrong passphrase in $%s: %w", path, Fingerprint(e), PassphraseEnv, err)
			}
		}
		return e, nil
	}
	return nil, fmt.Errorf("signing key %s holds public keys only (give the .priv.asc file)", path)
}

// SignSIF adds a signature by key to every object group of the SIF file
// at path, as "apptainer sign" does.
func SignSIF(path string, key *openpgp.Entity) error {
	if key == nil || key.PrivateKey == nil {
		return fmt.Errorf("sign %s: no private key", path)
	}
	f, err := sif.LoadContainerFromPath(path)
	if err != nil {
		return fmt.Errorf("sign %s: not a SIF image: %w", path, err)
	}
	s, err := integrity.NewSigner(f, integrity.OptSignWithEntity(key))
	if err == nil {
		err = s.Sign()
	}
	if uerr := f.UnloadContainer(); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	return nil
}

// ApptainerKeyring is Apptainer's local public keyring
// ($APPTAINER_KEYSDIR/pgp-public, else ~/.apptainer/keys/pgp-public): the
// keys "apptainer verify" trusts, which "hpcbench image verify" uses when
// no keyring is given. "" when the file does not exist.
func ApptainerKeyring() string {
	dir := os.Getenv("APPTAINER_KEYSDIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".apptainer", "keys")
	}
	p := filepath.Join(dir, "pgp-public")
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return ""
	}
	return p
}
