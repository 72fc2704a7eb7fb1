package runtimes

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Docker's client is a program of 40 MB that takes 15 to 50 ms to start
// before it asks its daemon anything; the question a job's cleanup asks
// after every job (which of its containers are left) costs the daemon
// itself about a millisecond. Where hpcbench can tell that the client
// would ask the daemon on its local socket, it asks the daemon there
// itself (Docker's HTTP API, unversioned paths); anything else, or any
// failure, goes through the client as before.

// dockerAPISocket is the unix socket of the daemon the docker program e
// runs would ask, or "" where that is not certain: another program than
// "docker" (a config's runtime.command), DOCKER_HOST naming no unix
// socket, a Docker context (DOCKER_CONTEXT, or one chosen in the
// client's config.json).
func (e *engine) dockerAPISocket() string {
	if e.name != "docker" || e.bin != "docker" || len(e.globalArgs) > 0 || os.Getenv("DOCKER_CONTEXT") != "" {
		return ""
	}
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		rest, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			return ""
		}
		sock = rest
	}
	config := os.Getenv("DOCKER_CONFIG")
	if config == "" {
		home, _ := os.UserHomeDir()
		config = filepath.Join(home, ".docker")
	}
	if b, err := os.ReadFile(filepath.Join(config, "config.json")); err == nil {
		var c struct {
			CurrentContext string `json:"currentContext"`
		}
		if json.Unmarshal(b, &c) != nil || (c.CurrentContext != "" && c.CurrentContext != "default") {
			return ""
		}
	} else if !os.IsNotExist(err) {
		return ""
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return ""
	}
	return sock
}

// dockerAPIContainers lists the IDs of the containers, running or not,
// that carry label (as "docker ps -a -q --filter label=LABEL" does), asking
// the daemon on sock.
func dockerAPIContainers(ctx context.Context, sock, label string) ([]string, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
	filters, err := json.Marshal(map[string][]string{"label": {label}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/json?all=1&filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("docker API: listing containers: %s", resp.Status)
	}
	var list []struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("docker API: listing containers: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		if c.ID == "" {
			return nil, fmt.Errorf("docker API: listing containers: an entry without an ID")
		}
		ids = append(ids, c.ID)
	}
	return ids, nil
}
