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
// before it asks its daemon anything, CPU time a rank starting beside it
// on a small machine goes without; the questions every launch asks (the
// image's ID, and after the job which of its containers are left) cost
// the daemon itself about a millisecond. Where hpcbench can tell that the client
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

// dockerAPIClient talks HTTP to the daemon on sock.
func dockerAPIClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
}

// dockerAPIImageID is the ID of the image ref (as "docker image inspect
// --format {{.Id}} REF" prints it), asking the daemon on sock.
func dockerAPIImageID(ctx context.Context, sock, ref string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/"+url.PathEscape(ref)+"/json", nil)
	if err != nil {
		return "", err
	}
	resp, err := dockerAPIClient(sock).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("docker API: image %s: %s", ref, resp.Status)
	}
	var img struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		return "", fmt.Errorf("docker API: image %s: %w", ref, err)
	}
	if img.ID == "" {
		return "", fmt.Errorf("docker API: image %s: no ID", ref)
	}
	return img.ID, nil
}

// dockerAPIContainers lists the IDs of the containers, running or not,
// that carry label (as "docker ps -a -q --filter label=LABEL" does), asking
// the daemon on sock.
func dockerAPIContainers(ctx context.Context, sock, label string) ([]string, error) {
	client := dockerAPIClient(sock)
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
