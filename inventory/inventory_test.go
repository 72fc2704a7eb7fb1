package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
)

func TestDetectThisNode(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"mpich/ep", "mpich/cg", "openmpi/is", "bt.C.x", "notes.txt"} {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	inv := Detect(context.Background(), Options{NPBDirs: []string{dir}, Timeout: 5 * time.Second})
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Detect took %s; probes should run concurrently under a 5 s timeout", took)
	}
	if inv.Host.Cores < 1 || inv.Host.Hostname == "" || inv.Host.Kernel == "" || inv.Host.MemoryBytes == 0 {
		t.Errorf("host incomplete: %+v", inv.Host)
	}
	if len(inv.MPI) != 2 || inv.MPI[0].Name != "mpich" || inv.MPI[1].Name != "openmpi" {
		t.Fatalf("MPI entries = %+v, want mpich then openmpi", inv.MPI)
	}
	for _, m := range inv.MPI {
		if !m.Found && m.Hint == "" {
			t.Errorf("%s missing without a hint", m.Name)
		}
	}
	var got []string
	for _, b := range inv.Benchmarks.NPB {
		if strings.HasPrefix(b.Path, dir) {
			got = append(got, strings.TrimPrefix(b.Path, dir+"/")+":"+b.Name+":"+b.Class+":"+b.MPI)
		}
	}
	want := []string{"bt.C.x:bt:C:", "mpich/cg:cg::mpich", "mpich/ep:ep::mpich", "openmpi/is:is::openmpi"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NPB binaries = %v, want %v", got, want)
	}
	// JSON round trip: the inventory is stored as provenance.
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var back Inventory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Host != inv.Host || len(back.Runtimes) != len(inv.Runtimes) {
		t.Errorf("JSON round trip changed the inventory")
	}
	var out bytes.Buffer
	if err := WriteReport(&out, inv); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Host", "MPI", "PMI", "Runtimes", "Slurm", "Benchmarks", "mpich", "openmpi", "docker", "native"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

// TestMPICHOnThisNode checks the detection against Debian 12's MPICH,
// which speaks PMI-1 only.
func TestMPICHOnThisNode(t *testing.T) {
	testenv.LookPath(t, "mpichversion", "apt-get install mpich libmpich-dev")
	m := (&prober{timeout: 5 * time.Second}).mpich(context.Background())
	if !m.Found || m.Version == "" || m.Library == "" {
		t.Fatalf("mpich = %+v", m)
	}
	if strings.HasPrefix(m.Version, "4.0.") && !reflect.DeepEqual(m.PMI, []pmi.Flavour{pmi.PMI1}) {
		t.Errorf("MPICH %s PMI = %v (%s), want [pmi1]", m.Version, m.PMI, m.PMIEvidence)
	}
}

func TestOpenMPIOnThisNode(t *testing.T) {
	testenv.LookPath(t, "ompi_info", "apt-get install openmpi-bin libopenmpi-dev")
	m := (&prober{timeout: 10 * time.Second}).openMPI(context.Background())
	if !m.Found || m.Version == "" {
		t.Fatalf("openmpi = %+v", m)
	}
	if strings.HasPrefix(m.Version, "4.") && !reflect.DeepEqual(m.PMI, []pmi.Flavour{pmi.PMIx}) {
		t.Errorf("Open MPI %s PMI = %v (%s), want [pmix]", m.Version, m.PMI, m.PMIEvidence)
	}
}

func TestMPICHPMIFromStrings(t *testing.T) {
	tests := []struct {
		content string
		want    []pmi.Flavour
	}{
		{"\x00cmd=init pmi_version=%d\x00", []pmi.Flavour{pmi.PMI1}},
		{"\x00cmd=init pmi_version=%d\x00cmd=fullinit;\x00", []pmi.Flavour{pmi.PMI1, pmi.PMI2}},
		{"\x00cmd=init pmi_version\x00PMIx_Init\x00", []pmi.Flavour{pmi.PMI1, pmi.PMIx}},
		{"\x00nothing\x00", nil},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "libmpich.so.12")
		if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ev := mpichPMI(p)
		if !reflect.DeepEqual(got, tt.want) || ev == "" {
			t.Errorf("mpichPMI(%q) = %v, %q; want %v", tt.content, got, ev, tt.want)
		}
	}
}

