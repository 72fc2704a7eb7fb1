package pmi

// This file answers the PMI-1 commands (one "cmd=..." line each).

import (
	"fmt"
)

func (c *conn) handlePMI1(q *request) error {
	s := c.s
	switch string(q.cmd) {
	case "initack":
		// Over TCP pmiid is the rank's token (PMI_ID); MPICH sends it
		// as a C int, hence tokens below 2^31.
		v, _ := q.value("pmiid")
		if err := c.nameRank("pmiid", v, fmt.Errorf("%w: initack with pmiid %q", ErrProtocol, v)); err != nil {
			c.sendErr("initack", "rank_refused", false)
			return err
		}
		c.sendRaw(initackReply(s.size, c.rank))
		return nil
	case "init":
		if c.version != 0 {
			c.sendErr("response_to_init", "init_twice", false)
			return nil
		}
		v, _ := q.value("pmi_version")
		switch string(v) {
		case "1":
			if c.rank < 0 {
				// A stranger, or a rank that lost its PMI_ID on
				// the way: it is told so, and dropped.
				c.sendErr("response_to_init", "rank_unknown_set_PMI_ID", false)
				return fmt.Errorf("%w: PMI-1 init on a connection that never named its rank (PMI_ID unset?)", errStranger)
			}
			c.version = 1
			c.begin("response_to_init", false).add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "0")
			c.finish()
			s.events.initialised(c.rank, string(PMI1))
		case "2":
			// The rest of the conversation is PMI-2 frames; the
			// rank is known once fullinit names it.
			c.version = 2
			c.begin("response_to_init", false).add("pmi_version", "2").add("pmi_subversion", "0").add("rc", "0")
			c.finish()
		default:
			c.begin("response_to_init", false).add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "-1")
			c.finish()
		}
		return nil
	}
	if c.version != 1 {
		c.sendErr(string(q.cmd)+"_result", "init_first", false)
		return nil
	}
	if c.finalized {
		c.sendErr(string(q.cmd)+"_result", "already_finalized", false)
		return nil
	}
	switch string(q.cmd) {
	case "get_maxes":
		c.begin("maxes", false).addInt("kvsname_max", kvsNameMax).addInt("keylen_max", keyLenMax).addInt("vallen_max", valLenMax)
		c.finish()
	case "get_appnum":
		c.begin("appnum", false).add("appnum", "0")
		c.finish()
	case "get_my_kvsname":
		c.begin("my_kvsname", false).add("kvsname", s.kvsName)
		c.finish()
	case "get_universe_size":
		c.begin("universe_size", false).add("size", s.sizeText)
		c.finish()
	case "put":
		key, _ := q.value("key")
		val, _ := q.value("value")
		if msg := s.checkKVS(q, key); msg != "" {
			c.sendErr("put_result", msg, false)
			return nil
		}
		if !s.put(key, val) {
			c.sendErr("put_result", "store_full", false)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.begin("put_result", false).add("rc", "0").add("msg", "success")
		c.finish()
	case "get":
		key, _ := q.value("key")
		if msg := s.checkKVS(q, key); msg != "" {
			c.sendErr("get_result", msg, false)
			return nil
		}
		if v, ok := s.get(key); ok {
			c.begin("get_result", false).add("rc", "0").add("msg", "success").add("value", v)
			c.finish()
		} else {
			c.sendErr("get_result", "key_"+string(key)+"_not_found", false)
		}
	case "barrier_in":
		return s.enterFence(c, false)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.begin("finalize_ack", false)
		c.finish()
	case "abort":
		s.events.aborted(c.rank, exitCode(q), q.str("msg"))
	default:
		c.sendErr(string(q.cmd)+"_result", "unsupported_command", false)
	}
	return nil
}

// checkKVS validates a PMI-1 kvsname and key, returning an error text.
func (s *simpleServer) checkKVS(q *request, key []byte) string {
	kvsName, _ := q.value("kvsname")
	switch {
	case len(kvsName) != 0 && string(kvsName) != s.kvsName:
		return "unknown_kvsname"
	case len(key) == 0:
		return "no_key"
	}
	return ""
}
