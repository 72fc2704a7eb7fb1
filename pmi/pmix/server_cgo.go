//go:build cgo && !nopmix

package pmix

/*
#cgo pkg-config: pmix
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

// opTimeout bounds the wait for libpmix to complete one registration or
// deregistration. They finish in microseconds; a hang here means libpmix's
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

// waitOp runs one asynchronous libpmix call and waits for it. The
// completion callback finds its channel through a cgo.Handle carried in
// cbdata; goOpDone deletes the handle.
//
// Calls are made one at a time: queuing a job's registrations together
// saves about a millisecond and was not shown to be safe with 4.2.2.
func waitOp(call string, start func(h C.uintptr_t) C.pmix_status_t) error {
	done := make(chan C.pmix_status_t, 1)
	h := cgo.NewHandle(done)
	switch rc := start(C.uintptr_t(h)); rc {
	case C.PMIX_SUCCESS:
	case C.PMIX_OPERATION_SUCCEEDED:
		h.Delete()
		return nil
	default:
		h.Delete()
		return pmixError(call, rc)
	}
	select {
	case rc := <-done:
		if rc != C.PMIX_SUCCESS && rc != C.PMIX_OPERATION_SUCCEEDED {
			return pmixError(call, rc)
		}
		return nil
	case <-time.After(opTimeout):
		// A late completion still finds, and deletes, its handle.
		return fmt.Errorf("%s: no completion from libpmix after %v", call, opTimeout)
	}
}

// libRegisterJob registers a job and then its ranks as clients.
func libRegisterJob(nspace string, ranks int, host string) error {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	chost := C.CString(host)
	defer C.free(unsafe.Pointer(chost))
	err := waitOp("PMIx_server_register_nspace", func(h C.uintptr_t) C.pmix_status_t {
		return C.hb_register_nspace(cns, C.int(ranks), chost, h)
	})
	for r := 0; r < ranks && err == nil; r++ {
		err = waitOp(fmt.Sprintf("PMIx_server_register_client (rank %d)", r), func(h C.uintptr_t) C.pmix_status_t {
			return C.hb_register_client(cns, C.int(r), h)
		})
	}
	return err
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

// libDeregisterJob deregisters a job. libpmix then deletes the job's
// clients too: pmix_server.h reserves PMIx_server_deregister_client for
// exceptional cases, and a round trip per rank would add milliseconds to
// every launch.
func libDeregisterJob(nspace string) error {
	cns := C.CString(nspace)
	defer C.free(unsafe.Pointer(cns))
	return waitOp("PMIx_server_deregister_nspace", func(h C.uintptr_t) C.pmix_status_t {
		C.hb_deregister_nspace(cns, h)
		return C.PMIX_SUCCESS
	})
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
