//go:build !cgo || nopmix

package pmix

// Built without cgo or with the nopmix tag: every entry point reports
// ErrNoPMIx, so the rest of hpcbench builds and runs with PMI-1/PMI-2 only.

func libAvailable() error                                        { return ErrNoPMIx }
func libVersion() string                                         { return "" }
func libInit(tmpdir, serverNspace string) error                  { return ErrNoPMIx }
func libFinalize() error                                         { return ErrNoPMIx }
func libRegisterJob(nspace string, ranks int, host string) error { return ErrNoPMIx }
func libSetupFork(nspace string, rank int) ([]string, error)     { return nil, ErrNoPMIx }
func libDeregisterJob(nspace string) error                       { return ErrNoPMIx }
