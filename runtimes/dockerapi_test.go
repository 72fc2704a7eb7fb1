package runtimes

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerAPIGetReplies: hpcbench's own HTTP/1.0 exchange with a
// daemon's socket takes a plain reply and refuses what it does not read
// (a chunked body, a reply cut before its header's end, a status line of
// another protocol), so that the caller falls back to the docker program.
func TestDockerAPIGetReplies(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	replies := make(chan string, 1)
	requests := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			requests <- strings.TrimSpace(line)
			c.Write([]byte(<-replies))
			c.Close()
		}
	}()
	for _, tc := range []struct {
		reply string
		code  int
		body  string
		err   string
	}{
		{reply: "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Id\":\"x\"}", code: 200, body: `{"Id":"x"}`},
		{reply: "HTTP/1.1 404 Not Found\r\n\r\n{}", code: 404, body: "{}"},
		{reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", err: "chunked"},
		{reply: "HTTP/1.0 200 OK\r\nContent-Type: app", err: "end of header"},
		{reply: "SSH-2.0-x\r\n\r\n", err: "status line"},
	} {
		replies <- tc.reply
		code, body, err := dockerAPIGet(t.Context(), sock, "/images/a%2Fb/json")
		if req := <-requests; req != "GET /images/a%2Fb/json HTTP/1.0" {
			t.Errorf("request line %q", req)
		}
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("reply %q: error %v, want one saying %q", tc.reply, err, tc.err)
		case tc.err == "" && (err != nil || code != tc.code || string(body) != tc.body):
			t.Errorf("reply %q: %d %q %v, want %d %q", tc.reply, code, body, err, tc.code, tc.body)
		}
	}
}