func TestParseOMPIInfo(t *testing.T) {
	out := "package:Open MPI Debian\nompi:version:full:4.1.4\n" +
		"mca:pmix:ext3x:version:\"mca:2.1.0\"\nmca:pmix:ext3x:version:\"api:2.0.0\"\n" +
		"mca:pmix:isolated:version:\"mca:2.1.0\"\nmca:pmix:flux:version:\"mca:2.1.0\"\nmca:ess:pmi:version:\"mca:2.1.0\"\n"
	v, comps := parseOMPIInfo(out)
	if v != "4.1.4" || !reflect.DeepEqual(comps, []string{"ext3x", "isolated", "flux"}) {
		t.Fatalf("parseOMPIInfo = %q, %v", v, comps)
	}
	tests := []struct {
		version string
		comps   []string
		want    []pmi.Flavour
	}{
		{"4.1.4", []string{"ext3x", "isolated", "flux"}, []pmi.Flavour{pmi.PMIx}},
		{"4.0.3", []string{"pmix3x", "s1", "s2"}, []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx}},
		{"5.0.3", nil, []pmi.Flavour{pmi.PMIx}},
		{"4.1.4", []string{"isolated"}, nil},
	}
	for _, tt := range tests {
		got, _ := openMPIPMI(tt.version, tt.comps)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("openMPIPMI(%s, %v) = %v, want %v", tt.version, tt.comps, got, tt.want)
		}
	}
}

func TestParseHostFiles(t *testing.T) {
	if got := cpuModel("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotal("MemTotal:       24578344 kB\nMemFree:  1 kB\n"); got != 24578344*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if got := osPrettyName("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"); got != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("osPrettyName = %q", got)
	}
}

func TestParseMPIPlugins(t *testing.T) {
	out := "MPI plugin types are...\n\tnone\n\tpmi2\n\tpmix\nspecific pmix plugin versions available: pmix_v4\n"
	if got := parseMPIPlugins(out); !reflect.DeepEqual(got, []string{"none", "pmi2", "pmix"}) {
		t.Errorf("parseMPIPlugins = %v", got)
	}
	out = "srun: MPI plugin types are...\nsrun: none\nsrun: pmi2\n"
	if got := parseMPIPlugins(out); !reflect.DeepEqual(got, []string{"none", "pmi2"}) {
		t.Errorf("parseMPIPlugins (prefixed) = %v", got)
	}
}

func TestRuntimeStatus(t *testing.T) {
	inv := &Inventory{Runtimes: []Runtime{
		{Component: Component{Name: "docker", Found: true, Version: "28.2.2", Hint: "start the engine"}},
		{Component: Component{Name: "podman", Found: true, Version: "4.3.1"}, Usable: true},
		{Component: Component{Name: "apptainer", Hint: "build it"}},
		{Component: Component{Name: "singularity", Found: true, Version: "3.11"}, Usable: true},
		{Component: Component{Name: "crun", Hint: "apt-get install crun"}},
		{Component: Component{Name: "runc", Found: true, Version: "1.1.5"}, Usable: true},
	}}
	tests := []struct {
		name, binary string
		err          error
	}{
		{"native", "", nil},
		{"docker", "", ErrEngineNotRunning},
		{"podman", "podman", nil},
		{"apptainer", "singularity", nil},
		{"oci", "runc", nil},
		{"lxc", "", ErrUnknownRuntime},
	}
	for _, tt := range tests {
		bin, _, err := inv.RuntimeStatus(tt.name)
		if bin != tt.binary || !errorsIs(err, tt.err) {
			t.Errorf("RuntimeStatus(%s) = %q, %v; want %q, %v", tt.name, bin, err, tt.binary, tt.err)
		}
	}
	empty := &Inventory{Runtimes: []Runtime{{Component: Component{Name: "docker", Hint: "apt-get install docker.io"}}}}
	if _, _, err := empty.RuntimeStatus("docker"); !errorsIs(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get") {
		t.Errorf("missing docker: %v, want ErrNotInstalled with the hint", err)
	}
}

