package pmi

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestFDLoopClientSlowToRead: a client over PMI_FD that sends many
// requests before reading any reply fills the socket; the fd loop keeps
// what the socket did not take, stops reading that client until it reads,
// and then answers every request, in order.
func TestFDLoopClientSlowToRead(t *testing.T) {
	s, _, clients := startFDServer(t, 1)
	c := clients[0]
	expect(t, c, "cmd=init pmi_version=1 pmi_subversion=1", "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
	expect(t, c, "cmd=put kvsname=kvs_t key=k value=v", "cmd=put_result rc=0 msg=success")
	const requests = 20000 // replies of about 1 MiB, several socket buffers
	wrote := make(chan error, 1)
	go func() {
		var b strings.Builder
		for i := 0; i < requests; i++ {
			if i%2 == 0 {
				b.WriteString("cmd=get kvsname=kvs_t key=k\n")
			} else {
				b.WriteString("cmd=get_maxes\n")
			}
		}
		_, err := c.nc.Write([]byte(b.String()))
		wrote <- err
	}()
	// Wait until the server holds replies the socket did not take.
	for deadline := time.Now().Add(time.Minute); s.loop.attention.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the server never had to keep a reply")
		}
		time.Sleep(time.Millisecond)
	}
	c.nc.SetReadDeadline(time.Now().Add(time.Minute))
	rd := bufio.NewReader(c.nc)
	for i := 0; i < requests; i++ {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		want := "cmd=get_result rc=0 msg=success value=v\n"
		if i%2 == 1 {
			want = fmt.Sprintf("cmd=maxes kvsname_max=%d keylen_max=%d vallen_max=%d\n", kvsNameMax, keyLenMax, valLenMax)
		}
		if line != want {
			t.Fatalf("reply %d: %q, want %q", i, line, want)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// TestFDLoopCutsOffClientThatNeverReads: a client over PMI_FD that keeps
// sending and never reads is cut off once it took none of its replies for
// writeTimeout, is reported disconnected, and the other ranks are served
// meanwhile and after.
func TestFDLoopCutsOffClientThatNeverReads(t *testing.T) {
	old := writeTimeout
	writeTimeout = 300 * time.Millisecond
	defer func() { writeTimeout = old }()
	s, sink, clients := startFDServer(t, 2)
	stuck, other := clients[0], clients[1]
	expect(t, stuck, "cmd=init pmi_version=1 pmi_subversion=1", "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
	expect(t, other, "cmd=init pmi_version=1 pmi_subversion=1", "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
	wrote := make(chan error, 1)
	go func() {
		req := []byte(strings.Repeat("cmd=get_maxes\n", 4096))
		for {
			if _, err := stuck.nc.Write(req); err != nil {
				wrote <- err
				return
			}
		}
	}()
	for deadline := time.Now().Add(time.Minute); s.loop.attention.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the server never had to keep a reply")
		}
		time.Sleep(time.Millisecond)
	}
	expect(t, other, "cmd=get_maxes", fmt.Sprintf("cmd=maxes kvsname_max=%d keylen_max=%d vallen_max=%d", kvsNameMax, keyLenMax, valLenMax))
	select {
	case err := <-wrote:
		t.Logf("the client's write ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the client that never reads was not cut off")
	}
	sink.waitFor(t, "disconnect of rank 0", func() bool { return sink.gone[0] })
	sink.mu.Unlock()
	if n := s.loop.attention.Load(); n != 0 {
		t.Errorf("%d connections still need attention", n)
	}
	expect(t, other, "cmd=get_maxes", fmt.Sprintf("cmd=maxes kvsname_max=%d keylen_max=%d vallen_max=%d", kvsNameMax, keyLenMax, valLenMax))
}

// TestTCPRankMovesToLoop: a TCP connection is served by its own goroutine
// until it names its rank, then by the loop, with nothing lost on the way.
func TestTCPRankMovesToLoop(t *testing.T) {
	s, _ := startTCPServer(t, 2)
	a, b := dial(t, s), dial(t, s)
	if err := a.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	maxes := fmt.Sprintf("cmd=maxes kvsname_max=%d keylen_max=%d vallen_max=%d", kvsNameMax, keyLenMax, valLenMax)
	expect(t, a, "cmd=get_maxes", maxes)
	// The goroutine hands the connection over after its reply.
	for deadline := time.Now().Add(time.Minute); s.loop.conns[0].Load() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("rank 0 is not served by the loop after naming itself")
		}
		time.Sleep(time.Millisecond)
	}
	if s.loop.conns[1].Load() != nil {
		t.Fatal("a connection that named no rank is served by the loop")
	}
	// Rank 0 waits in the barrier on the loop; rank 1, still on its
	// goroutine until its init, completes it.
	a.writeRaw("cmd=barrier_in\n")
	if err := b.pmi1Init(token(t, s, 1)); err != nil {
		t.Fatal(err)
	}
	expect(t, b, "cmd=put kvsname=kvs_t key=k value=v", "cmd=put_result rc=0 msg=success")
	expect(t, b, "cmd=barrier_in", "cmd=barrier_out")
	if got, err := a.readLine(); got != "cmd=barrier_out" {
		t.Fatalf("rank 0 barrier: %q (%v)", got, err)
	}
	expect(t, a, "cmd=get kvsname=kvs_t key=k", "cmd=get_result rc=0 msg=success value=v")
	expect(t, a, "cmd=finalize", "cmd=finalize_ack")
}
