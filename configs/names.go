package configs

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The words of a config that reach file names, Slurm batch scripts and the
// cell keys the store resumes by are kept to small character sets: a
// newline in a study name would end a script's comment line and run what
// follows, "../x" would leave the scripts' folder, a comma or '=' would
// make cell keys ambiguous, and a bidi control (U+202E) would show one
// name while storing another.

// MaxNameLength is the longest study name or label accepted.
const MaxNameLength = 100

// ErrUnsafe is wrapped by the errors of the Check* functions below: a
// value holds characters it may not.
var ErrUnsafe = errors.New("unsafe characters")

var (
	// studyNameRe: what a study name may be; it becomes a folder name
	// (hpcbench-slurm/STUDY) and part of Slurm job names.
	studyNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	// labelRe: a benchmark's or runtime's name in results ("native+10%",
	// "hpl-n5000"); it is part of cell keys and --filter values.
	labelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+%@:-]*$`)
	// slurmNameRe: a Slurm partition or account.
	slurmNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)
	// moduleRe: an environment module ("mpi/openmpi-4.1", "openmpi@4.1.4%gcc@12").
	moduleRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+/@:%,=-]*$`)
	// sbatchOptionRe: the name part of an sbatch option.
	sbatchOptionRe = regexp.MustCompile(`^(-[A-Za-z]|--[A-Za-z][A-Za-z0-9-]*)$`)
)

// CheckStudyName says whether s may name a study: letters, digits, '.',
// '_', '+' and '-', starting with a letter or digit, at most
// MaxNameLength characters. It never names a folder other than one
// inside the folder it is joined to.
func CheckStudyName(s string) error {
	return checkWord(s, studyNameRe, "letters, digits, '.', '_', '+' and '-', starting with a letter or digit")
}

// CheckLabel says whether s may label a benchmark or a runtime: letters,
// digits, '.', '_', '+', '%', '@', ':' and '-', starting with a letter or
// digit, at most MaxNameLength characters.
func CheckLabel(s string) error {
	return checkWord(s, labelRe, "letters, digits, '.', '_', '+', '%', '@', ':' and '-', starting with a letter or digit")
}

func checkWord(s string, re *regexp.Regexp, allowed string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty: %w", ErrUnsafe)
	case len(s) > MaxNameLength:
		return fmt.Errorf("%.20q...: %d bytes, more than %d: %w", s, len(s), MaxNameLength, ErrUnsafe)
	case !re.MatchString(s):
		return fmt.Errorf("%q: %w: use %s", s, ErrUnsafe, allowed)
	}
	return nil
}

// CheckSlurmPartition says whether s may be sbatch's --partition: one
// partition name, or several separated by commas.
func CheckSlurmPartition(s string) error {
	for _, p := range strings.Split(s, ",") {
		if !slurmNameRe.MatchString(p) {
			return fmt.Errorf("%q: %w: a partition name (or several, separated by commas) of letters, digits, '.', '_', '+' and '-'", s, ErrUnsafe)
		}
	}
	return nil
}

// CheckSlurmAccount says whether s may be sbatch's --account.
func CheckSlurmAccount(s string) error {
	if !slurmNameRe.MatchString(s) {
		return fmt.Errorf("%q: %w: an account name of letters, digits, '.', '_', '+' and '-'", s, ErrUnsafe)
	}
	return nil
}

var slurmTimeRe = regexp.MustCompile(`^(\d+-)?\d+(:\d{1,2}){0,2}$|^\d+-\d+$`)

// CheckSlurmTime says whether s is a time limit in Slurm's format.
func CheckSlurmTime(s string) error {
	if !slurmTimeRe.MatchString(s) {
		return fmt.Errorf("%q is not a Slurm time (minutes, \"HH:MM:SS\" or \"D-HH:MM:SS\")", s)
	}
	return nil
}

// CheckModule says whether s may be one "module load" argument.
func CheckModule(s string) error {
	if !moduleRe.MatchString(s) {
		return fmt.Errorf("%q: %w: one module per entry, of letters, digits and . _ + / @ : %% , = -", s, ErrUnsafe)
	}
	return nil
}

// CheckSbatchFlag says whether f is one sbatch option as a #SBATCH line
// may carry it: "--name", "--name=value", "--name value", "-X", "-Xvalue"
// or "-X value", with a value that is one word for sbatch (spaces only
// inside double quotes) and no control characters. A #SBATCH line is a
// comment to the shell: only a line break could make it run something,
// and more words would be more options than the entry shows.
func CheckSbatchFlag(f string) error {
	if err := CheckText(f, false); err != nil {
		return err
	}
	if !strings.HasPrefix(f, "-") {
		return fmt.Errorf("%q: %w: not an sbatch option (\"--exclusive\", \"--qos=high\", \"-C ib\")", f, ErrUnsafe)
	}
	name, value, hasValue := f, "", false
	if i := strings.IndexAny(f, "= "); i >= 0 {
		name, value, hasValue = f[:i], f[i+1:], true
	}
	if !strings.HasPrefix(name, "--") && len(name) > 2 {
		// A short option with its value attached: -pdebug.
		name, value, hasValue = name[:2], f[2:], true
	}
	if !sbatchOptionRe.MatchString(name) {
		return fmt.Errorf("%q: %w: %q is not an option name", f, ErrUnsafe, name)
	}
	if hasValue {
		if err := oneSbatchWord(value); err != nil {
			return fmt.Errorf("%q: %w: %v", f, ErrUnsafe, err)
		}
	}
	return nil
}

// oneSbatchWord checks that sbatch reads value as one word: whitespace
// only between double quotes, and the quotes balanced.
func oneSbatchWord(value string) error {
	if value == "" {
		return errors.New("the value is empty")
	}
	quoted := false
	for i := 0; i < len(value); i++ {
		switch c := value[i]; {
		case c == '\\' && i+1 < len(value):
			i++
		case c == '"':
			quoted = !quoted
		case (c == ' ' || c == '\t') && !quoted:
			return errors.New("one option per entry (quote a value with spaces in double quotes)")
		}
	}
	if quoted {
		return errors.New("a double quote is not closed")
	}
	return nil
}

// CheckText says whether s is text a person can read as it is stored: no
// NUL or other control characters (line breaks and tabs too unless
// multiline), no bidi or other invisible format characters (U+202E shows
// text in another order than it runs), no invalid UTF-8.
func CheckText(s string, multiline bool) error {
	for i, r := range s {
		if r == '\n' || r == '\t' {
			if multiline {
				continue
			}
		}
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
			unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return fmt.Errorf("%q: %w: character %U at byte %d", s, ErrUnsafe, r, i)
		}
	}
	return nil
}

// SafeStudyName turns a config file's base name into a study name
// CheckStudyName accepts: other characters become '_', and what does not
// start with a letter or digit is cut to where one does; "study" if none.
func SafeStudyName(base string) string {
	var b strings.Builder
	for _, r := range base {
		if r < 0x80 && studyNameRe.MatchString("a"+string(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "._+-")
	if len(s) > MaxNameLength {
		s = s[:MaxNameLength]
	}
	if s == "" {
		return "study"
	}
	return s
}