func TestPMIOfFallsBackToDebian(t *testing.T) {
	var inv *Inventory
	if fl, det := inv.PMIOf("mpich"); det || !reflect.DeepEqual(fl, []pmi.Flavour{pmi.PMI1}) {
		t.Errorf("nil inventory mpich = %v %v", fl, det)
	}
	inv = &Inventory{MPI: []MPI{{Component: Component{Name: "mpich", Found: true}, PMI: []pmi.Flavour{pmi.PMI1, pmi.PMI2}}}}
	if fl, det := inv.PMIOf("mpich"); !det || len(fl) != 2 {
		t.Errorf("detected mpich = %v %v", fl, det)
	}
	if fl, det := inv.PMIOf("openmpi"); det || !reflect.DeepEqual(fl, []pmi.Flavour{pmi.PMIx}) {
		t.Errorf("unknown openmpi = %v %v", fl, det)
	}
}

func errorsIs(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}

// TestRuntimeStatusCommand: a config's runtime.command is what is asked
// about, whether the inventory lists that program or not.
func TestRuntimeStatusCommand(t *testing.T) {
	if ErrUnknownRuntime != runtimes.ErrUnknownRuntime {
		t.Fatal("inventory and runtimes have different ErrUnknownRuntime values")
	}
	fake := filepath.Join(t.TempDir(), "fake-docker")
	script := "#!/bin/sh\ncase \"$1\" in\n--version) echo 'Docker version 28.2.2, build x';;\nversion) echo 27.0.1;;\nesac\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	inv := &Inventory{Runtimes: []Runtime{
		{Component: Component{Name: "docker", Hint: "apt-get install docker.io"}},
		{Component: Component{Name: "podman", Found: true, Version: "4.3.1", Path: "/usr/bin/podman"}, Usable: true},
	}}
	if _, _, err := inv.RuntimeStatus("docker"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("default docker: %v, want ErrNotInstalled", err)
	}
	if bin, v, err := inv.RuntimeStatusCommand("docker", fake); err != nil || bin != fake || v != "28.2.2" {
		t.Errorf("docker with runtime.command %s = %q, %q, %v; want it usable", fake, bin, v, err)
	}
	if bin, _, err := inv.RuntimeStatusCommand("podman", "/usr/bin/podman"); err != nil || bin != "podman" {
		t.Errorf("podman by its listed path = %q, %v; want the listed entry", bin, err)
	}
	if _, _, err := inv.RuntimeStatusCommand("docker", "/nonexistent/docker"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("docker with a missing runtime.command: %v, want ErrNotInstalled", err)
	}
	if _, _, err := inv.RuntimeStatusCommand("native", "/bin/true"); err == nil {
		t.Error("native with a runtime.command accepted")
	}
	if _, _, err := inv.RuntimeStatusCommand("lxc", ""); !errors.Is(err, ErrUnknownRuntime) || !errors.Is(err, runtimes.ErrUnknownRuntime) {
		t.Errorf("lxc: %v, want ErrUnknownRuntime", err)
	}
}

