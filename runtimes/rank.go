package runtimes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hpcbench/hpcbench/pmi"
)

// Labels every hpcbench container carries; CleanupLeftovers finds
// containers by them.
const (
	LabelJob   = "hpcbench.job"   // the job ID
	LabelRank  = "hpcbench.rank"  // the rank, or "node" for a per-node container
	LabelOwner = "hpcbench.owner" // pid of the hpcbench that started it
)

// ContainerName is the name of rank's container in job; rank < 0 names the
// per-node container.
func ContainerName(jobID string, rank int) string {
	if rank < 0 {
		return "hpcbench-" + jobID + "-node"
	}
	return "hpcbench-" + jobID + "-" + strconv.Itoa(rank)
}

// envLookup returns the value of key in env (the last one wins, as in exec).
func envLookup(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// checkPMI makes sure the rank's environment carries the PMI variables its
// flavour and channel need: without them MPI would start it as a singleton
// that exits 0, and the run would look fine while measuring nothing.
func checkPMI(job pmi.Job, cmd *pmi.RankCommand) error {
	need := func(keys ...string) error {
		var missing []string
		for _, k := range keys {
			if v, ok := envLookup(cmd.Env, k); !ok || v == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("rank %d of job %s (%s): %w: %s missing", cmd.Rank, job.ID, job.PMI, ErrMissingPMI, strings.Join(missing, ", "))
		}
		return nil
	}
	switch job.PMI {
	case pmi.PMIx:
		if err := need("PMIX_NAMESPACE", "PMIX_RANK"); err != nil {
			return err
		}
		for _, kv := range cmd.Env {
			if strings.HasPrefix(kv, "PMIX_SERVER_URI") {
				return nil
			}
		}
		return fmt.Errorf("rank %d of job %s (pmix): %w: no PMIX_SERVER_URI*", cmd.Rank, job.ID, ErrMissingPMI)
	default: // PMI-1 and PMI-2 share the simple wire protocol's variables
		if job.Channel == pmi.ChannelTCP {
			return need("PMI_PORT", "PMI_ID")
		}
		if err := need("PMI_FD", "PMI_RANK", "PMI_SIZE"); err != nil {
			return err
		}
		fdText, _ := envLookup(cmd.Env, "PMI_FD")
		fd, err := strconv.Atoi(fdText)
		if err != nil || fd < 3 || fd >= 3+len(cmd.ExtraFiles) {
			return fmt.Errorf("rank %d of job %s: %w: PMI_FD=%s is not one of the %d inherited fds", cmd.Rank, job.ID, ErrMissingPMI, fdText, len(cmd.ExtraFiles))
		}
		return nil
	}
}

// systemPrefixes are folders an image brings itself; binding the host's over
// them would replace the image's libraries and tools.
var systemPrefixes = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/var/lib", "/var/run"}

// ownPrefixes are hpcbench's own folders under a system prefix (the
// kernels cache and the image store of root, in /var/lib): no image
// brings them, so a program there is bound like any other.
var ownPrefixes = []string{"/var/lib/hpcbench"}

func isSystemPath(p string) bool {
	if p == "/" || p == "" {
		return true
	}
	for _, s := range ownPrefixes {
		if p == s || strings.HasPrefix(p, s+"/") {
			return false
		}
	}
	for _, s := range systemPrefixes {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// rankPlacement is what a container needs to run a rank where the host
// would have: the program by absolute path, the working folder, and the host
// folders to bind at the same paths: binds is all of them, readOnly and
// writable say how (see bindSet).
type rankPlacement struct {
	argv     []string
	dir      string
	binds    []string
	readOnly []string
	writable []string
}

// place sets p's binds from the read-only and writable folders.
func (p *rankPlacement) place(readOnly, writable []string) {
	p.readOnly, p.writable = readOnly, writable
	p.binds, _ = bindSet(readOnly, writable)
}

// placeRank resolves cmd's program and folder on the host and collects the
// folders the container must see at the same paths.
func placeRank(job pmi.Job, spec Spec, cmd *pmi.RankCommand) (rankPlacement, error) {
	p := rankPlacement{argv: append([]string(nil), cmd.Argv...), dir: cmd.Dir}
	if len(p.argv) == 0 {
		return p, fmt.Errorf("rank %d of job %s: empty command line", cmd.Rank, job.ID)
	}
	if p.dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return p, fmt.Errorf("rank %d: working folder: %w", cmd.Rank, err)
		}
		p.dir = wd
	}
	prog := p.argv[0]
	switch {
	case filepath.IsAbs(prog):
	case strings.Contains(prog, "/"):
		prog = filepath.Join(p.dir, prog)
	default:
		if found, err := exec.LookPath(prog); err == nil {
			if abs, err := filepath.Abs(found); err == nil {
				prog = abs
			}
		}
	}
	p.argv[0] = prog
	// The program's folder is read-only; the working folder, the PMIx
	// server's folders (clients write their files there) and the folders
	// the caller binds (the run's working folder) are writable.
	var readOnly, writable []string
	if filepath.IsAbs(prog) && !isSystemPath(filepath.Dir(prog)) {
		readOnly = append(readOnly, filepath.Dir(prog))
	}
	if !isSystemPath(p.dir) {
		writable = append(writable, p.dir)
	}
	writable = append(writable, pmixDirs(job, cmd.Env)...)
	writable = append(writable, spec.Binds...)
	p.place(readOnly, writable)
	return p, nil
}

// pmixDirs are the PMIx server's folders a PMIx client reads shared-memory
// files from; they must appear at the same paths.
func pmixDirs(job pmi.Job, env []string) []string {
	if job.PMI != pmi.PMIx {
		return nil
	}
	var dirs []string
	if job.PMIxTmpdir != "" {
		dirs = append(dirs, job.PMIxTmpdir)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "PMIX_") || !filepath.IsAbs(v) {
			continue
		}
		if strings.HasSuffix(k, "TMPDIR") || strings.HasSuffix(k, "_BASE_PATH") {
			if v != "/tmp" && !isSystemPath(v) {
				dirs = append(dirs, v)
			}
		}
	}
	return dirs
}

