package pmix

import "sort"

type eventKind int

const (
	eventConnected eventKind = iota
	eventFinalized
	eventAborted
	eventFenceDone
)

type event struct {
	kind   eventKind
	rank   int
	status int
	msg    string
}

// dispatch delivers queued events in order until the job is forgotten and
// its queue is empty.
func (j *Job) dispatch() {
	defer close(j.dispatched)
	for {
		j.qmu.Lock()
		for len(j.queue) == 0 && !j.stopping {
			j.qcond.Wait()
		}
		if len(j.queue) == 0 {
			j.qmu.Unlock()
			return
		}
		batch := j.queue
		j.queue = nil
		j.qmu.Unlock()
		for _, e := range batch {
			j.deliver(e)
		}
	}
}

func (j *Job) deliver(e event) {
	switch e.kind {
	case eventConnected:
		if j.ev.Connected != nil {
			j.ev.Connected(e.rank)
		}
	case eventFinalized:
		if j.ev.Finalized != nil {
			j.ev.Finalized(e.rank)
		}
	case eventAborted:
		if j.ev.Aborted != nil {
			j.ev.Aborted(e.rank, e.status, e.msg)
		}
	case eventFenceDone:
		if j.ev.FenceDone != nil {
			j.ev.FenceDone()
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
