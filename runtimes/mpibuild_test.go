package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeBuild is an MPICH build folder without real libraries: enough for
// the command lines, which only name its paths.
func fakeBuild(t *testing.T, flavour string) *mpibuild.Build {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "mpich-"+flavour)
	if err := os.MkdirAll(filepath.Join(prefix, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, mpibuild.ManifestName), []byte("flavour="+flavour+"\nversion=4.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &mpibuild.Build{Flavour: flavour, Prefix: prefix, LibDir: filepath.Join(prefix, "lib"), Version: "4.0.2"}
}

func wrapOne(t *testing.T, rt Runtime, spec Spec, env []string) (*pmi.RankCommand, Wrapper) {
	t.Helper()
	w, err := rt.Wrapper(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	socket, _ := os.Open(os.DevNull)
	t.Cleanup(func() { socket.Close() })
	job := pmi.Job{ID: "b1", Ranks: 2, PMI: pmi.PMI2, Channel: w.Channel()}
	if w.Channel() == pmi.ChannelTCP {
		env = append(env, "PMI_PORT=127.0.0.1:4000", "PMI_ID=0")
	} else {
		env = append(env, "PMI_FD=3")
	}
	cmd := &pmi.RankCommand{Rank: 0, Argv: []string{"/opt/bench/ep", "S"}, Env: env, Dir: t.TempDir(), ExtraFiles: []*os.File{socket}, CPU: -1}
	if err := w.WrapRank(job, cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Cleanup(job) })
	return cmd, w
}

// TestMPIBuildPerRank: a rank of every container runtime loads the build
// first (LD_LIBRARY_PATH inside the container), from the image where the
// image carries it, bind-mounted read-only where the image says nothing of
// it, and the choices say which.
func TestMPIBuildPerRank(t *testing.T) {
	stubPIDHolders(t)
	b := fakeBuild(t, "pmi2")
	carrying := ImageInfo{Ref: "img", Meta: map[string]string{metaMPIBuilds: "pmi1=/elsewhere," + b.Flavour + "=" + b.Prefix}}
	foreign := ImageInfo{Ref: "img"}
	env := []string{"PATH=/usr/bin:/bin", "PMI_RANK=0", "PMI_SIZE=2", "LD_LIBRARY_PATH=/usr/local/lib"}
	for _, c := range []struct {
		rt     string
		image  ImageInfo
		source string
	}{
		{"docker", carrying, buildFromImage}, {"docker", foreign, buildBound},
		{"podman", carrying, buildFromImage},
		{"apptainer", carrying, buildFromImage}, {"apptainer", foreign, buildBound},
		{"oci", foreign, buildBound},
	} {
		t.Run(c.rt+"/"+c.source, func(t *testing.T) {
			rt, _ := Get(c.rt)
			image := c.image
			if c.rt == "oci" {
				image.Ref = t.TempDir()
			}
			cmd, w := wrapOne(t, rt, Spec{Layout: PerRank, Image: image, MPIBuild: b}, env)
			ch := w.Choices()
			if ch["mpi_build_flavour"] != "pmi2" || ch["mpi_build"] != b.Prefix || ch["mpi_build_source"] != c.source {
				t.Errorf("choices %v: want mpi_build pmi2 from %s", ch, c.source)
			}
			var ldPath string
			var bound bool
			switch c.rt {
			case "apptainer":
				ldPath, _ = envLookup(cmd.Env, "APPTAINERENV_LD_LIBRARY_PATH")
				bound = strings.Contains(strings.Join(flagValues(cmd.Argv, "--bind"), ","), b.Prefix+":"+b.Prefix+":ro")
			case "oci":
				s := readBundle(t, cmd.Argv)
				for _, kv := range s.Process.Env {
					if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
						ldPath = v
					}
				}
				for _, m := range s.Mounts {
					bound = bound || (m.Destination == b.Prefix && slices.Contains(m.Options, "ro"))
				}
			default:
				ldPath, _ = envLookup(cmd.Env, "LD_LIBRARY_PATH")
				if !slices.Contains(flagValues(cmd.Argv, "-e"), "LD_LIBRARY_PATH") {
					t.Errorf("argv %q does not forward LD_LIBRARY_PATH", cmd.Argv)
				}
				bound = slices.Contains(flagValues(cmd.Argv, "-v"), b.Prefix+":"+b.Prefix+":ro")
			}
			if !strings.HasPrefix(ldPath, b.LibDir) {
				t.Errorf("LD_LIBRARY_PATH inside = %q, want it to start with %s", ldPath, b.LibDir)
			}
			if bound != (c.source == buildBound) {
				t.Errorf("prefix bind-mounted read-only = %v, want %v (argv %q)", bound, c.source == buildBound, cmd.Argv)
			}
		})
	}
}

func readBundle(t *testing.T, argv []string) specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(flagValues(argv, "--bundle")[0], "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMPIBuildMissingFromImage: a store image that does not carry the
// build asked for is refused rather than run with its own MPICH.
func TestMPIBuildMissingFromImage(t *testing.T) {
	b := fakeBuild(t, "pmix")
	for _, name := range []string{"docker", "podman", "apptainer", "oci", "charliecloud"} {
		rt, _ := Get(name)
		image := ImageInfo{Ref: t.TempDir(), Meta: map[string]string{metaMPIBuilds: "none", "store": "/x"}}
		_, err := rt.Wrapper(context.Background(), Spec{Layout: PerRank, Image: image, MPIBuild: b})
		if !errors.Is(err, ErrMPIBuildMissing) {
			t.Errorf("%s: Wrapper with an image lacking the build: %v, want ErrMPIBuildMissing", name, err)
		}
		cmd := &pmi.RankCommand{Argv: []string{"/usr/bin/hpcbench", "launch", "--", "/opt/bench/ep"}, Dir: t.TempDir()}
		if err := rt.WrapNode(context.Background(), Spec{Layout: PerNode, Image: image, MPIBuild: b}, pmi.Job{ID: "m"}, cmd); !errors.Is(err, ErrMPIBuildMissing) {
			t.Errorf("%s: WrapNode with an image lacking the build: %v, want ErrMPIBuildMissing", name, err)
		}
	}
}

// TestMPIBuildEnv: the build's lib folder goes first, once.
func TestMPIBuildEnv(t *testing.T) {
	b := &mpibuild.Build{LibDir: "/opt/x/lib"}
	for _, c := range []struct{ in, want string }{
		{"", "/opt/x/lib"}, {"/a:/b", "/opt/x/lib:/a:/b"}, {"/opt/x/lib:/a", "/opt/x/lib:/a"},
	} {
		env := []string{"A=1"}
		if c.in != "" {
			env = append(env, "LD_LIBRARY_PATH="+c.in)
		}
		got := withBuildEnv(env, b)
		if v, _ := envLookup(got, "LD_LIBRARY_PATH"); v != c.want || !slices.Contains(got, "A=1") {
			t.Errorf("withBuildEnv(%q) = %q, want LD_LIBRARY_PATH=%s", env, got, c.want)
		}
	}
	if got := withBuildEnv([]string{"A=1"}, nil); !slices.Equal(got, []string{"A=1"}) {
		t.Errorf("no build changed the environment: %q", got)
	}
}
