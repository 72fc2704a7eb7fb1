package configs

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/pmi"
)

// Defaults filled in when a key is absent.
const (
	DefaultRepetitions = 5
	// Adaptive repetitions (repetitions = "auto"): the measured runs every
	// cell starts with and may grow to, and the half-width of the ratio's
	// 95% interval aimed for. MinAdaptiveRepetitions is the fewest runs a
	// side that the statistics test (results.MinTestRuns).
	DefaultMinRepetitions  = 5
	DefaultMaxRepetitions  = 30
	DefaultTargetCI        = 0.01
	MinAdaptiveRepetitions = 3
	DefaultWarmup          = 1
	DefaultTimeout         = pmi.DefaultTimeout
	DefaultNPBDir          = "npb/kernels/build"
	DefaultNB              = 128
	// DefaultMargin and DefaultMinRunTime are the values results.Analyse
	// uses when a study sets none (results.DefaultMargin and
	// results.DefaultMinRunTime; the results package does not import this one).
	DefaultMargin     = 0.02
	DefaultMinRunTime = time.Second
)

// Known values of the enumerated keys.
var (
	MPINames     = []string{"mpich", "openmpi"}
	RuntimeNames = []string{"native", "docker", "podman", "apptainer", "singularity", "oci", "charliecloud", "ch-run"}
	Layouts      = []Layout{LayoutPerRank, LayoutPerNode, LayoutBind}
	Flavours     = []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx}
)

// MPINone in a command benchmark's mpi list means the program is linked
// with no MPI library and speaks PMI itself (e.g. a client of Slurm's
// libpmi2): no MPI is required and any PMI flavour it lists is allowed.
const MPINone = "none"

// Load reads, parses and validates the config at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a config given as text; file names it in
// errors. The error is an Errors holding every problem found, each with
// its line and key.
func Parse(file string, data []byte) (*Config, error) {
	lines := scanLines(data)
	cfg := &Config{File: file, Source: bytes.Clone(data), lines: lines}
	// Parse first without a schema, so that bad syntax is told apart from
	// a value of the wrong type.
	var generic map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&generic); err != nil {
		return nil, Errors{decodeError(file, err, lines, true)}
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		return nil, Errors{decodeError(file, err, lines, false)}
	}
	v := &validator{cfg: cfg, md: md}
	v.unknownKeys()
	v.study()
	v.matrix()
	v.runtimes()
	v.benchmarks()
	v.slurm()
	v.runsPerCell()
	if len(v.errs) == 0 {
		v.studySize()
	}
	if len(v.errs) > 0 {
		return nil, v.errs.sorted()
	}
	return cfg, nil
}

type validator struct {
	cfg  *Config
	md   toml.MetaData
	errs Errors
}

func (v *validator) add(key string, sentinel error, format string, a ...any) {
	v.errs = append(v.errs, &Error{
		File: v.cfg.File, Line: v.cfg.lines.lineOf(key), Key: key,
		Msg: fmt.Sprintf(format, a...), Err: sentinel,
	})
}

// schemaKeys are the keys of each table of the schema ("" is the top).
var schemaKeys = map[string][]string{
	"":          {"study", "matrix", "benchmark", "runtime", "slurm"},
	"study":     {"name", "description", "seed", "repetitions", "warmup", "timeout", "order", "oversubscribe", "bind", "env", "blas_threads", "npb_dir", "margin", "min_run_time", "keyring", "require_signed"},
	"matrix":    {"mpi", "pmi", "ranks"},
	"benchmark": {"kind", "name", "names", "label", "classes", "binary", "dir", "args", "argv", "check_binary", "n", "mem_fraction", "nb", "p", "q", "mpi", "pmi", "ranks", "runtimes", "env", "timeout", "repetitions", "warmup"},
	"runtime":   {"name", "label", "image", "flags", "layouts", "command", "env", "isolation", "shm", "pass_env", "verify"},
	"slurm":     {"partition", "account", "nodes", "time", "modules", "prologue", "cpu_bind", "sbatch_flags"},
}

