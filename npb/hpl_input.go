package npb

import (
	"fmt"
	"io"
	"math"
)

// HPLInput is one HPL problem: the order N of the matrix, the block size NB
// and the P x Q process grid. It is written as HPL.dat for xhpl and as
// hpccinf.txt for HPCC, whose input begins with the same layout.
type HPLInput struct {
	N, NB, P, Q int
}

// Grid returns the most square P x Q grid for ranks with P <= Q, which is
// what HPL performs best on when the interconnect is uniform.
func Grid(ranks int) (p, q int) {
	if ranks < 1 {
		return 1, 1
	}
	p = int(math.Sqrt(float64(ranks)))
	for ranks%p != 0 {
		p--
	}
	return p, ranks / p
}

// NFromMemory returns the largest N, a multiple of nb, whose matrix (8 N^2
// bytes, spread over all ranks) fits in fraction of memBytes.
func NFromMemory(memBytes uint64, fraction float64, nb int) int {
	if nb < 1 {
		nb = 1
	}
	n := int(math.Sqrt(float64(memBytes) * fraction / 8))
	n -= n % nb
	if n < nb {
		n = nb
	}
	return n
}

// Validate reports an input HPL would reject or run on the wrong grid.
func (in HPLInput) Validate(ranks int) error {
	switch {
	case in.N < 1:
		return fmt.Errorf("HPL: N = %d, must be at least 1", in.N)
	case in.NB < 1:
		return fmt.Errorf("HPL: NB = %d, must be at least 1", in.NB)
	case in.P < 1 || in.Q < 1:
		return fmt.Errorf("HPL: grid %d x %d is empty", in.P, in.Q)
	case ranks > 0 && in.P*in.Q != ranks:
		return fmt.Errorf("HPL: grid %d x %d needs %d ranks, not %d", in.P, in.Q, in.P*in.Q, ranks)
	}
	return nil
}

// WriteHPLDat writes an HPL.dat for one problem with the tuning lines that
// HPL's own sample input ships with; results go to stdout (device 6).
func WriteHPLDat(w io.Writer, in HPLInput) error {
	_, err := fmt.Fprintf(w, `HPLinpack benchmark input file
written by hpcbench
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
1            # of problems sizes (N)
%-12d Ns
1            # of NBs
%-12d NBs
0            PMAP process mapping (0=Row-,1=Column-major)
1            # of process grids (P x Q)
%-12d Ps
%-12d Qs
16.0         threshold
1            # of panel fact
2            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
1            # of broadcast
1            BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
1            # of lookahead depth
1            DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
`, in.N, in.NB, in.P, in.Q)
	return err
}

// WriteHPCCInf writes hpccinf.txt: the HPL.dat layout followed by the
// PTRANS lines HPCC reads after it (line 32 is a separator it skips). PTRANS
// runs on the HPL problem size only.
func WriteHPCCInf(w io.Writer, in HPLInput) error {
	if err := WriteHPLDat(w, in); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `##### This line (no. 32) is ignored (it serves as a separator). ######
0            Number of additional problem sizes for PTRANS
%-12d values of N
0            number of additional blocking sizes for PTRANS
%-12d values of NB
`, in.N, in.NB)
	return err
}