// writeScript writes an executable shell script named name into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProbeTimeoutIsUnknown: a version tool that does not answer in time
// leaves its MPI Unknown (never "not installed"), after one more try with
// a longer limit; a tool that answers on that second try is found.
func TestProbeTimeoutIsUnknown(t *testing.T) {
	fake := t.TempDir()
	tries := filepath.Join(fake, "tries")
	// MPICH's version tool and its launcher never answer in time.
	writeScript(t, fake, "mpichversion", "echo x >> "+tries+"\nexec sleep 30\n")
	writeScript(t, fake, "mpiexec.mpich", "exec sleep 30\n")
	// Open MPI's answers late: after the first limit, within the second.
	writeScript(t, fake, "ompi_info", "sleep 0.8\necho ompi:version:full:4.1.4\necho mca:pmix:ext3x:version:mca:2.1.0\n")
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))

	const limit = 500 * time.Millisecond
	inv := Detect(context.Background(), Options{Timeout: limit})
	m := inv.FindMPI("mpich")
	if !m.Unknown || m.Found {
		t.Fatalf("mpich whose probes time out = %+v; want Unknown, not found", m.Component)
	}
	if !strings.Contains(m.Detail, "timed out") || !strings.Contains(m.Hint, "detect again") {
		t.Errorf("mpich detail %q, hint %q: want the timeout and what to do", m.Detail, m.Hint)
	}
	if err := m.UnknownError(); !errors.Is(err, ErrProbeTimedOut) || errors.Is(err, ErrNotInstalled) {
		t.Errorf("UnknownError = %v; want ErrProbeTimedOut", err)
	}
	if b, _ := os.ReadFile(tries); strings.Count(string(b), "x") != 2 {
		t.Errorf("mpichversion ran %d times; want 2 (one retry)", strings.Count(string(b), "x"))
	}
	if o := inv.FindMPI("openmpi"); !o.Found || o.Unknown || o.Version != "4.1.4" {
		t.Errorf("openmpi answering on the retry = %+v; want found 4.1.4", o.Component)
	}
	if got := inv.Unknown(); !slices.Contains(got, "mpich") || slices.Contains(got, "openmpi") {
		t.Errorf("Unknown() = %v; want mpich and not openmpi", got)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, inv); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s+mpich\s+unknown\b`).Match(out.Bytes()) {
		t.Errorf("doctor's report does not say mpich is unknown:\n%s", out.String())
	}

	// A runtime whose engine does not answer in time is unknown too.
	slowDocker := writeScript(t, fake, "slow-docker", "case \"$1\" in\n--version) echo 'Docker version 28.2.2, build x';;\n*) exec sleep 30;;\nesac\n")
	inv = &Inventory{probed: &commandProbes{timeout: limit}}
	_, _, err := inv.RuntimeStatusCommand("docker", slowDocker)
	if !errors.Is(err, ErrProbeTimedOut) || errors.Is(err, ErrNotInstalled) {
		t.Errorf("docker whose engine does not answer in time: %v; want ErrProbeTimedOut", err)
	}
	if len(inv.probed.seen) != 0 {
		t.Error("a timed-out fingerprint was remembered; it must be asked again")
	}
}

// Each flavour's evidence names that flavour's own client, so that a PMIx
// cell is not skipped citing the PMI-2 string.
func TestMPICHFlavourEvidence(t *testing.T) {
	p := filepath.Join(t.TempDir(), "libmpich.so.12")
	if err := os.WriteFile(p, []byte("\x00cmd=init pmi_version=%d\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := MPI{Component: Component{Name: "mpich", Found: true}}
	m.PMI, m.PMIEvidence = mpichPMI(p)
	m.FlavourEvidence = mpichFlavourEvidence(p)
	if ev := m.EvidenceFor(pmi.PMIx); !strings.Contains(ev, "PMIx_Init") || strings.Contains(ev, "fullinit") {
		t.Errorf("PMIx evidence %q", ev)
	}
	if ev := m.EvidenceFor(pmi.PMI2); !strings.Contains(ev, "fullinit") || strings.Contains(ev, "PMIx") {
		t.Errorf("PMI-2 evidence %q", ev)
	}
	// With builds for PMI-1 and PMI-2 only, PMIx's evidence says there is
	// no build for it, and what Debian's library lacks for it.
	inv := &Inventory{MPI: []MPI{m}, MPICHBuilds: []MPICHBuild{
		{Build: mpibuild.Build{Flavour: "pmi1", Prefix: "/opt/x/mpich-pmi1"}, Usable: true},
		{Build: mpibuild.Build{Flavour: "pmi2", Prefix: "/opt/x/mpich-pmi2"}, Usable: true},
	}}
	inv.applyMPICHBuilds()
	ev := inv.FindMPI("mpich").EvidenceFor(pmi.PMIx)
	if !strings.Contains(ev, "no usable hpcbench MPICH build for pmix") || !strings.Contains(ev, "PMIx_Init") || strings.Contains(ev, "fullinit") {
		t.Errorf("PMIx evidence with builds: %q", ev)
	}
}
