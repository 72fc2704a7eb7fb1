package runtimes

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/pmi"
)

// A rank in a Docker or Podman container is not a child of hpcbench (the
// client is), so its peak memory comes from the container's memory cgroup:
// memory.max_usage_in_bytes on cgroup v1, memory.peak on v2. The engine
// removes the cgroup when the container stops, so the value is sampled
// while the container runs; the counter only grows, and the last sample
// misses at most the final sampling interval.

const peakSampleInterval = 50 * time.Millisecond

// peakWatch follows one rank's container.
type peakWatch struct {
	cidfile string
	done    chan struct{}
	once    sync.Once

	mu   sync.Mutex
	peak int64
	seen bool
}

func (p *peakWatch) stop() { p.once.Do(func() { close(p.done) }) }

func (p *peakWatch) value() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak, p.seen
}

// watchPeak starts sampling the container whose ID the engine writes to
// cidfile.
func (w *engineWrapper) watchPeak(rank int, cidfile string) {
	pw := &peakWatch{cidfile: cidfile, done: make(chan struct{})}
	w.mu.Lock()
	if old := w.peaks[rank]; old != nil {
		old.stop()
	}
	w.peaks[rank] = pw
	w.mu.Unlock()
	go pw.run()
}

// peakSearchAfter is how many samples of a container whose ID is known
// find its cgroup in none of the usual places before the cgroup tree is
// searched for it, once: the engine writes the ID when it creates the
// container, before its cgroup exists, and a search of every controller's
// tree at each sample cost a short rank's start more CPU than the
// engine's client.
const peakSearchAfter = 10

func (p *peakWatch) run() {
	tick := time.NewTicker(peakSampleInterval)
	defer tick.Stop()
	deadline := time.Now().Add(2 * time.Minute) // for the container to appear
	var file string
	missed := 0
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		if file == "" {
			if id := readCID(p.cidfile); id != "" {
				file = cgroupPeakCandidate(id)
				if file == "" {
					if missed++; missed == peakSearchAfter {
						file = cgroupPeakSearch(id)
					}
				}
			}
			if file == "" {
				if time.Now().After(deadline) {
					return
				}
				continue
			}
		}
		v, ok := readInt(file)
		if !ok {
			return // the container stopped and its cgroup is gone
		}
		p.mu.Lock()
		if v > p.peak {
			p.peak = v
		}
		p.seen = true
		p.mu.Unlock()
	}
}

func readCID(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// cgroupRoot is where the cgroup hierarchies are mounted (a variable for
// the tests of the sweep of OCI leftovers).
var cgroupRoot = "/sys/fs/cgroup"

// cgroupPeakCandidate finds the peak-memory file of container id in the
// usual places of the cgroupfs and systemd drivers of both engines; ""
// where it is in none of them (yet).
func cgroupPeakCandidate(id string) string {
	v1 := filepath.Join(cgroupRoot, "memory")
	candidates := []string{
		filepath.Join(v1, "docker", id, "memory.max_usage_in_bytes"),
		filepath.Join(v1, "system.slice", "docker-"+id+".scope", "memory.max_usage_in_bytes"),
		filepath.Join(v1, "libpod_parent", "libpod-"+id, "memory.max_usage_in_bytes"),
		filepath.Join(v1, "machine.slice", "libpod-"+id+".scope", "memory.max_usage_in_bytes"),
		filepath.Join(cgroupRoot, "docker", id, "memory.peak"),
		filepath.Join(cgroupRoot, "system.slice", "docker-"+id+".scope", "memory.peak"),
		filepath.Join(cgroupRoot, "machine.slice", "libpod-"+id+".scope", "memory.peak"),
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// cgroupPeakSearch looks for the peak-memory file of container id under
// other drivers and parents: a folder named after the ID, at most four
// levels down each hierarchy.
func cgroupPeakSearch(id string) string {
	v1 := filepath.Join(cgroupRoot, "memory")
	var found string
	for _, root := range []string{v1, cgroupRoot} {
		depth0 := strings.Count(root, "/")
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return fs.SkipDir
			}
			if !d.IsDir() {
				return nil
			}
			if strings.Count(p, "/")-depth0 > 4 {
				return fs.SkipDir
			}
			if strings.Contains(d.Name(), id) {
				for _, f := range []string{"memory.max_usage_in_bytes", "memory.peak"} {
					if _, err := os.Stat(filepath.Join(p, f)); err == nil {
						found = filepath.Join(p, f)
						return fs.SkipAll
					}
				}
			}
			return nil
		})
		if found != "" {
			break
		}
	}
	return found
}

// PeakMemory returns the highest memory use sampled from rank's container.
func (w *engineWrapper) PeakMemory(job pmi.Job, rank int) (int64, bool) {
	w.mu.Lock()
	pw := w.peaks[rank]
	w.mu.Unlock()
	if pw == nil || !strings.HasPrefix(filepath.Base(pw.cidfile), job.ID+"-") {
		return 0, false
	}
	return pw.value()
}
