//go:build cgo && !nopmix

package pmix

/*
#cgo pkg-config: pmix
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

// opTimeout bounds the wait for libpmix to complete the registrations or
// deregistrations of a job. They finish in microseconds; a hang here means libpmix's
// progress thread is stuck, and a launcher must not hang with it.
const opTimeout = 10 * time.Second

// statusError is a failed libpmix call.
type statusError struct {
	call   string
	status int
	text   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: %s (PMIx status %d)", e.call, e.text, e.status)
}

func pmixError(call string, rc C.pmix_status_t) error {
	return &statusError{call: call, status: int(rc), text: C.GoString(C.PMIx_Error_string(rc))}
}

func libAvailable() error { return nil }

func libVersion() string { return C.GoString(C.PMIx_Get_version()) }

func libInit(tmpdir, serverNspace string) error {
	ctmp := C.CString(tmpdir)
	defer C.free(unsafe.Pointer(ctmp))
	cns := C.CString(serverNspace)
	defer C.free(unsafe.Pointer(cns))
	if rc := C.hb_server_init(ctmp, cns); rc != C.PMIX_SUCCESS {
		return pmixError("PMIx_server_init", rc)
	}
	return nil
}

func libFinalize() error {
	if rc := C.PMIx_server_finalize(); rc != C.PMIX_SUCCESS {
		return pmixError("PMIx_server_finalize", rc)
	}
	return nil
}

// asyncOp is one asynchronous libpmix call in flight. Its completion
// callback finds the channel through a cgo.Handle carried in cbdata;
// goOpDone deletes the handle.
type asyncOp struct {
	call string
	done chan C.pmix_status_t // nil when the call finished (or failed) at once
	err  error
}

func startOp(call string, start func(h C.uintptr_t) C.pmix_status_t) asyncOp {
	done := make(chan C.pmix_status_t, 1)
	h := cgo.NewHandle(done)
	switch rc := start(C.uintptr_t(h)); rc {
	case C.PMIX_SUCCESS:
		return asyncOp{call: call, done: done}
	case C.PMIX_OPERATION_SUCCEEDED:
		h.Delete()
		return asyncOp{call: call}
	default:
		h.Delete()
		return asyncOp{call: call, err: pmixError(call, rc)}
	}
}

// awaitOps waits for every operation, up to opTimeout in all.
func awaitOps(ops []asyncOp) error {
	deadline := time.NewTimer(opTimeout)
	defer deadline.Stop()
	var errs []error
	for _, op := range ops {
		if op.err != nil {
			errs = append(errs, op.err)
		}
		if op.done == nil {
			continue
		}
		select {
		case rc := <-op.done:
			if rc != C.PMIX_SUCCESS && rc != C.PMIX_OPERATION_SUCCEEDED {
				errs = append(errs, pmixError(op.call, rc))
			}
		case <-deadline.C:
			// A late completion still finds, and deletes, its handle.
			return errors.Join(append(errs, fmt.Errorf("%s: no completion from libpmix after %v", op.call, opTimeout))...)
		}
	}
	return errors.Join(errs...)
}

// libRegisterJob registers a job and its ranks as clients. As in
// libDeregisterJob, the calls are queued together and then awaited; libpmix
// runs them in order on its progress thread.
func libRegisterJob(nspace string, ranks int, host string) error {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	chost := C.CString(host)
	defer C.free(unsafe.Pointer(chost))
	ops := make([]asyncOp, 0, ranks+1)
	ops = append(ops, startOp("PMIx_server_register_nspace", func(h C.uintptr_t) C.pmix_status_t {
		return C.hb_register_nspace(cns, C.int(ranks), chost, h)
	}))
	for r := 0; r < ranks && ops[len(ops)-1].err == nil; r++ {
		ops = append(ops, startOp(fmt.Sprintf("PMIx_server_register_client (rank %d)", r), func(h C.uintptr_t) C.pmix_status_t {
			return C.hb_register_client(cns, C.int(r), h)
		}))
	}
	return awaitOps(ops)
}

func libSetupFork(nspace string, rank int) ([]string, error) {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	var env **C.char
	rc := C.hb_setup_fork(cns, C.int(rank), &env)
	defer C.hb_free_env(env)
	if rc != C.PMIX_SUCCESS {
		return nil, pmixError("PMIx_server_setup_fork", rc)
	}
	var out []string
	for p := env; p != nil && *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		out = append(out, C.GoString(*p))
	}
	return out, nil
}

// libDeregisterJob deregisters every rank of a job and then the job,
// queued together and then awaited: a round trip per rank would add
// milliseconds to every launch.
func libDeregisterJob(nspace string, ranks int) error {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	ops := make([]asyncOp, 0, ranks+1)
	for r := 0; r < ranks; r++ {
		ops = append(ops, startOp(fmt.Sprintf("PMIx_server_deregister_client (rank %d)", r), func(h C.uintptr_t) C.pmix_status_t {
			C.hb_deregister_client(cns, C.int(r), h)
			return C.PMIX_SUCCESS
		}))
	}
	ops = append(ops, startOp("PMIx_server_deregister_nspace", func(h C.uintptr_t) C.pmix_status_t {
		C.hb_deregister_nspace(cns, h)
		return C.PMIX_SUCCESS
	}))
	return awaitOps(ops)
}

// releaseClient completes an up-call that held a client (finalize, abort).
// It runs on a goroutine, off libpmix's progress thread.
func releaseClient(cbfunc C.pmix_op_cbfunc_t, cbdata unsafe.Pointer) {
	C.hb_complete_op(cbfunc, cbdata, C.PMIX_SUCCESS)
}

// completeFence hands the collected data back; libpmix frees data.
func completeFence(cbfunc C.pmix_modex_cbfunc_t, cbdata unsafe.Pointer, data *C.char, ndata C.size_t) {
	C.hb_complete_fence(cbfunc, cbdata, data, ndata)
}
