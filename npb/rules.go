package npb

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Names lists the NAS Parallel Benchmarks that run under MPI: the kernels
// (EP, IS, CG, MG, FT) and the pseudo-applications (LU, SP, BT).
var Names = []string{"bt", "cg", "ep", "ft", "is", "lu", "mg", "sp"}

// Classes lists the NPB problem classes from smallest to largest: S and W
// are for testing, A to F are the standard sizes.
var Classes = []string{"S", "W", "A", "B", "C", "D", "E", "F"}

// ErrUnknownBenchmark is returned for a name that is not an NPB benchmark.
var ErrUnknownBenchmark = errors.New("not an NPB benchmark")

// ErrRanks is returned when a benchmark cannot run correctly on a rank count.
var ErrRanks = errors.New("rank count not supported")

// IsName reports whether name (lower case, e.g. "cg") is an NPB benchmark.
func IsName(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// IsClass reports whether class is an NPB class letter (upper case).
func IsClass(class string) bool {
	for _, c := range Classes {
		if c == class {
			return true
		}
	}
	return false
}

// CheckRanks reports whether benchmark name runs correctly, and verifies,
// on ranks MPI processes. The rules are those of NPB 3.4, where the rank
// count is chosen at run time:
//
//   - EP runs on any count.
//   - IS, CG, MG and FT need a power of two (IS and CG abort otherwise; MG
//     silently runs on fewer ranks, FT does not verify).
//   - SP and BT need a square (otherwise they run on the largest square
//     that fits and leave the other ranks idle).
//   - LU needs a two-dimensional grid xdim x ydim = ranks with xdim no
//     more than twice ydim, which it builds starting from the square root
//     (1, 2, 4, 6, 8, 9, 12, ... work; 3, 5, 7 do not).
//
// The error wraps ErrRanks or ErrUnknownBenchmark and says what would work.
func CheckRanks(name string, ranks int) error {
	name = strings.ToLower(name)
	if !IsName(name) {
		return fmt.Errorf("%q: %w (want one of %s)", name, ErrUnknownBenchmark, strings.Join(Names, ", "))
	}
	if ranks < 1 {
		return fmt.Errorf("%s on %d ranks: %w: need at least 1", strings.ToUpper(name), ranks, ErrRanks)
	}
	switch name {
	case "ep":
		return nil
	case "is", "cg", "mg", "ft":
		if !isPowerOfTwo(ranks) {
			return fmt.Errorf("%s on %d ranks: %w: needs a power of two (1, 2, 4, 8, ...)", strings.ToUpper(name), ranks, ErrRanks)
		}
	case "sp", "bt":
		if !isSquare(ranks) {
			return fmt.Errorf("%s on %d ranks: %w: needs a square (1, 4, 9, 16, ...)", strings.ToUpper(name), ranks, ErrRanks)
		}
	case "lu":
		if _, _, ok := LUGrid(ranks); !ok {
			return fmt.Errorf("%s on %d ranks: %w: it cannot build a process grid (1, 2, 4, 6, 8, 9, 12, ... work)", strings.ToUpper(name), ranks, ErrRanks)
		}
	}
	return nil
}

// LUGrid returns the xdim x ydim process grid NPB 3.4's LU builds for
// ranks, and whether it can build one: xdim starts at the smallest integer
// whose square reaches ranks and grows until it divides ranks, giving up
// once xdim exceeds twice ydim.
func LUGrid(ranks int) (xdim, ydim int, ok bool) {
	if ranks < 1 {
		return 0, 0, false
	}
	xdim = int(math.Ceil(math.Sqrt(float64(ranks))))
	for xdim*xdim < ranks { // guard against rounding
		xdim++
	}
	for xdim > 1 && (xdim-1)*(xdim-1) >= ranks {
		xdim--
	}
	for {
		ydim = ranks / xdim
		if xdim*ydim == ranks && 2*ydim >= xdim {
			return xdim, ydim, true
		}
		if 2*ydim < xdim {
			return 0, 0, false
		}
		xdim++
	}
}

func isPowerOfTwo(n int) bool { return n > 0 && n&(n-1) == 0 }

func isSquare(n int) bool {
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r*r == n
}
