package runtimes

// Docker runs each rank with "docker run". An inherited PMI_FD does not
// cross "docker run" (the daemon, not the client, starts the container), so
// PMI-1/PMI-2 go over TCP on loopback (PMI_PORT, PMI_ID) with the host
// network. Containers outlive a killed client under dockerd: every one is
// named hpcbench-<job>-<rank>, labelled, and removed by Cleanup or, after a
// killed hpcbench, by CleanupLeftovers.
func newDocker(_, command string) Runtime {
	return &engine{name: "docker", bin: orDefault(command, "docker")}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func init() { register("docker", newDocker) }
