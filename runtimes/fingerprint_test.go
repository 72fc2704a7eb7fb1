package runtimes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionRe(t *testing.T) {
	for in, want := range map[string]string{
		"Docker version 28.2.2, build e6534b4": "28.2.2",
		"podman version 4.3.1":                 "4.3.1",
		"apptainer version 1.4.5":              "1.4.5",
		"runc version 1.1.5+ds1":               "1.1.5+ds1",
		"crun version 1.8.1":                   "1.8.1",
		"singularity-ce version 4.1.0-jammy":   "4.1.0-jammy",
	} {
		if got := VersionNumber(in); got != want {
			t.Errorf("version of %q = %q, want %q", in, got, want)
		}
	}
}

// fakeEngine writes a stand-in for a Docker client (runtime.command): it
// tells its version, and its engine answers when up is true.
func fakeEngine(t *testing.T, up bool) string {
	t.Helper()
	engine := "echo 'Cannot connect to the Docker daemon' >&2; exit 1"
	if up {
		engine = "echo 27.0.1"
	}
	script := "#!/bin/sh\ncase \"$1\" in\n--version) echo 'Docker version 28.2.2, build x';;\nversion) " + engine + ";;\nesac\n"
	bin := filepath.Join(t.TempDir(), "fake-docker")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestFingerprintEngine(t *testing.T) {
	rt, err := GetCommand("docker", fakeEngine(t, true))
	if err != nil {
		t.Fatal(err)
	}
	fp := rt.Fingerprint(t.Context())
	if !fp.Found || !fp.Usable || !fp.EngineAnswers || fp.Version != "28.2.2" || fp.Engine != "27.0.1" || fp.Detail != "engine 27.0.1 answers" || fp.Err != nil {
		t.Errorf("engine up: %+v", fp)
	}
	if v, err := rt.Detect(t.Context()); err != nil || v != "27.0.1" {
		t.Errorf("Detect with the engine up = %q, %v; want the engine's version", v, err)
	}

	rt, _ = GetCommand("docker", fakeEngine(t, false))
	fp = rt.Fingerprint(t.Context())
	if !fp.Found || fp.Usable || fp.EngineAnswers || !errors.Is(fp.Err, ErrEngineNotRunning) || !errors.Is(fp.Err, ErrUnavailable) || !strings.Contains(fp.Detail, "Cannot connect") || fp.Hint == "" {
		t.Errorf("engine down: %+v", fp)
	}
	if _, err := rt.Detect(t.Context()); !errors.Is(err, ErrEngineNotRunning) {
		t.Errorf("Detect with the engine down: %v, want ErrEngineNotRunning", err)
	}

	rt, _ = GetCommand("docker", "/nonexistent/docker")
	fp = rt.Fingerprint(t.Context())
	if fp.Found || fp.Usable || !errors.Is(fp.Err, ErrNotInstalled) || !strings.Contains(fp.Err.Error(), "/nonexistent/docker") || fp.Hint == "" {
		t.Errorf("missing program: %+v (%v)", fp, fp.Err)
	}
}

// TestCapabilitiesDeclared: every registered runtime declares its layouts,
// and its image capabilities agree with the interfaces it implements.
func TestCapabilitiesDeclared(t *testing.T) {
	for _, name := range Names() {
		rt, _ := Get(name)
		caps := rt.Capabilities()
		if len(caps.Layouts) == 0 || !caps.Supports(PerRank) {
			t.Errorf("%s: layouts %v, want at least per-rank", name, caps.Layouts)
		}
		if _, ok := rt.(Importer); ok != caps.ImportsImages {
			t.Errorf("%s: implements Importer %v, declares ImportsImages %v", name, ok, caps.ImportsImages)
		}
		if _, ok := rt.(LeftoverCleaner); ok != caps.Outlives {
			t.Errorf("%s: implements LeftoverCleaner %v, declares Outlives %v", name, ok, caps.Outlives)
		}
		if (len(caps.Programs) > 0) != caps.TakesCommand {
			t.Errorf("%s: programs %v but TakesCommand %v", name, caps.Programs, caps.TakesCommand)
		}
	}
	nat, _ := Get("native")
	if nat.Capabilities().Supports(Bind) {
		t.Error("native declares the bind layout, which needs a container")
	}
}
