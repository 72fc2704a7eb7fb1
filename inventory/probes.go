package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
)

// prober runs the external commands probes need, each under a timeout.
type prober struct {
	timeout time.Duration
}

// errTimeout marks a probe command killed by its timeout: what it looked
// for is unknown, not missing.
var errTimeout = ErrProbeTimedOut

// output runs name with args and returns its standard output. The error
// holds the first line of standard error, which is where tools say why.
func (p *prober) output(ctx context.Context, name string, args ...string) (string, error) {
	return p.outputWithin(ctx, p.timeout, name, args...)
}

func (p *prober) outputWithin(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// A tool that leaves a child holding its pipes must not hang the probe.
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return stdout.String(), fmt.Errorf("%s: %w after %s", name, errTimeout, timeout)
	}
	if err != nil {
		// The last line is where tools put the reason (Slurm's "fatal:").
		msg := lastLine(stderr.String())
		if msg == "" {
			msg = lastLine(stdout.String())
		}
		if msg != "" {
			return stdout.String(), fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return stdout.String(), fmt.Errorf("%s: %w", name, err)
	}
	return stdout.String(), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// lookPath returns the first of names found on PATH.
func lookPath(names ...string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

// tool reports an executable found on PATH (the first of names), without
// running it.
func tool(hint string, names ...string) Component {
	c := Component{Name: names[0], Hint: hint}
	if p, ok := lookPath(names...); ok {
		c.Found, c.Path, c.Hint = true, p, ""
		c.Name = filepath.Base(p)
	}
	return c
}

// ---- host ----

func (p *prober) host(ctx context.Context) Host {
	h := Host{Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	} else if out, err := p.output(ctx, "uname", "-r"); err == nil {
		h.Kernel = strings.TrimSpace(out)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		h.CPUModel = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		h.MemoryBytes = memTotal(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		h.OS = osPrettyName(string(b))
	}
	return h
}

// cpuModel returns the first "model name" (x86), or "Model"/"cpu" line
// (arm64, ppc64le) of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	var fallback string
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Model", "cpu":
			if fallback == "" {
				fallback = v
			}
		}
	}
	return fallback
}

// memTotal returns MemTotal from /proc/meminfo in bytes.
func memTotal(meminfo string) uint64 {
	for _, line := range strings.Split(meminfo, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kib, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				return kib * 1024
			}
		}
	}
	return 0
}

func osPrettyName(osRelease string) string {
	for _, line := range strings.Split(osRelease, "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// ---- libraries ----

// libraryDirs are the folders searched for shared libraries, most
// specific first: LD_LIBRARY_PATH, extra (e.g. next to an MPI's bin
// folder), then the system folders including Debian's multiarch ones.
func libraryDirs(extra ...string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, extra...)
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu", "riscv64": "riscv64-linux-gnu"}[runtime.GOARCH]
	if triplet != "" {
		dirs = append(dirs, "/usr/local/lib/"+triplet, "/usr/lib/"+triplet, "/lib/"+triplet)
	}
	return append(dirs, "/usr/local/lib", "/usr/local/lib64", "/usr/lib64", "/usr/lib", "/lib64", "/lib")
}

// findLibrary returns the first file named one of names in dirs.
func findLibrary(dirs []string, names ...string) (string, bool) {
	for _, d := range dirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, true
			}
		}
	}
	return "", false
}

// besideBin returns the lib folders of the installation whose bin folder
// holds exe (/opt/mpich/bin/mpichversion -> /opt/mpich/lib, lib64).
func besideBin(exe string) []string {
	if exe == "" {
		return nil
	}
	root := filepath.Dir(filepath.Dir(exe))
	return []string{filepath.Join(root, "lib"), filepath.Join(root, "lib64")}
}

// ---- MPICH ----

var (
	mpichVersionRe = regexp.MustCompile(`(?m)^\s*MPICH Version:\s*(\S+)`)
	mpichDeviceRe  = regexp.MustCompile(`(?m)^\s*MPICH Device:\s*(\S+)`)
	hydraVersionRe = regexp.MustCompile(`(?m)^\s*Version:\s*(\S+)`)
)

