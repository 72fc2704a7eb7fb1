package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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

// dockerAPIMaxReply bounds what hpcbench reads of one of the daemon's
// replies (an image's description, the list of a job's containers).
const dockerAPIMaxReply = 16 << 20

// dockerAPIGet asks the daemon on sock for path (with its query) and
// returns the reply's status code and body. It speaks HTTP/1.0 on a
// connection of its own, which the daemon answers unchunked and closes:
// a dozen lines in place of net/http's client, which would add its
// package initialisers (and TLS's) to every launch's start.
func dockerAPIGet(ctx context.Context, sock, path string) (int, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, nil, err
	}
	reply, err := io.ReadAll(io.LimitReader(conn, dockerAPIMaxReply+1))
	if err != nil {
		return 0, nil, err
	}
	if len(reply) > dockerAPIMaxReply {
		return 0, nil, fmt.Errorf("docker API: GET %s: a reply of over %d bytes", path, dockerAPIMaxReply)
	}
	head, body, ok := bytes.Cut(reply, []byte("\r\n\r\n"))
	if !ok {
		return 0, nil, fmt.Errorf("docker API: GET %s: a reply without its end of header", path)
	}
	status, headers, _ := strings.Cut(string(head), "\r\n")
	proto, rest, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(strings.SplitN(rest, " ", 2)[0])
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil {
		return 0, nil, fmt.Errorf("docker API: GET %s: status line %q", path, status)
	}
	for _, h := range strings.Split(headers, "\r\n") {
		name, value, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(name), "Transfer-Encoding") && !strings.EqualFold(strings.TrimSpace(value), "identity") {
			return 0, nil, fmt.Errorf("docker API: GET %s: a reply in %s transfer encoding", path, strings.TrimSpace(value))
		}
	}
	return code, body, nil
}

// dockerAPIImageID is the ID of the image ref (as "docker image inspect
// --format {{.Id}} REF" prints it), asking the daemon on sock.
func dockerAPIImageID(ctx context.Context, sock, ref string) (string, error) {
	code, body, err := dockerAPIGet(ctx, sock, "/images/"+url.PathEscape(ref)+"/json")
	if err != nil {
		return "", err
	}
	if code != 200 {
		return "", fmt.Errorf("docker API: image %s: status %d", ref, code)
	}
	var img struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(body, &img); err != nil {
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
	filters, err := json.Marshal(map[string][]string{"label": {label}})
	if err != nil {
		return nil, err
	}
	code, body, err := dockerAPIGet(ctx, sock, "/containers/json?all=1&filters="+url.QueryEscape(string(filters)))
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("docker API: listing containers: status %d", code)
	}
	var list []struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
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