// normalizeBinds cleans, deduplicates and drops paths already inside
// another bound folder.
func normalizeBinds(paths []string) []string {
	var clean []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		clean = append(clean, filepath.Clean(p))
	}
	sort.Strings(clean)
	var out []string
	for _, p := range clean {
		if len(out) > 0 {
			last := out[len(out)-1]
			if p == last || strings.HasPrefix(p, last+"/") {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// mpiOf says which MPI a spec means.
func mpiOf(spec Spec, job pmi.Job) string {
	if spec.MPI != "" {
		return spec.MPI
	}
	if spec.MPIBuild != nil {
		return "mpich"
	}
	if job.PMI == pmi.PMIx {
		return "openmpi"
	}
	return "mpich"
}

// baseChoices are the choices every wrapper records.
func baseChoices(runtime string, spec Spec, channel pmi.Channel) map[string]string {
	c := map[string]string{
		"runtime":     runtime,
		"layout":      string(spec.Layout),
		"pmi_channel": string(channel),
	}
	if spec.Image.Ref != "" {
		c["image"] = spec.Image.Ref
	}
	if spec.Image.Digest != "" {
		c["image_digest"] = spec.Image.Digest
	}
	if spec.MPI != "" {
		c["mpi"] = spec.MPI
	}
	if spec.Command != "" {
		c["runtime_command"] = spec.Command
	}
	if len(spec.Flags) > 0 {
		c["runtime_flags"] = quoteArgs(spec.Flags)
	}
	source, _ := buildSource(runtime, spec)
	buildChoices(c, spec, source)
	return c
}

// quoteArgs joins args as a shell would read them back: words that need
// it are single-quoted.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=+,./:@%", r))
		}) {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// checkFlags refuses the config flags (spec.Flags) that hpcbench cannot
// let through to runtime: refused maps a flag (without its value, both
// "--flag value" and "--flag=value" forms) to the reason.
func checkFlags(runtime string, flags []string, refused map[string]string) error {
	for _, f := range flags {
		name, _, _ := strings.Cut(f, "=")
		if why, bad := refused[name]; bad {
			return fmt.Errorf("%s: %w: runtime.flags %q: %s; remove it from the config", runtime, ErrFlags, f, why)
		}
	}
	return nil
}

// detachFlags would let "docker run"/"podman run" return before the
// container ends: the launcher would take the rank for finished.
var detachFlags = map[string]string{
	"-d":       "a detached container leaves its client at once, and the launcher would take the rank for finished",
	"--detach": "a detached container leaves its client at once, and the launcher would take the rank for finished",
}

// perRankSpec checks that spec is a per-rank layout and fills defaults.
func perRankSpec(runtime string, spec Spec) (Spec, error) {
	switch spec.Layout {
	case "":
		spec.Layout = PerRank
	case PerRank, Bind:
	default:
		return spec, fmt.Errorf("%s: %w: %q has no per-rank wrapper (per-node goes through WrapNode)", runtime, ErrLayout, spec.Layout)
	}
	return spec, nil
}

// placeNode resolves a per-node command line ("hpcbench launch [flags]
// --report FILE -- program args"): hpcbench itself is bound into the
// container as a file at its host path, and so are the program's folder,
// the report's folder and the working folder.
func placeNode(job pmi.Job, spec Spec, cmd *pmi.RankCommand) (rankPlacement, error) {
	p := rankPlacement{argv: append([]string(nil), cmd.Argv...), dir: cmd.Dir}
	if len(p.argv) == 0 {
		return p, fmt.Errorf("per-node launch of job %s: empty command line", job.ID)
	}
	if p.dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return p, fmt.Errorf("per-node launch: working folder: %w", err)
		}
		p.dir = wd
	}
	abs := func(prog string) string {
		switch {
		case filepath.IsAbs(prog):
			return prog
		case strings.Contains(prog, "/"):
			return filepath.Join(p.dir, prog)
		}
		if found, err := exec.LookPath(prog); err == nil {
			if a, err := filepath.Abs(found); err == nil {
				return a
			}
		}
		return prog
	}
	p.argv[0] = abs(p.argv[0])
	if !filepath.IsAbs(p.argv[0]) {
		return p, fmt.Errorf("per-node launch of job %s: %s not found on the host", job.ID, cmd.Argv[0])
	}
	// hpcbench and the program are read-only; the report's folder, the
	// working folder and the caller's binds are writable.
	readOnly := []string{p.argv[0]}
	var writable []string
	for i := 1; i < len(p.argv); i++ {
		a := p.argv[i]
		if a == "--" {
			if i+1 < len(p.argv) {
				p.argv[i+1] = abs(p.argv[i+1])
				if d := filepath.Dir(p.argv[i+1]); filepath.IsAbs(d) && !isSystemPath(d) {
					readOnly = append(readOnly, d)
				}
			}
			break
		}
		var report string
		if v, ok := strings.CutPrefix(a, "--report="); ok {
			report = v
		} else if a == "--report" && i+1 < len(p.argv) {
			report = p.argv[i+1]
		}
		if report != "" {
			if !filepath.IsAbs(report) {
				report = filepath.Join(p.dir, report)
			}
			if d := filepath.Dir(report); !isSystemPath(d) {
				writable = append(writable, d)
			}
		}
	}
	if !isSystemPath(p.dir) {
		writable = append(writable, p.dir)
	}
	writable = append(writable, spec.Binds...)
	p.place(readOnly, writable)
	return p, nil
}