// unknownPrefix returns the first part of k the schema does not know:
// for study.x.y (a dotted key or a sub-table) that is study.x.
func unknownPrefix(k string) string {
	parts := strings.Split(k, ".")
	if !contains(schemaKeys[""], parts[0]) || len(parts) == 1 {
		return parts[0]
	}
	if !contains(schemaKeys[parts[0]], parts[1]) {
		return parts[0] + "." + parts[1]
	}
	return k
}

// unknownKeys reports every key the schema does not have, at each place
// it occurs: BurntSushi/toml names them without array indexes, so the
// lines come from the file.
func (v *validator) unknownKeys() {
	seen := map[string]bool{}
	var plain []string
	for _, k := range v.md.Undecoded() {
		p := unknownPrefix(k.String())
		if !seen[p] {
			seen[p] = true
			plain = append(plain, p)
		}
	}
	sort.Strings(plain)
	for _, k := range plain {
		where := v.cfg.lines.lookup(k)
		if len(where) == 0 {
			where = []string{k}
		}
		for _, key := range where {
			v.add(key, ErrUnknownKey, "unknown key %q%s", lastPart(k), suggest(k))
		}
	}
}

func lastPart(k string) string { return k[strings.LastIndexByte(k, '.')+1:] }

// suggest names the key the user probably meant.
func suggest(k string) string {
	table, name := "", k
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		table, name = k[:i], k[i+1:]
	}
	known := schemaKeys[table]
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		if len(known) > 0 {
			return " (known keys: " + strings.Join(known, ", ") + ")"
		}
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func (v *validator) study() {
	s := &v.cfg.Study
	if s.Name == "" {
		s.Name = SafeStudyName(strings.TrimSuffix(filepath.Base(v.cfg.File), filepath.Ext(v.cfg.File)))
	} else if err := CheckStudyName(s.Name); err != nil {
		v.add("study.name", ErrInvalid, "%v", err)
	}
	if err := CheckText(s.Description, true); err != nil {
		v.add("study.description", ErrInvalid, "%v", err)
	}
	if s.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(s.Name))
		s.Seed = int64(h.Sum64() >> 1)
	}
	v.repetitions()
	if !v.md.IsDefined("study", "warmup") {
		s.Warmup = DefaultWarmup
	} else if s.Warmup < 0 {
		v.add("study.warmup", ErrInvalid, "%d: cannot be negative", s.Warmup)
	}
	if !v.md.IsDefined("study", "timeout") {
		s.Timeout.Duration = DefaultTimeout
	} else if s.Timeout.Duration <= 0 {
		v.add("study.timeout", ErrInvalid, "%s: must be positive (e.g. \"10m\")", s.Timeout)
	}
	switch s.Order {
	case "":
		s.Order = "random"
	case "random", "sequential":
	default:
		v.add("study.order", ErrInvalid, "%q: want \"random\" or \"sequential\"", s.Order)
	}
	switch s.Bind {
	case "":
		s.Bind = "none"
	case "none", "core":
	default:
		v.add("study.bind", ErrInvalid, "%q: want \"none\" or \"core\"", s.Bind)
	}
	if err := CheckBLASThreads(s.BLASThreads, s.Bind); err != nil {
		v.add("study.blas_threads", ErrInvalid, "%v", err)
	}
	if !v.md.IsDefined("study", "margin") {
		s.Margin = DefaultMargin
	} else if !(s.Margin > 0 && s.Margin < 0.5) {
		v.add("study.margin", ErrInvalid, "%v: want a fraction between 0 and 0.5 (0.02 is 2%%)", s.Margin)
	}
	if !v.md.IsDefined("study", "min_run_time") {
		s.MinRunTime.Duration = DefaultMinRunTime
	} else if s.MinRunTime.Duration <= 0 {
		v.add("study.min_run_time", ErrInvalid, "%s: must be positive (e.g. \"1s\")", s.MinRunTime)
	}
	if s.NPBDir == "" {
		s.NPBDir = DefaultNPBDir
	}
	v.env("study.env", s.Env)
}

