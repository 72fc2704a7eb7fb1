package pmi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrSingleton: a rank ran without speaking PMI, so MPI started it as a
	// world of its own and whatever it measured is not the job's.
	ErrSingleton = errors.New("rank never spoke PMI (it ran as a singleton)")
	// ErrPMIMismatch: a rank spoke another PMI version than the job asked for.
	ErrPMIMismatch = errors.New("rank negotiated another PMI version")
)

// RequireWorld is the world-size guard for a launch that succeeded: it
// fails rep when some rank never negotiated PMI (ErrSingleton), even
// though every rank exited 0, as happens when a rank's PMI variables were
// lost on the way into a container. With want set, a rank that negotiated
// another flavour fails it too (ErrPMIMismatch). A nil report passes.
func RequireWorld(rep *Report, want Flavour) error {
	if rep == nil {
		return nil
	}
	var missing, other []string
	for r := 0; r < rep.Ranks; r++ {
		switch {
		case r >= len(rep.Negotiated) || rep.Negotiated[r] == "":
			missing = append(missing, strconv.Itoa(r))
		case want != "" && rep.Negotiated[r] != string(want):
			other = append(other, fmt.Sprintf("%d (%s)", r, rep.Negotiated[r]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("job %s: %w: rank(s) %s of %d", rep.JobID, ErrSingleton, strings.Join(missing, ", "), rep.Ranks)
	}
	if len(other) > 0 {
		return fmt.Errorf("job %s: %w than %s: rank(s) %s of %d", rep.JobID, ErrPMIMismatch, want, strings.Join(other, ", "), rep.Ranks)
	}
	return nil
}

// GuardWorld applies RequireWorld to a launch that succeeded and, when it
// fails, records that in rep as the launch's failure (Reason, Failure
// FailureSingleton or FailurePMIMismatch, ExitStatus 1 and the first rank
// at fault), so that a report written afterwards says why. It returns
// RequireWorld's error; a failed launch or a nil report is left as it is.
func GuardWorld(rep *Report, want Flavour) error {
	if rep == nil || !rep.OK() {
		return nil
	}
	err := RequireWorld(rep, want)
	if err == nil {
		return nil
	}
	rep.Reason, rep.ExitStatus, rep.Failure = err.Error(), 1, FailurePMIMismatch
	if errors.Is(err, ErrSingleton) {
		rep.Failure = FailureSingleton
	}
	rep.FailedRank = -1
	for r := 0; r < rep.Ranks; r++ {
		spoke := r < len(rep.Negotiated) && rep.Negotiated[r] != ""
		if !spoke || (rep.Failure == FailurePMIMismatch && rep.Negotiated[r] != string(want)) {
			rep.FailedRank = r
			break
		}
	}
	return err
}
