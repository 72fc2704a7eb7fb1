// Package sentinel holds the errors that more than one package of hpcbench
// reports and that callers tell apart with errors.Is: a runtime nobody
// knows, one that is missing or whose engine does not answer, an image or a
// binary that is not there, a run that was interrupted, a detection that
// timed out.
//
// Each value exists once, here. Packages that name them in their own API
// keep an alias (var ErrUnknownRuntime = sentinel.ErrUnknownRuntime), so an
// error wrapped by one package matches the alias of another. Errors only
// one package produces stay in that package.
//
// The package sits below every other and imports nothing of hpcbench.
package sentinel

import "errors"

var (
	// ErrUnknownRuntime: no runtime adapter has that name.
	ErrUnknownRuntime = errors.New("unknown runtime")
	// ErrUnavailable: a runtime cannot run containers here (not installed,
	// engine not answering, or a condition it needs is not met).
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrNotInstalled: the program that provides a runtime is not on this
	// machine.
	ErrNotInstalled = errors.New("not installed")
	// ErrEngineNotRunning: a runtime's program is there but its engine
	// (Docker's daemon, Podman's storage and OCI runtime) does not answer.
	ErrEngineNotRunning = errors.New("engine does not answer")
	// ErrImageNotFound: an image is neither in hpcbench's image store nor
	// known to the runtime.
	ErrImageNotFound = errors.New("image not found")
	// ErrBinaryNotFound: a benchmark or helper program is not where it was
	// looked for.
	ErrBinaryNotFound = errors.New("binary not found")
	// ErrInterrupted: the user stopped a run (a signal cancelled its
	// context) before it finished.
	ErrInterrupted = errors.New("interrupted")
	// ErrProbeTimedOut: a detection probe (a version tool, an engine's
	// answer) did not finish within its time limit, so whether the thing
	// it looks for is there is unknown: detect again, never take it for
	// missing.
	ErrProbeTimedOut = errors.New("probe timed out")
)