// repetitions checks the repetitions key and the keys of adaptive
// repetitions, which only a study with repetitions = "auto" may set. An
// adaptive study's cells are expanded with MinRepetitions measured runs;
// the executor adds the rest.
func (v *validator) repetitions() {
	s := &v.cfg.Study
	s.AutoRepetitions = s.RepetitionsKey.Auto
	switch {
	case !v.md.IsDefined("study", "repetitions"):
		s.Repetitions = DefaultRepetitions
	case s.AutoRepetitions:
	default:
		s.Repetitions = s.RepetitionsKey.Count
		if s.Repetitions < 1 {
			v.add("study.repetitions", ErrInvalid, "%d: need at least 1", s.Repetitions)
		}
	}
	adaptiveKeys := []string{"min_repetitions", "max_repetitions", "target_ci", "budget"}
	if !s.AutoRepetitions {
		for _, k := range adaptiveKeys {
			if v.md.IsDefined("study", k) {
				v.add("study."+k, ErrInvalid, "only for an adaptive study: set repetitions = \"auto\" too, or remove %s", k)
			}
		}
		return
	}
	if !v.md.IsDefined("study", "min_repetitions") {
		s.MinRepetitions = DefaultMinRepetitions
	} else if s.MinRepetitions < MinAdaptiveRepetitions {
		v.add("study.min_repetitions", ErrInvalid, "%d: need at least %d (the fewest runs a side that a comparison is tested with)", s.MinRepetitions, MinAdaptiveRepetitions)
	}
	if !v.md.IsDefined("study", "max_repetitions") {
		s.MaxRepetitions = max(DefaultMaxRepetitions, s.MinRepetitions)
	} else if s.MaxRepetitions < s.MinRepetitions {
		v.add("study.max_repetitions", ErrInvalid, "%d: below min_repetitions (%d)", s.MaxRepetitions, s.MinRepetitions)
	}
	if !v.md.IsDefined("study", "target_ci") {
		s.TargetCI = DefaultTargetCI
	} else if !(s.TargetCI > 0 && s.TargetCI < 0.5) {
		v.add("study.target_ci", ErrInvalid, "%v: want a fraction between 0 and 0.5 (0.01 is a 95%% interval of +-1%%)", s.TargetCI)
	}
	if v.md.IsDefined("study", "budget") && s.Budget.Duration <= 0 {
		v.add("study.budget", ErrInvalid, "%s: must be positive (e.g. \"30m\")", s.Budget)
	}
	s.Repetitions = s.MinRepetitions
	for i, b := range v.cfg.Benchmarks {
		if b.Repetitions != nil {
			v.add(fmt.Sprintf("benchmark[%d].repetitions", i), ErrInvalid, "not in a study with repetitions = \"auto\": its min_repetitions and max_repetitions apply to every cell")
		}
	}
}

