//go:build cgo && !nopmix

package pmix

// The functions libpmix's up-calls (shim.c) call into Go. They run on
// libpmix's progress thread: they copy what they need, queue the event for
// the job and return; completions that release a client run on goroutines.

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// lookupJob and post serve only the up-calls below, so they are built only
// with libpmix.

// lookupJob returns the open job of nspace, or nil.
func lookupJob(nspace string) *Job {
	server.mu.Lock()
	defer server.mu.Unlock()
	return server.jobs[nspace]
}

// post queues an event; it never blocks, because it runs on libpmix's
// progress thread.
func (j *Job) post(e event) {
	j.qmu.Lock()
	defer j.qmu.Unlock()
	if j.stopping {
		return
	}
	j.queue = append(j.queue, e)
	j.qcond.Signal()
}

//export goOpDone
func goOpDone(status C.pmix_status_t, handle C.uintptr_t) {
	h := cgo.Handle(handle)
	h.Value().(chan C.pmix_status_t) <- status
	h.Delete()
}

//export goClientConnected
func goClientConnected(nspace *C.char, rank C.pmix_rank_t) {
	if j := lookupJob(C.GoString(nspace)); j != nil {
		j.post(event{kind: eventConnected, rank: int(rank)})
	}
}

//export goClientFinalized
func goClientFinalized(nspace *C.char, rank C.pmix_rank_t, cbfunc C.pmix_op_cbfunc_t, cbdata unsafe.Pointer) {
	if j := lookupJob(C.GoString(nspace)); j != nil {
		j.post(event{kind: eventFinalized, rank: int(rank)})
	}
	go releaseClient(cbfunc, cbdata)
}

//export goAbort
func goAbort(nspace *C.char, rank C.pmix_rank_t, status C.int, msg *C.char, cbfunc C.pmix_op_cbfunc_t, cbdata unsafe.Pointer) {
	var text string
	if msg != nil {
		text = C.GoString(msg)
	}
	if j := lookupJob(C.GoString(nspace)); j != nil {
		j.post(event{kind: eventAborted, rank: int(rank), status: int(status), msg: text})
	}
	go releaseClient(cbfunc, cbdata)
}

//export goFence
func goFence(nspace *C.char, data *C.char, ndata C.size_t, cbfunc C.pmix_modex_cbfunc_t, cbdata unsafe.Pointer) {
	// Every rank has contributed: the fence is complete as far as the job
	// is concerned. The event goes first, so that it is queued before any
	// rank can leave the fence, let alone exit.
	if j := lookupJob(C.GoString(nspace)); j != nil {
		j.post(event{kind: eventFenceDone})
	}
	go completeFence(cbfunc, cbdata, data, ndata)
}