func (p *prober) mpich(ctx context.Context) MPI {
	m := MPI{Component: Component{Name: "mpich", Hint: "apt-get install mpich libmpich-dev"}}
	m.Compiler = tool("apt-get install libmpich-dev", "mpicc.mpich")
	m.Launcher = tool("apt-get install mpich", "mpiexec.mpich", "mpiexec.hydra")
	var exe string
	var timedOut error
	if path, ok := lookPath("mpichversion"); ok {
		exe = path
		out, err := p.output(ctx, path)
		if err != nil {
			m.Detail = err.Error()
			if errors.Is(err, errTimeout) {
				timedOut = err
			}
		} else if v := mpichVersionRe.FindStringSubmatch(out); v != nil {
			m.Found, m.Path, m.Version = true, path, v[1]
			if d := mpichDeviceRe.FindStringSubmatch(out); d != nil {
				m.Detail = "device " + d[1]
			}
		}
	}
	if !m.Found && m.Launcher.Found {
		out, err := p.output(ctx, m.Launcher.Path, "--version")
		if v := hydraVersionRe.FindStringSubmatch(out); err == nil && v != nil {
			m.Found, m.Path, m.Version = true, m.Launcher.Path, v[1]
		}
		if errors.Is(err, errTimeout) && timedOut == nil {
			timedOut = err
			if m.Detail == "" {
				m.Detail = err.Error()
			}
		}
		if exe == "" {
			exe = m.Launcher.Path
		}
	}
	lib, ok := findLibrary(libraryDirs(besideBin(exe)...), "libmpich.so.12", "libmpich.so")
	if ok {
		m.Library = lib
		m.PMI, m.PMIEvidence = mpichPMI(lib)
		m.FlavourEvidence = mpichFlavourEvidence(lib)
	} else if m.Found {
		m.PMIEvidence = "libmpich.so.12 not found: cannot tell which PMI it speaks"
	}
	if m.Found {
		m.Hint = ""
	}
	markUnknown(&m.Component, timedOut)
	return m
}

// markUnknown makes c, not found, Unknown when one of its probes timed
// out (timedOut, that probe's error): the tool may well be there and only
// slow to answer.
func markUnknown(c *Component, timedOut error) {
	if c.Found || timedOut == nil {
		return
	}
	c.Unknown, c.Hint, c.probeErr = true, unknownHint, timedOut
}

// mpichPMI decides the PMI flavours of an MPICH library from the strings
// it contains: every simple-protocol client sends "cmd=init pmi_version",
// only one that can speak PMI-2 has the "fullinit" command, and one
// linked against PMIx calls PMIx_Init.
func mpichPMI(lib string) ([]pmi.Flavour, string) {
	data, err := os.ReadFile(lib)
	if err != nil {
		return nil, "cannot read " + lib + ": " + err.Error()
	}
	base := filepath.Base(lib)
	var fl []pmi.Flavour
	var ev []string
	if bytes.Contains(data, []byte("cmd=init pmi_version")) {
		fl = append(fl, pmi.PMI1)
	}
	if bytes.Contains(data, []byte("fullinit")) {
		fl = append(fl, pmi.PMI2)
		ev = append(ev, "fullinit in "+base+": PMI-2")
	} else {
		ev = append(ev, "no fullinit in "+base+": no PMI-2")
	}
	if bytes.Contains(data, []byte("PMIx_Init")) {
		fl = append(fl, pmi.PMIx)
		ev = append(ev, "PMIx_Init: PMIx")
	}
	if len(fl) == 1 && fl[0] == pmi.PMI1 {
		ev = append(ev, "PMI-1 only")
	}
	if len(fl) == 0 {
		ev = append(ev, "no PMI client strings found")
	}
	return fl, strings.Join(ev, "; ")
}

// mpichFlavourEvidence is the evidence mpichPMI reads, for each flavour
// alone: the string of the flavour's own client, found or not. Nil when
// the library cannot be read.
func mpichFlavourEvidence(lib string) map[pmi.Flavour]string {
	data, err := os.ReadFile(lib)
	if err != nil {
		return nil
	}
	base := filepath.Base(lib)
	ev := map[pmi.Flavour]string{}
	for _, f := range []struct {
		flavour pmi.Flavour
		marker  string
		name    string
	}{
		{pmi.PMI1, "cmd=init pmi_version", "PMI-1"},
		{pmi.PMI2, "fullinit", "PMI-2"},
		{pmi.PMIx, "PMIx_Init", "PMIx"},
	} {
		if bytes.Contains(data, []byte(f.marker)) {
			ev[f.flavour] = fmt.Sprintf("%q in %s: %s", f.marker, base, f.name)
		} else {
			ev[f.flavour] = fmt.Sprintf("no %q in %s: no %s client", f.marker, base, f.name)
		}
	}
	return ev
}

// ---- Open MPI ----

