package pmi

// This file holds the job's key-value store, node attributes and fence
// rounds, shared by PMI-1 and PMI-2.

import (
	"fmt"
)

func (s *simpleServer) put(key, val []byte) bool {
	s.kvsMu.Lock()
	defer s.kvsMu.Unlock()
	old, had := s.kvs[string(key)]
	grow := len(key) + len(val)
	if had {
		grow = len(val) - len(old)
	}
	if s.storeBytes+grow > maxStoreBytes {
		return false
	}
	s.storeBytes += grow
	if had && old == string(val) {
		return true
	}
	s.kvs[string(key)] = string(val)
	return true
}

func (s *simpleServer) get(key []byte) (string, bool) {
	s.kvsMu.RLock()
	v, ok := s.kvs[string(key)]
	s.kvsMu.RUnlock()
	if ok {
		return v, true
	}
	// MPICH's PMI-1 reads job attributes as KVS keys.
	return s.jobAttr(key)
}

// jobAttr answers the job-level attributes: every rank is on this node.
func (s *simpleServer) jobAttr(key []byte) (string, bool) {
	switch string(key) {
	case "PMI_process_mapping":
		return s.processMapping, true
	case "universeSize":
		return s.sizeText, true
	}
	return "", false
}

func (s *simpleServer) putNodeAttr(key, val string) ([]waiter, bool) {
	// storeBytes is kvsMu's, the node attributes are mu's.
	s.kvsMu.Lock()
	defer s.kvsMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.nodeAttrs[key]
	grow := len(key) + len(val)
	if had {
		grow = len(val) - len(old)
	}
	if s.storeBytes+grow > maxStoreBytes {
		return nil, false
	}
	s.storeBytes += grow
	s.nodeAttrs[key] = val
	w := s.nodeWaiters[key]
	delete(s.nodeWaiters, key)
	return w, true
}

func (s *simpleServer) getNodeAttr(key []byte, c *conn, wait bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.nodeAttrs[string(key)]; ok {
		return v, true
	}
	if wait {
		k := string(key)
		s.nodeWaiters[k] = append(s.nodeWaiters[k], waiter{c, true})
	}
	return "", false
}

// enterFence records c's arrival at the current fence round; the last
// arrival answers everyone.
func (s *simpleServer) enterFence(c *conn, pmi2 bool) error {
	s.mu.Lock()
	if s.inFence[c.rank] {
		s.mu.Unlock()
		return fmt.Errorf("%w: rank %d entered the same fence twice", ErrProtocol, c.rank)
	}
	s.inFence[c.rank] = true
	s.fenceQueue = append(s.fenceQueue, waiter{c, pmi2})
	if len(s.fenceQueue) < s.size {
		s.mu.Unlock()
		return nil
	}
	queue := s.fenceQueue
	s.fenceQueue = nil
	clear(s.inFence)
	s.fences++
	s.mu.Unlock()
	s.events.fenceCompleted()
	var line, frame []byte
	for _, w := range queue {
		if w.pmi2 {
			if frame == nil {
				frame = formatFrame(reply("kvs-fence-response").add("rc", "0"))
			}
			w.c.sendRaw(frame)
		} else {
			if line == nil {
				line = formatLine(reply("barrier_out"))
			}
			w.c.sendRaw(line)
		}
	}
	return nil
}
