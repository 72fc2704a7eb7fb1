package pmi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	m, err := parseLine([]byte("cmd=put kvsname=kvs_1 key=-bcast-1-0 value=2F64=x"))
	if err != nil {
		t.Fatal(err)
	}
	want := &message{cmd: "put", keys: []string{"kvsname", "key", "value"}, vals: []string{"kvs_1", "-bcast-1-0", "2F64=x"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
	for _, bad := range []string{"", "put key=x", "cmd= key=x", "cmd=put key", "cmd=put =x", "key=x cmd=put"} {
		if _, err := parseLine([]byte(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: error %v, want ErrProtocol", bad, err)
		}
	}
}

func TestParseFrameEscaping(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string // key, value pairs after cmd
	}{
		{"cmd=kvs-put;key=a;value=x;;y;", []string{"key", "a", "value", "x;y"}},
		{"cmd=kvs-put;key=a;value=ends;;;", []string{"key", "a", "value", "ends;"}},
		{"cmd=kvs-put;key=a;value=;;;;;", []string{"key", "a", "value", ";;"}},
		{"cmd=kvs-put;key=a;value=", []string{"key", "a", "value", ""}},
		{"cmd=kvs-put;key=a;value=b=c;", []string{"key", "a", "value", "b=c"}},
		{"cmd=finalize;", nil},
	} {
		m, err := parseFrame([]byte(tc.body))
		if err != nil {
			t.Errorf("%q: %v", tc.body, err)
			continue
		}
		var got []string
		for i, k := range m.keys {
			got = append(got, k, m.vals[i])
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.body, got, tc.want)
		}
	}
	for _, bad := range []string{"", "key=a;", "cmd=;", "cmd=x;=y;", "cmd=x;novalue;", ";;;"} {
		if _, err := parseFrame([]byte(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: error %v, want ErrProtocol", bad, err)
		}
	}
}

func TestFormatFrame(t *testing.T) {
	got := string(formatFrame(reply("info-getnodeattr-response").add("rc", "0").add("value", "/dev/shm/a;b")))
	want := "55    cmd=info-getnodeattr-response;rc=0;value=/dev/shm/a;;b;"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, field := range []string{"1     ", "  12  ", "000059", "65536 "} {
		if _, err := parseFrameLength([]byte(field)); err != nil {
			t.Errorf("%q: %v", field, err)
		}
	}
	for _, field := range []string{"      ", "-1    ", "+5    ", "1 2   ", "65537 ", "abcdef"} {
		if _, err := parseFrameLength([]byte(field)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: error %v, want ErrProtocol", field, err)
		}
	}
}

// FuzzParseMessage feeds arbitrary bytes to both parsers. Neither may
// panic; whatever parses must survive a format-and-parse round trip
// unchanged (PMI-2 always; PMI-1 when no value holds a space, which PMI-1
// cannot carry).
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{
		"cmd=init pmi_version=1 pmi_subversion=1",
		"cmd=put kvsname=kvs_1_0 key=-bcast-1-0 value=2F6465762F73",
		"cmd=initack pmiid=3",
		"cmd=fullinit;pmijobid=kvs_1;pmirank=0;threaded=FALSE;",
		"cmd=info-putnodeattr;key=shmseg;value=/dev/shm/test;;with;;semicolons;",
		"cmd=kvs-get;jobid=kvs_1;srcid=1;key=card-1;",
		"cmd=abort;isworld=TRUE;msg=bye;;;",
		"59    cmd=x;",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := parseFrame(data); err == nil {
			framed := formatFrame(m)
			n, err := parseFrameLength(framed[:pmi2LengthField])
			if err != nil && len(framed)-pmi2LengthField <= maxMessage {
				t.Fatalf("length field of %q: %v", framed, err)
			}
			if err == nil && n != len(framed)-pmi2LengthField {
				t.Fatalf("length field %d for a body of %d", n, len(framed)-pmi2LengthField)
			}
			again, err := parseFrame(framed[pmi2LengthField:])
			if err != nil || !reflect.DeepEqual(normalise(m), normalise(again)) {
				t.Fatalf("PMI-2 round trip of %q: %+v then %+v (%v)", data, m, again, err)
			}
		} else if !errors.Is(err, ErrProtocol) {
			t.Fatalf("parseFrame error %v is not ErrProtocol", err)
		}
		if m, err := parseLine(data); err == nil {
			line := formatLine(m)
			if bytes.ContainsAny(line[:len(line)-1], " \t\n\r\v\f") && containsSpaceInValue(m) {
				return
			}
			again, err := parseLine(line[:len(line)-1])
			if err != nil || !reflect.DeepEqual(normalise(m), normalise(again)) {
				t.Fatalf("PMI-1 round trip of %q: %+v then %+v (%v)", data, m, again, err)
			}
		} else if !errors.Is(err, ErrProtocol) {
			t.Fatalf("parseLine error %v is not ErrProtocol", err)
		}
	})
}

