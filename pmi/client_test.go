package pmi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// testClient speaks the simple wire protocol from the client side, for
// tests and the server load benchmark: raw bytes over a real socket.
type testClient struct {
	nc net.Conn
	rd *bufio.Reader
	// timeout bounds each reply; the load benchmark raises it, since a
	// fence of thousands of clients on a busy machine takes a while.
	timeout time.Duration
}

func dialTest(addr string) (*testClient, error) {
	var nc net.Conn
	var err error
	for try := 0; try < 50; try++ {
		nc, err = net.Dial("tcp4", addr)
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // a full accept backlog
	}
	if err != nil {
		return nil, err
	}
	return newTestClient(nc), nil
}

func newTestClient(nc net.Conn) *testClient {
	return &testClient{nc: nc, rd: bufio.NewReader(nc), timeout: 10 * time.Second}
}

func (c *testClient) close() { c.nc.Close() }

func (c *testClient) writeRaw(s string) error {
	_, err := io.WriteString(c.nc, s)
	return err
}

// line sends a PMI-1 line (newline added) and returns the reply line.
func (c *testClient) line(req string) (string, error) {
	if err := c.writeRaw(req + "\n"); err != nil {
		return "", err
	}
	return c.readLine()
}

func (c *testClient) readLine() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	s, err := c.rd.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// frame sends a PMI-2 frame (body without the length field) and returns
// the reply body.
func (c *testClient) frame(body string) (string, error) {
	if err := c.sendFrame(body); err != nil {
		return "", err
	}
	return c.readFrame()
}

func (c *testClient) sendFrame(body string) error {
	return c.writeRaw(fmt.Sprintf("%-6d%s", len(body), body))
}

func (c *testClient) readFrame() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	field := make([]byte, 6)
	if _, err := io.ReadFull(c.rd, field); err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(field)))
	if err != nil {
		return "", fmt.Errorf("bad length field %q", field)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.rd, body); err != nil {
		return "", err
	}
	return string(body), nil
}

// closeWrite ends what the client sends (a TCP connection or a socket
// of a socketpair), keeping its read side.
func (c *testClient) closeWrite() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// pmi2Init does the PMI-2 opening: the init line, then fullinit naming
// the rank by id (its token over TCP, its number over PMI_FD).
func (c *testClient) pmi2Init(id int) error {
	resp, err := c.line("cmd=init pmi_version=2 pmi_subversion=0")
	if err != nil {
		return err
	}
	if resp != "cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0" {
		return fmt.Errorf("init: %q", resp)
	}
	resp, err = c.frame(fmt.Sprintf("cmd=fullinit;pmirank=%d;threaded=FALSE;", id))
	if err != nil {
		return err
	}
	if !strings.Contains(resp, ";rc=0;") {
		return fmt.Errorf("fullinit: %q", resp)
	}
	return nil
}

// pmi1Init does the PMI-1 opening over TCP: initack with the rank's
// token, then init.
func (c *testClient) pmi1Init(token int) error {
	if err := c.writeRaw(fmt.Sprintf("cmd=initack pmiid=%d\n", token)); err != nil {
		return err
	}
	for i := 0; i < 4; i++ {
		if _, err := c.readLine(); err != nil {
			return err
		}
	}
	resp, err := c.line("cmd=init pmi_version=1 pmi_subversion=1")
	if err != nil {
		return err
	}
	if !strings.HasSuffix(resp, "rc=0") {
		return fmt.Errorf("init: %q", resp)
	}
	return nil
}

// pmi1InitFD does the PMI-1 opening over PMI_FD, where the channel names
// the rank: init only.
func (c *testClient) pmi1InitFD() error {
	resp, err := c.line("cmd=init pmi_version=1 pmi_subversion=1")
	if err != nil {
		return err
	}
	if !strings.HasSuffix(resp, "rc=0") {
		return fmt.Errorf("init: %q", resp)
	}
	return nil
}