func (p *prober) openMPI(ctx context.Context) MPI {
	m := MPI{Component: Component{Name: "openmpi", Hint: "apt-get install openmpi-bin libopenmpi-dev"}}
	m.Compiler = tool("apt-get install libopenmpi-dev", "mpicc.openmpi")
	m.Launcher = tool("apt-get install openmpi-bin", "mpirun.openmpi", "mpiexec.openmpi")
	path, ok := lookPath("ompi_info")
	var timedOut error
	if ok {
		out, err := p.output(ctx, path, "--parsable")
		if err != nil {
			m.Detail = err.Error()
			if errors.Is(err, errTimeout) {
				timedOut = err
			}
		} else if version, comps := parseOMPIInfo(out); version != "" {
			m.Found, m.Path, m.Version, m.Hint = true, path, version, ""
			m.PMI, m.PMIEvidence = openMPIPMI(version, comps)
		}
	}
	if lib, ok := findLibrary(libraryDirs(besideBin(path)...), "libmpi.so.40", "libmpi.so"); ok {
		m.Library = lib
	}
	markUnknown(&m.Component, timedOut)
	return m
}

// parseOMPIInfo returns Open MPI's full version and the MCA pmix
// components from "ompi_info --parsable".
func parseOMPIInfo(out string) (version string, pmixComponents []string) {
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "ompi:version:full:"); ok {
			version = strings.TrimSpace(v)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "mca:pmix:"); ok {
			name, _, _ := strings.Cut(rest, ":")
			if name != "" && !seen[name] {
				seen[name] = true
				pmixComponents = append(pmixComponents, name)
			}
		}
	}
	return version, pmixComponents
}

// openMPIPMI maps Open MPI's pmix components to flavours: ext*/pmix*
// components are PMIx clients, s1 and s2 speak PMI-1 and PMI-2 (through
// Slurm's libraries); isolated and flux are not PMI servers hpcbench can
// be. Open MPI 5 always uses PMIx and has no such framework.
func openMPIPMI(version string, comps []string) ([]pmi.Flavour, string) {
	var fl []pmi.Flavour
	has := map[pmi.Flavour]bool{}
	add := func(f pmi.Flavour) {
		if !has[f] {
			has[f] = true
			fl = append(fl, f)
		}
	}
	for _, c := range comps {
		switch {
		case c == "s1":
			add(pmi.PMI1)
		case c == "s2":
			add(pmi.PMI2)
		case strings.HasPrefix(c, "ext"), strings.HasPrefix(c, "pmix"):
			add(pmi.PMIx)
		}
	}
	if major, _, _ := strings.Cut(version, "."); len(comps) == 0 {
		if n, err := strconv.Atoi(major); err == nil && n >= 5 {
			add(pmi.PMIx)
			return fl, "Open MPI " + version + ": PMIx only"
		}
		return fl, "ompi_info lists no MCA pmix components"
	}
	sort.Slice(fl, func(i, j int) bool { return fl[i] < fl[j] })
	return fl, "ompi_info: MCA pmix " + strings.Join(comps, ", ")
}

// ---- PMI libraries ----

func (p *prober) pmix(ctx context.Context) Component {
	c := Component{Name: "libpmix", Hint: "apt-get install libpmix-dev"}
	lib, libFound := findLibrary(libraryDirs(), "libpmix.so.2", "libpmix.so")
	if out, err := p.output(ctx, "pkg-config", "--modversion", "pmix"); err == nil && strings.TrimSpace(out) != "" {
		c.Found, c.Version, c.Hint = true, strings.TrimSpace(out), ""
		c.Path = lib
		if inc, err := p.output(ctx, "pkg-config", "--variable=includedir", "pmix"); err == nil {
			c.Detail = "headers in " + strings.TrimSpace(inc)
		}
		return c
	}
	if libFound {
		c.Found, c.Path = true, lib
		c.Version = libraryFileVersion(lib)
		c.Detail = "library only (soname version " + c.Version + "); no pkg-config file, so the PMIx server cannot be built"
		c.Hint = "apt-get install libpmix-dev"
	}
	return c
}

// libraryFileVersion returns the version in a library's real file name
// (libpmix.so.2 -> libpmix.so.2.6.2 -> "2.6.2").
func libraryFileVersion(lib string) string {
	real, err := filepath.EvalSymlinks(lib)
	if err != nil {
		real = lib
	}
	_, v, ok := strings.Cut(filepath.Base(real), ".so.")
	if !ok {
		return ""
	}
	return v
}

