package pmi

import (
	"bufio"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// relayPair starts a Relay for rank of size whose upstream is one end of a
// socketpair; it returns the relay and the other end, standing for the
// outer process manager's PMI server.
func relayPair(t *testing.T, rank, size int) (*Relay, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	upstream := os.NewFile(uintptr(fds[0]), "relay-upstream")
	serverEnd := os.NewFile(uintptr(fds[1]), "relay-server")
	server, err := net.FileConn(serverEnd)
	serverEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	r, err := NewRelay(upstream, rank, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	served := make(chan error, 1)
	go func() { served <- r.Serve() }()
	t.Cleanup(func() {
		r.Close()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return r, server
}

func readLine(t *testing.T, br *bufio.Reader, what string) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return line
}

// A PMI-1 client over TCP names its rank first; the relay answers that
// itself and passes the rest through both ways.
func TestRelayAnswersInitack(t *testing.T) {
	r, server := relayPair(t, 2, 4)
	env := r.Env()
	if len(env) != 2 || env[0] != "PMI_PORT="+r.Addr() || env[1] != "PMI_ID=2" {
		t.Fatalf("Env() = %q", env)
	}
	client, err := net.Dial("tcp4", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	server.SetDeadline(time.Now().Add(10 * time.Second))
	cr, sr := bufio.NewReader(client), bufio.NewReader(server)

	io.WriteString(client, "cmd=initack pmiid=2\n")
	want := []string{"cmd=initack\n", "cmd=set size=4\n", "cmd=set rank=2\n", "cmd=set debug=0\n"}
	for _, w := range want {
		if got := readLine(t, cr, "initack reply"); got != w {
			t.Fatalf("initack reply line %q, want %q", got, w)
		}
	}
	io.WriteString(client, "cmd=init pmi_version=1 pmi_subversion=1\n")
	if got := readLine(t, sr, "upstream"); got != "cmd=init pmi_version=1 pmi_subversion=1\n" {
		t.Fatalf("upstream got %q, want the init request (and no initack)", got)
	}
	io.WriteString(server, "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n")
	if got := readLine(t, cr, "client"); got != "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n" {
		t.Fatalf("client got %q", got)
	}
}

// A PMI-2 frame has no newline: it goes upstream as it is, at once.
func TestRelayPassesPMI2Frames(t *testing.T) {
	r, server := relayPair(t, 0, 1)
	client, err := net.Dial("tcp4", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	frame := "    36cmd=fullinit;pmirank=0;pmiid=0;"
	io.WriteString(client, frame)
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatalf("upstream: %v", err)
	}
	if string(got) != frame {
		t.Fatalf("upstream got %q, want %q", got, frame)
	}
}

// Closing a relay that no rank reached ends Serve cleanly.
func TestRelayClosedBeforeConnect(t *testing.T) {
	relayPair(t, 0, 1)
}