// CheckBLASThreads is the one rule for BLAS threads per rank, whether
// they come from [study] blas_threads or from "hpcbench matrix
// --blas-threads": never negative, and no more than one on ranks pinned
// to a core (bind = "core"), where the threads would share that core.
func CheckBLASThreads(n int, bind string) error {
	switch {
	case n < 0:
		return fmt.Errorf("%d: cannot be negative (1 is one BLAS thread per rank)", n)
	case n > 1 && bind == "core":
		return fmt.Errorf("%d with bind = \"core\": each rank is pinned to one core, so its BLAS threads would share it; use bind = \"none\"", n)
	}
	return nil
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (v *validator) env(key string, env map[string]string) {
	for name := range env {
		if !envNameRe.MatchString(name) {
			v.add(key, ErrInvalid, "%q is not an environment variable name", name)
		}
	}
}

func (v *validator) matrix() {
	m := &v.cfg.Matrix
	if !v.md.IsDefined("matrix", "mpi") {
		m.MPI = append([]string(nil), MPINames...)
	} else {
		v.mpiList("matrix.mpi", m.MPI, false)
	}
	if !v.md.IsDefined("matrix", "pmi") {
		m.PMI = append([]pmi.Flavour(nil), Flavours...)
	} else {
		v.pmiList("matrix.pmi", m.PMI)
	}
	if !v.md.IsDefined("matrix", "ranks") {
		v.add("matrix", ErrMissing, "ranks is missing: list the rank counts, e.g. ranks = [1, 2, 4]")
	} else {
		v.ranksList("matrix.ranks", m.Ranks)
	}
}

func (v *validator) mpiList(key string, list []string, noneOK bool) {
	if len(list) == 0 {
		v.add(key, ErrInvalid, "empty list: name at least one of %s", strings.Join(MPINames, ", "))
	}
	seen := map[string]bool{}
	for _, m := range list {
		switch {
		case seen[m]:
			v.add(key, ErrInvalid, "%q is listed twice", m)
		case m == MPINone && noneOK:
		case m == MPINone:
			v.add(key, ErrInvalid, "%q is only for command benchmarks that speak PMI themselves", m)
		case !contains(MPINames, m):
			v.add(key, ErrInvalid, "unknown MPI %q (want %s)", m, strings.Join(MPINames, ", "))
		}
		seen[m] = true
	}
}

func (v *validator) pmiList(key string, list []pmi.Flavour) {
	if len(list) == 0 {
		v.add(key, ErrInvalid, "empty list: name at least one of pmi1, pmi2, pmix")
	}
	seen := map[pmi.Flavour]bool{}
	for _, f := range list {
		switch {
		case seen[f]:
			v.add(key, ErrInvalid, "%q is listed twice", f)
		case !contains(Flavours, f):
			v.add(key, ErrInvalid, "unknown PMI flavour %q (want pmi1, pmi2 or pmix)", f)
		}
		seen[f] = true
	}
}

func (v *validator) ranksList(key string, list []int) {
	if len(list) == 0 {
		v.add(key, ErrInvalid, "empty list: give at least one rank count")
	}
	seen := map[int]bool{}
	for _, r := range list {
		switch {
		case r < 1:
			v.add(key, ErrInvalid, "%d ranks: need at least 1", r)
		case seen[r]:
			v.add(key, ErrInvalid, "%d is listed twice", r)
		}
		seen[r] = true
	}
}

func (v *validator) runtimes() {
	if len(v.cfg.Runtimes) == 0 {
		v.cfg.Runtimes = []Runtime{{Name: "native", Label: "native", Layouts: []Layout{LayoutNone}}}
		return
	}
	labels := map[string]int{}
	for i := range v.cfg.Runtimes {
		rt := &v.cfg.Runtimes[i]
		key := fmt.Sprintf("runtime[%d]", i)
		if rt.Name == "" {
			v.add(key, ErrMissing, "name is missing (want one of %s)", strings.Join(RuntimeNames, ", "))
			continue
		}
		if !contains(RuntimeNames, rt.Name) {
			v.add(key+".name", ErrInvalid, "unknown runtime %q (want one of %s)", rt.Name, strings.Join(RuntimeNames, ", "))
			continue
		}
		if rt.Label == "" {
			rt.Label = rt.Name
		} else if err := CheckLabel(rt.Label); err != nil {
			v.add(key+".label", ErrInvalid, "%v", err)
		}
		if j, dup := labels[rt.Label]; dup {
			v.add(key, ErrInvalid, "runtime %q is already defined by runtime[%d]: give one of them a different label", rt.Label, j)
		}
		labels[rt.Label] = i
		if rt.Name == "native" {
			for _, k := range []struct {
				set  bool
				name string
			}{{rt.Image != "", "image"}, {len(rt.Flags) > 0, "flags"}, {rt.Command != "", "command"}} {
				if k.set {
					v.add(key+"."+k.name, ErrInvalid, "native runs no container: remove %s", k.name)
				}
			}
		} else if rt.Image == "" {
			v.add(key, ErrMissing, "image is missing: %s needs an image to run", rt.Name)
		}
		for _, p := range placeholderRe.FindAllString(rt.Image, -1) {
			if p != "{mpi}" {
				v.add(key+".image", ErrInvalid, "unknown placeholder %s in %q (an image may contain {mpi})", p, rt.Image)
			}
		}
		if rt.Layouts == nil {
			if rt.Name == "native" {
				rt.Layouts = []Layout{LayoutNone}
			} else {
				rt.Layouts = []Layout{LayoutPerRank}
			}
		} else {
			if len(rt.Layouts) == 0 {
				v.add(key+".layouts", ErrInvalid, "empty list: name at least one of per-rank, per-node, bind")
			}
			seen := map[Layout]bool{}
			for _, l := range rt.Layouts {
				switch {
				case seen[l]:
					v.add(key+".layouts", ErrInvalid, "%q is listed twice", l)
				case !contains(Layouts, l):
					v.add(key+".layouts", ErrInvalid, "unknown layout %q (want per-rank, per-node or bind)", l)
				}
				seen[l] = true
			}
		}
		v.env(key+".env", rt.Env)
		v.isolation(key, rt)
		v.integrity(key, rt)
	}
	for i, rt := range v.cfg.Runtimes {
		for _, m := range rt.Shm {
			if l := ShmLabel(rt.Label, m); l != rt.Label {
				if j, dup := labels[l]; dup {
					v.add(fmt.Sprintf("runtime[%d].label", j), ErrInvalid, "%q is also the label of runtime[%d]'s %s cells: choose another", l, i, m)
				}
			}
		}
	}
}

// integrity checks a runtime's verify, its pinned image digest, and what
// study.require_signed asks of it.
func (v *validator) integrity(key string, rt *Runtime) {
	s := v.cfg.Study
	signs := rt.Name == "apptainer" || rt.Name == "singularity"
	if rt.Verify != "" && !signs {
		if rt.Name == "native" {
			v.add(key+".verify", ErrInvalid, "native runs no image: remove verify")
		} else {
			v.add(key+".verify", ErrInvalid, "%s images carry no signatures (only Apptainer's SIF files do): pin the image to its digest instead, image = \"NAME@sha256:HEX\"", rt.Name)
		}
	}
	if strings.TrimSpace(rt.Verify) != rt.Verify {
		v.add(key+".verify", ErrInvalid, "%q: leading or trailing spaces in a file name", rt.Verify)
	}
	if i := strings.LastIndex(rt.Image, "@"); i >= 0 && rt.Name != "native" && !strings.Contains(rt.Image[i:], "/") {
		dig := rt.Image[i+1:]
		hexPart, ok := strings.CutPrefix(dig, "sha256:")
		switch {
		case !ok:
			v.add(key+".image", ErrInvalid, "%q: a pinned image is written NAME@sha256:HEX", rt.Image)
		case len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "":
			v.add(key+".image", ErrInvalid, "%q: the digest after sha256: must be 64 lower-case hex digits (\"hpcbench image list\" or \"docker image inspect --format {{.Id}}\" shows it)", rt.Image)
		case i == 0:
			v.add(key+".image", ErrInvalid, "%q: no image name before @sha256:", rt.Image)
		}
	}
	if signs && rt.Verify == "" {
		rt.Verify = s.Keyring
	}
	if signs && rt.Verify == "" && s.RequireSigned {
		v.add(key, ErrMissing, "study.require_signed is set, but %s has no keyring to verify its SIF with: set verify = \"FILE\" here or [study] keyring = \"FILE\"", rt.Label)
	}
}

// isolation checks a runtime's isolation and pass_env, and fills the
// default isolation of container runtimes.
func (v *validator) isolation(key string, rt *Runtime) {
	if rt.Name == "native" {
		if rt.Isolation != "" {
			v.add(key+".isolation", ErrInvalid, "native runs no container: remove isolation")
		}
		if len(rt.PassEnv) > 0 {
			v.add(key+".pass_env", ErrInvalid, "native ranks get the whole environment: remove pass_env")
		}
		if rt.Shm != nil {
			v.add(key+".shm", ErrInvalid, "native runs no container: remove shm")
		}
		return
	}
	if rt.Shm == nil {
		rt.Shm = []string{ShmShared}
	} else if len(rt.Shm) == 0 {
		v.add(key+".shm", ErrInvalid, "empty list: name at least one of %q, %q", ShmShared, ShmIsolated)
	}
	seenShm := map[string]bool{}
	for _, m := range rt.Shm {
		switch {
		case seenShm[m]:
			v.add(key+".shm", ErrInvalid, "%q is listed twice", m)
		case m != ShmShared && m != ShmIsolated:
			v.add(key+".shm", ErrInvalid, "unknown shm mode %q (want %q, the default: the ranks' containers share memory, or %q: none shared, the MPI uses its network path)", m, ShmShared, ShmIsolated)
		}
		seenShm[m] = true
	}
	switch rt.Isolation {
	case "":
		rt.Isolation = IsolationPrivate
	case IsolationPrivate, IsolationHost:
	default:
		v.add(key+".isolation", ErrInvalid, "unknown isolation %q (want %q, the default, or %q: the host's pid namespace, devices and the runtime's default capabilities)",
			rt.Isolation, IsolationPrivate, IsolationHost)
	}
	for _, p := range rt.PassEnv {
		if !passEnvRe.MatchString(p) {
			v.add(key+".pass_env", ErrInvalid, "%q is not a variable name or a glob of one (letters, digits, _ and the wildcards * ? [...], e.g. \"MYAPP_*\")", p)
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			v.add(key+".pass_env", ErrInvalid, "%q: %v", p, err)
		}
	}
}

// passEnvRe is what a pass_env pattern is made of.
var passEnvRe = regexp.MustCompile(`^[A-Za-z0-9_*?\[\]!^-]+$`)

// placeholders are what templates may contain.
var placeholders = []string{"{dir}", "{mpi}", "{name}", "{class}", "{ranks}"}

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

func (v *validator) template(key, t string) {
	for _, p := range placeholderRe.FindAllString(t, -1) {
		if !contains(placeholders, p) {
			v.add(key, ErrInvalid, "unknown placeholder %s in %q (known: %s)", p, t, strings.Join(placeholders, " "))
		}
	}
}

func (v *validator) benchmarks() {
	if len(v.cfg.Benchmarks) == 0 {
		v.add("", ErrMissing, "no [[benchmark]]: add at least one")
		return
	}
	runtimeLabels := map[string]bool{}
	for _, rt := range v.cfg.Runtimes {
		runtimeLabels[rt.Label] = true
	}
	var out []Benchmark
	labels := map[string]int{}
	for i := range v.cfg.Benchmarks {
		b := v.cfg.Benchmarks[i]
		b.source = i
		key := fmt.Sprintf("benchmark[%d]", i)
		set := func(name string, isSet bool) {
			if isSet {
				v.add(key+"."+name, ErrInvalid, "not a key of kind %q", b.Kind)
			}
		}
		switch b.Kind {
		case "":
			v.add(key, ErrMissing, "kind is missing (want npb, hpl, hpcc or command)")
			continue
		case KindNPB:
			set("argv", b.Argv != nil)
			set("n", b.N != 0)
			set("mem_fraction", b.MemFraction != 0)
			set("nb", b.NB != 0)
			set("p", b.P != 0)
			set("q", b.Q != 0)
			if len(b.Classes) == 0 {
				v.add(key, ErrMissing, "classes is missing: list NPB classes, e.g. classes = [\"S\"]")
			}
			for _, c := range b.Classes {
				if !npb.IsClass(c) {
					v.add(key+".classes", ErrInvalid, "unknown NPB class %q (want one of %s)", c, strings.Join(npb.Classes, ", "))
				}
			}
			if b.Binary == "" {
				b.Binary = "{dir}/{mpi}/{name}"
			}
		case KindHPL, KindHPCC:
			set("classes", b.Classes != nil)
			set("argv", b.Argv != nil)
			set("names", b.Names != nil)
			if b.Name == "" {
				b.Name = string(b.Kind)
			}
			if b.Binary == "" {
				b.Binary = map[Kind]string{KindHPL: "xhpl", KindHPCC: "hpcc"}[b.Kind]
			}
			switch {
			case b.N == 0 && b.MemFraction == 0:
				v.add(key, ErrMissing, "give the problem size: n = 2000, or mem_fraction = 0.25 of the memory")
			case b.N != 0 && b.MemFraction != 0:
				v.add(key+".mem_fraction", ErrInvalid, "give n or mem_fraction, not both")
			case b.N < 0:
				v.add(key+".n", ErrInvalid, "%d: must be positive", b.N)
			case b.MemFraction < 0 || b.MemFraction > 0.95:
				v.add(key+".mem_fraction", ErrInvalid, "%g: want a fraction of memory above 0 and at most 0.95", b.MemFraction)
			}
			if b.NB == 0 {
				b.NB = DefaultNB
			} else if b.NB < 1 {
				v.add(key+".nb", ErrInvalid, "%d: must be positive", b.NB)
			}
			if (b.P == 0) != (b.Q == 0) {
				v.add(key, ErrInvalid, "give both p and q, or neither (then the grid is the most square for each rank count)")
			} else if b.P < 0 || b.Q < 0 {
				v.add(key+".p", ErrInvalid, "grid %d x %d: both must be positive", b.P, b.Q)
			}
		case KindCommand:
			set("classes", b.Classes != nil)
			set("names", b.Names != nil)
			set("binary", b.Binary != "")
			set("args", b.Args != nil)
			set("n", b.N != 0)
			set("mem_fraction", b.MemFraction != 0)
			if b.Name == "" {
				v.add(key, ErrMissing, "name is missing: a command benchmark needs a name for its results")
			}
			if len(b.Argv) == 0 || b.Argv[0] == "" {
				v.add(key, ErrMissing, "argv is missing: give the command line, e.g. argv = [\"./osu_latency\"]")
			} else {
				b.Binary = b.Argv[0]
				b.Args = b.Argv[1:]
			}
		default:
			v.add(key+".kind", ErrInvalid, "unknown kind %q (want npb, hpl, hpcc or command)", b.Kind)
			continue
		}
		v.template(key+".binary", b.Binary)
		for _, a := range b.Args {
			v.template(key+".args", a)
		}
		for _, a := range b.Argv {
			v.template(key+".argv", a)
		}
		if b.MPI != nil {
			v.mpiList(key+".mpi", b.MPI, b.Kind == KindCommand)
		}
		if b.PMI != nil {
			v.pmiList(key+".pmi", b.PMI)
		}
		if b.Ranks != nil {
			v.ranksList(key+".ranks", b.Ranks)
		}
		for _, r := range b.Runtimes {
			if !runtimeLabels[r] {
				v.add(key+".runtimes", ErrInvalid, "no [[runtime]] is labelled %q", r)
			}
		}
		if b.Repetitions != nil && *b.Repetitions < 1 {
			v.add(key+".repetitions", ErrInvalid, "%d: need at least 1", *b.Repetitions)
		}
		if b.Warmup != nil && *b.Warmup < 0 {
			v.add(key+".warmup", ErrInvalid, "%d: cannot be negative", *b.Warmup)
		}
		if v.cfg.lines.line[key+".timeout"] > 0 && b.Timeout.Duration <= 0 {
			v.add(key+".timeout", ErrInvalid, "%s: must be positive", b.Timeout)
		}
		v.env(key+".env", b.Env)

		if b.Label != "" {
			if err := CheckLabel(b.Label); err != nil {
				v.add(key+".label", ErrInvalid, "%v", err)
				continue
			}
		}
		names := []string{b.Name}
		if b.Kind != KindNPB && b.Name != "" {
			// The name is the label unless one is given, and {name} in
			// templates.
			if err := CheckLabel(b.Name); err != nil {
				v.add(key+".name", ErrInvalid, "%v", err)
				continue
			}
		}
		if b.Kind == KindNPB {
			switch {
			case b.Name != "" && b.Names != nil:
				v.add(key+".names", ErrInvalid, "give name or names, not both")
				continue
			case b.Names != nil && len(b.Names) == 0:
				v.add(key+".names", ErrInvalid, "empty list: name at least one of %s", strings.Join(npb.Names, ", "))
				continue
			case b.Names != nil:
				if b.Label != "" {
					v.add(key+".label", ErrInvalid, "a label names one benchmark: use name, not names")
				}
				names = b.Names
			case b.Name == "":
				v.add(key, ErrMissing, "name is missing (want one of %s)", strings.Join(npb.Names, ", "))
				continue
			}
			ok := true
			for _, n := range names {
				if !npb.IsName(n) {
					field := ".name"
					if b.Names != nil {
						field = ".names"
					}
					v.add(key+field, ErrInvalid, "unknown NPB benchmark %q (want one of %s)", n, strings.Join(npb.Names, ", "))
					ok = false
				}
			}
			if !ok {
				continue
			}
		}
		for _, n := range names {
			e := b
			e.Name, e.Names = n, nil
			if e.Label == "" {
				e.Label = n
			}
			if j, dup := labels[e.Label]; dup {
				v.add(key, ErrInvalid, "benchmark %q is already defined by benchmark[%d]: give one a different label", e.Label, j)
				continue
			}
			labels[e.Label] = i
			out = append(out, e)
		}
	}
	v.cfg.Benchmarks = out
}

// CPUBindRe matches what [slurm] cpu_bind may be: srun's --cpu-bind type,
// with a map or mask of CPU numbers (decimal or hex, '*' to repeat).
var CPUBindRe = regexp.MustCompile(`^(none|no|cores|threads|sockets|ldoms|rank|rank_ldom|(map_cpu|mask_cpu|map_ldom|mask_ldom):[0-9A-Fa-fx,*]+)$`)

func (v *validator) slurm() {
	s := v.cfg.Slurm
	if s == nil {
		return
	}
	if !v.md.IsDefined("slurm", "nodes") {
		s.Nodes = 1
	} else if s.Nodes < 1 {
		v.add("slurm.nodes", ErrInvalid, "%d: need at least 1 node", s.Nodes)
	}
	if s.Time != "" {
		if err := CheckSlurmTime(s.Time); err != nil {
			v.add("slurm.time", ErrInvalid, "%v", err)
		}
	}
	if s.CPUBind != "" && !CPUBindRe.MatchString(s.CPUBind) {
		v.add("slurm.cpu_bind", ErrInvalid, "%q is not an srun --cpu-bind type (none, cores, threads, sockets, rank, map_cpu:..., mask_cpu:...)", s.CPUBind)
	}
	// These reach the batch scripts: each must be the one word it looks
	// like, never a line break that would end a #SBATCH line or a comment.
	if s.Partition != "" {
		if err := CheckSlurmPartition(s.Partition); err != nil {
			v.add("slurm.partition", ErrInvalid, "%v", err)
		}
	}
	if s.Account != "" {
		if err := CheckSlurmAccount(s.Account); err != nil {
			v.add("slurm.account", ErrInvalid, "%v", err)
		}
	}
	for _, m := range s.Modules {
		if err := CheckModule(m); err != nil {
			v.add("slurm.modules", ErrInvalid, "%v", err)
		}
	}
	for _, f := range s.SbatchFlags {
		if err := CheckSbatchFlag(f); err != nil {
			v.add("slurm.sbatch_flags", ErrInvalid, "%v", err)
		}
	}
	// The prologue is shell the config asks the job to run: it may hold
	// any command, but not characters that hide what it says.
	if err := CheckText(s.Prologue, true); err != nil {
		v.add("slurm.prologue", ErrInvalid, "%v", err)
	}
	for _, r := range v.cfg.Matrix.Ranks {
		if s.Nodes > 1 && r%s.Nodes != 0 {
			v.add("matrix.ranks", ErrInvalid, "%d ranks do not spread evenly over %d nodes", r, s.Nodes)
		}
	}
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
