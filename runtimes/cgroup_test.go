package runtimes

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPeakWatchFindsTheCgroup: the watcher reads a container's peak from
// the engines' usual places as soon as its ID is known, and from any
// other parent after peakSearchAfter samples (one search of the tree).
func TestPeakWatchFindsTheCgroup(t *testing.T) {
	root := t.TempDir()
	old := cgroupRoot
	cgroupRoot = root
	t.Cleanup(func() { cgroupRoot = old })
	write := func(path, value string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, id, file string
		within         time.Duration
	}{
		{"docker's cgroupfs parent", "aaaa", filepath.Join(root, "memory", "docker", "aaaa", "memory.max_usage_in_bytes"), 5 * peakSampleInterval},
		{"another parent", "bbbb", filepath.Join(root, "memory", "site.slice", "jobs", "ctr-bbbb.scope", "memory.max_usage_in_bytes"), (peakSearchAfter + 5) * peakSampleInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cidfile := filepath.Join(t.TempDir(), "cid")
			write(tc.file, "123456\n")
			write(cidfile, tc.id+"\n")
			pw := &peakWatch{cidfile: cidfile, done: make(chan struct{})}
			go pw.run()
			defer pw.stop()
			deadline := time.Now().Add(tc.within)
			for time.Now().Before(deadline) {
				if v, ok := pw.value(); ok {
					if v != 123456 {
						t.Fatalf("peak %d, want 123456", v)
					}
					return
				}
				time.Sleep(peakSampleInterval / 5)
			}
			t.Fatalf("no peak read from %s within %v", tc.file, tc.within)
		})
	}
}