func (p *prober) slurmPMI2() Component {
	c := Component{Name: "libpmi2", Hint: "apt-get install libpmi2-0-dev"}
	if lib, ok := findLibrary(libraryDirs(), "libpmi2.so.0", "libpmi2.so"); ok {
		c.Found, c.Path, c.Hint = true, lib, ""
		if _, err := os.Stat("/usr/include/slurm/pmi2.h"); err == nil {
			c.Detail = "header /usr/include/slurm/pmi2.h"
		} else {
			c.Detail = "no header slurm/pmi2.h: a client cannot be compiled"
			c.Hint = "apt-get install libpmi2-0-dev"
		}
	}
	return c
}

// ---- runtimes ----

// runtimeRow is one program doctor lists, with the adapter that
// fingerprints it.
type runtimeRow struct {
	program string // "docker", "singularity", "crun", ...
	runtime string // the adapter's name: "docker", "apptainer", "oci", ...
}

// shownFirst is the order doctor lists runtimes in; any other registered
// runtime follows, by name.
var shownFirst = []string{"docker", "podman", "apptainer", "singularity", "oci", "charliecloud"}

// runtimeRows are every program a registered runtime may run (its
// Capabilities.Programs), each once. The adapters are the one source of
// what to look for and how.
func runtimeRows() []runtimeRow {
	names := append([]string(nil), shownFirst...)
	for _, n := range runtimes.Names() {
		if !slices.Contains(shownFirst, n) {
			names = append(names, n)
		}
	}
	var rows []runtimeRow
	seen := map[string]bool{}
	for _, n := range names {
		rt, err := runtimes.Get(n)
		if err != nil {
			continue
		}
		// By name within a runtime, so that the listing does not change
		// with the adapter's preference (OCI: runc first on hybrid cgroups).
		for _, prog := range slices.Sorted(slices.Values(rt.Capabilities().Programs)) {
			if !seen[prog] {
				seen[prog] = true
				rows = append(rows, runtimeRow{program: prog, runtime: rt.Name()})
			}
		}
	}
	return rows
}

// runtime asks the adapter to fingerprint the row's program. A
// fingerprint runs up to two commands (the program's version, then its
// engine's), each of which gets the probe timeout.
func (p *prober) runtime(ctx context.Context, row runtimeRow) Runtime {
	rt, err := runtimes.GetCommand(row.runtime, row.program)
	if err != nil {
		return Runtime{Component: Component{Name: row.program, Detail: err.Error()}, reason: err}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*p.timeout)
	defer cancel()
	return fromFingerprint(row.program, rt.Fingerprint(ctx))
}

// fromFingerprint is the inventory's entry for an adapter's fingerprint
// of program.
func fromFingerprint(program string, fp runtimes.Fingerprint) Runtime {
	rt := Runtime{
		Component: Component{Name: program, Found: fp.Found, Version: fp.Version, Path: fp.Path, Detail: fp.Detail, Hint: fp.Hint},
		Usable:    fp.Usable,
		reason:    fp.Err,
	}
	if !fp.Usable && errors.Is(fp.Err, ErrProbeTimedOut) {
		// Its version or its engine's answer came too late: unknown, which
		// planning must not take for "not installed" or "engine down".
		rt.Unknown, rt.Hint, rt.probeErr = true, unknownHint, fp.Err
		if rt.Detail == "" {
			rt.Detail = fp.Err.Error()
		}
	}
	if fp.Capabilities.Daemon && fp.EngineAnswers {
		rt.Engine = fp.Engine
	}
	return rt
}

// ---- Slurm ----

var slurmVersionRe = regexp.MustCompile(`(?i)slurm(?:-wlm)?\s+(\d+\.\d+(?:\.\d+)?)`)

