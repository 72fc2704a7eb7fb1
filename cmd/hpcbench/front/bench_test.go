package main

import (
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartup: the start-up of a whole process, "hpcbench version"
// of the front program and of the full one against MPICH's launcher
// ("mpiexec.mpich --version", the named peer), interleaved rounds, with
// the medians of wall time and of CPU time (user + system, from the
// child's rusage) and their ratios to the peer. Run with:
//
//	go test -run '^$' -bench Startup -benchtime 1x ./cmd/hpcbench/front
func BenchmarkStartup(b *testing.B) {
	peer, err := exec.LookPath("mpiexec.mpich")
	if err != nil {
		b.Skip("mpiexec.mpich not installed (apt-get install mpich): the peer of this benchmark")
	}
	dir := programs(b)
	cases := []struct {
		name string
		argv []string
	}{
		{"hpcbench version (front)", []string{dir + "/hpcbench", "version"}},
		{"hpcbench-full version", []string{dir + "/" + FullName, "version"}},
		{"mpiexec.mpich --version (peer)", []string{peer, "--version"}},
	}
	const rounds = 60
	wall := make([][]float64, len(cases))
	cpu := make([][]float64, len(cases))
	for range b.N {
		for r := 0; r < rounds; r++ {
			for i, c := range cases {
				cmd := exec.Command(c.argv[0], c.argv[1:]...)
				start := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("%v: %v", c.argv, err)
				}
				wall[i] = append(wall[i], time.Since(start).Seconds()*1000)
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				cpu[i] = append(cpu[i], float64(ru.Utime.Nano()+ru.Stime.Nano())/1e6)
			}
		}
	}
	median := func(v []float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2]
	}
	peerWall, peerCPU := median(wall[len(cases)-1]), median(cpu[len(cases)-1])
	fmt.Printf("\nStart-up of a whole process, medians of %d interleaved rounds (CPU: user+system from rusage)\n", rounds*b.N)
	fmt.Printf("%-32s %9s %9s %10s %10s\n", "program", "wall ms", "CPU ms", "wall/peer", "CPU/peer")
	for i, c := range cases {
		w, u := median(wall[i]), median(cpu[i])
		fmt.Printf("%-32s %9.2f %9.2f %10.2f %10.2f\n", c.name, w, u, w/peerWall, u/peerCPU)
	}
}