func normalise(m *message) *message {
	out := &message{cmd: m.cmd}
	for i, k := range m.keys {
		out.add(k, m.vals[i])
	}
	if out.keys == nil {
		out.keys, out.vals = []string{}, []string{}
	}
	return out
}

func containsSpaceInValue(m *message) bool {
	if bytes.ContainsAny([]byte(m.cmd), " \t\n\r\v\f") {
		return true
	}
	for i := range m.keys {
		if bytes.ContainsAny([]byte(m.keys[i]+m.vals[i]), " \t\n\r\v\f") {
			return true
		}
	}
	return false
}

// FuzzServeConnection feeds arbitrary bytes to a served connection of a
// one-rank job, both to one served by a goroutine of its own (TCP) and to
// one served by the fd loop (PMI_FD): the server must neither panic nor
// hang, whatever the client sends.
func FuzzServeConnection(f *testing.F) {
	f.Add([]byte("cmd=init pmi_version=1 pmi_subversion=1\ncmd=barrier_in\ncmd=put kvsname=kvs_f key=a value=b\ncmd=get key=a\ncmd=finalize\n"))
	f.Add([]byte("cmd=init pmi_version=2 pmi_subversion=0\n30    cmd=fullinit;pmirank=0;a=b;14    cmd=kvs-fence;"))
	f.Add([]byte("cmd=init pmi_version=2 pmi_subversion=0\n24    cmd=fullinit;pmirank=0;42    cmd=info-getnodeattr;key=shmseg;wait=TRUE;"))
	f.Add([]byte("cmd=initack pmiid=0\ncmd=abort exitcode=3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, loop := range []bool{false, true} {
			s, err := newSimpleServer(backendConfig{Job: Job{Ranks: 1, Channel: ChannelFD}, KVS: "kvs_f", Events: &recordingSink{}})
			if err != nil {
				t.Fatal(err)
			}
			var client net.Conn
			if loop {
				setup, err := s.rankSetup(0)
				if err != nil {
					t.Fatal(err)
				}
				client, err = net.FileConn(setup.Files[0])
				s.rankStarted(0)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var server net.Conn
				client, server = net.Pipe()
				s.mu.Lock()
				c := s.newConnLocked(server, 0)
				s.mu.Unlock()
				s.wg.Add(1)
				go c.serve()
			}
			go io.Copy(io.Discard, client)
			client.SetWriteDeadline(time.Now().Add(2 * time.Second))
			client.Write(data)
			done := make(chan struct{})
			go func() { s.close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("server did not close (fd loop %v)", loop)
			}
			client.Close()
		}
	})
}

// TestFrameSlack: MPICH 4.0.2's PMI-2 client counts its 6-byte length field
// in the length it sends (frames as strace shows them); Slurm's libpmi2 and
// clients that end without ';' do not.
func TestFrameSlack(t *testing.T) {
	for _, tc := range []struct {
		first string
		want  int
	}{
		{"cmd=fullinit;pmijobid=kvs_1;pmirank=0;threaded=FALSE;\x00\x00\x00\x00\x00\x00", 6},
		{"cmd=fullinit;pmijobid=kvs_1;pmirank=0;threaded=FALSE;", 0},
		{"cmd=fullinit;pmijobid=kvs_1;pmirank=0;threaded=FALSE", 0},
		{"cmd=fullinit;pmirank=0;x=abcd;e", 0},
		{"cmd=x;", 0},
	} {
		if got := frameSlack([]byte(tc.first)); got != tc.want {
			t.Errorf("%q: slack %d, want %d", tc.first, got, tc.want)
		}
	}
}