func (p *prober) slurm(ctx context.Context) Slurm {
	s := Slurm{Client: Component{Name: "srun", Hint: "apt-get install slurm-client (and slurm-wlm munge for a local cluster)"}}
	srun, ok := lookPath("srun")
	if !ok {
		return s
	}
	s.Client.Found, s.Client.Path, s.Client.Hint = true, srun, ""
	type answer struct {
		out string
		err error
	}
	version, ping, plugins := make(chan answer, 1), make(chan answer, 1), make(chan answer, 1)
	go func() {
		out, err := p.output(ctx, srun, "--version")
		if err != nil {
			// srun needs a configuration even for --version; slurmd does not.
			if slurmd, ok := lookPath("slurmd"); ok {
				if out2, err2 := p.output(ctx, slurmd, "-V"); err2 == nil {
					out, err = out2, nil
				}
			}
		}
		version <- answer{out, err}
	}()
	go func() {
		// A controller that answers does so at once; do not wait long.
		out, err := p.outputWithin(ctx, min(p.timeout, 3*time.Second), "scontrol", "ping")
		ping <- answer{out, err}
	}()
	go func() {
		out, err := p.output(ctx, srun, "--mpi=list")
		plugins <- answer{out, err}
	}()
	if a := <-version; a.err == nil {
		if m := slurmVersionRe.FindStringSubmatch(a.out); m != nil {
			s.Client.Version = m[1]
		}
	} else {
		s.Client.Detail = a.err.Error()
	}
	if a := <-ping; a.err == nil && strings.Contains(a.out, "is UP") {
		s.Controller = true
		s.ControllerDetail = firstLine(a.out)
	} else {
		s.ControllerDetail = "no controller answers"
		if a.err != nil {
			s.ControllerDetail += ": " + a.err.Error()
		} else if l := firstLine(a.out); l != "" {
			s.ControllerDetail += ": " + l
		}
		s.ControllerHint = "start slurmctld and slurmd, or set SLURM_CONF to a running cluster's slurm.conf"
	}
	if a := <-plugins; a.err == nil {
		s.MPIPlugins = parseMPIPlugins(a.out)
	}
	return s
}

// parseMPIPlugins reads "srun --mpi=list": a header line, then one plugin
// type per line (optionally prefixed "srun: " or "mpi/"), then perhaps a
// line about plugin versions.
func parseMPIPlugins(out string) []string {
	var plugins []string
	started := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "srun:"))
		switch {
		case line == "":
			continue
		case strings.Contains(line, "MPI plugin types"):
			started = true
			continue
		case strings.Contains(line, "plugin versions"), strings.Contains(line, " "):
			if started {
				started = strings.Contains(line, "MPI plugin types")
			}
			continue
		}
		if started {
			plugins = append(plugins, strings.TrimPrefix(line, "mpi/"))
		}
	}
	return plugins
}

// ---- benchmarks ----

var (
	// NPB names as the NPB makefiles produce them: cg.A.x (3.4, any rank
	// count) or cg.A.4 (3.3, compiled for 4 ranks).
	npbFileRe = regexp.MustCompile(`^(bt|cg|ep|ft|is|lu|mg|sp)\.([SWABCDEF])\.(x|\d+)$`)
	// In configured folders a plain name counts too (the project's kernels).
	npbPlainRe = regexp.MustCompile(`^(bt|cg|ep|ft|is|lu|mg|sp)$`)
)

func (p *prober) benchmarks(npbDirs []string) Benchmarks {
	b := Benchmarks{NPBDirs: npbDirs}
	seen := map[string]bool{}
	add := func(dir, mpi string, plainOK bool) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			bin, ok := npbBinary(e.Name(), plainOK)
			if !ok || seen[path] || !isExecutable(path) {
				continue
			}
			seen[path] = true
			bin.Path, bin.MPI = path, mpi
			b.NPB = append(b.NPB, bin)
		}
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir != "" {
			add(dir, "", false)
		}
	}
	for _, dir := range npbDirs {
		add(dir, "", true)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				mpi := ""
				if e.Name() == "mpich" || e.Name() == "openmpi" {
					mpi = e.Name()
				}
				add(filepath.Join(dir, e.Name()), mpi, true)
			}
		}
	}
	sort.Slice(b.NPB, func(i, j int) bool { return b.NPB[i].Path < b.NPB[j].Path })
	if len(b.NPB) == 0 {
		b.NPBHint = "run make setup (or make -C npb/kernels) to build the project's kernels, or pass --npb-dir with NPB binaries (ep.S.x, cg.A.x, ...)"
	}
	b.HPL = tool("build HPL 2.3 and put xhpl on PATH (or use hpcc, which contains HPL)", "xhpl")
	b.HPCC = tool("apt-get install hpcc", "hpcc")
	return b
}

// npbBinary recognises an NPB executable's file name.
func npbBinary(name string, plainOK bool) (NPBBinary, bool) {
	if m := npbFileRe.FindStringSubmatch(name); m != nil {
		bin := NPBBinary{Name: m[1], Class: m[2]}
		if m[3] != "x" {
			bin.Ranks, _ = strconv.Atoi(m[3])
		}
		return bin, true
	}
	if plainOK && npbPlainRe.MatchString(name) {
		return NPBBinary{Name: name}, true
	}
	return NPBBinary{}, false
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
