package runtimes

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Podman runs each rank with "podman run". Podman is daemonless: the
// container's stdio and inherited fds come from the client, so with
// --preserve-fds the PMI socket (fd 3) reaches the rank and PMI uses
// PMI_FD as natively. Containers survive a killed client under conmon, so
// they are named and labelled like Docker's.
//
// On hosts with cgroups v1 or hybrid, crun refuses to run ("cgroups in hybrid
// mode not supported") and runc is used instead. Where root lacks
// CAP_SYS_RESOURCE (some VMs and nested containers), Podman's default
// ulimits cannot be applied, so a containers.conf without them is passed in
// CONTAINERS_CONF unless the user set one.
func newPodman(_, command string) Runtime {
	e := &engine{name: "podman", bin: orDefault(command, "podman"), passFD: true, rootlessUserns: []string{"--userns", "keep-id"}}
	if rt := os.Getenv("HPCBENCH_PODMAN_RUNTIME"); rt != "" {
		e.globalArgs = append(e.globalArgs, "--runtime", rt)
	} else if !unifiedCgroups() {
		e.globalArgs = append(e.globalArgs, "--runtime", "runc")
	}
	if os.Getenv("CONTAINERS_CONF") == "" && isRoot() && !hasCapability(capSysResource) {
		if conf, err := writeContainersConf(); err == nil {
			e.env = append(e.env, "CONTAINERS_CONF="+conf)
		}
	}
	return e
}

func init() { register("podman", newPodman) }

// unifiedCgroups reports whether the host runs cgroups v2 only.
func unifiedCgroups() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

const capSysResource = 24

// hasCapability reports whether this process has capability bit cap in its
// effective set.
func hasCapability(cap uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return true
			}
			return mask&(1<<cap) != 0
		}
	}
	return true
}

// writeContainersConf writes hpcbench's containers.conf (no default
// ulimits) to the user's cache folder and returns its path.
func writeContainersConf() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "hpcbench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "containers.conf")
	const conf = "# written by hpcbench: this host cannot raise rlimits (no CAP_SYS_RESOURCE)\n[containers]\ndefault_ulimits = []\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == conf {
		return path, nil
	}
	return path, os.WriteFile(path, []byte(conf), 0o644)
}
