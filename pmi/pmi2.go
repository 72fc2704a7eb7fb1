package pmi

// This file answers the PMI-2 commands (length-framed "cmd=...;" frames).

import (
	"fmt"
)

func (c *conn) handlePMI2(q *request) error {
	s := c.s
	cmd := pmi2Command(q.cmd)
	resp := cmd + "-response"
	if c.version != 2 {
		c.sendErr(resp, "send cmd=init pmi_version=2 first", true)
		if c.rank < 0 {
			return fmt.Errorf("%w: PMI-2 %s before init", errStranger, cmd)
		}
		return nil
	}
	if cmd == "fullinit" {
		if c.fullInit {
			c.sendErr(resp, "fullinit sent twice", true)
			return nil
		}
		if err := c.nameRankPMI2(q); err != nil {
			c.sendErr(resp, "rank refused", true)
			return err
		}
		c.fullInit = true
		c.begin(resp, true).add("rc", "0").add("pmi-version", "2").add("pmi-subversion", "0").
			addInt("rank", c.rank).add("size", s.sizeText).add("appnum", "0").
			add("debugged", "FALSE").add("pmiverbose", "FALSE")
		c.finish()
		s.events.initialised(c.rank, string(PMI2))
		return nil
	}
	if !c.fullInit {
		c.sendErr(resp, "send fullinit first", true)
		return nil
	}
	if c.finalized {
		c.sendErr(resp, "already finalized", true)
		return nil
	}
	switch cmd {
	case "job-getid":
		c.begin(resp, true).add("rc", "0").add("jobid", s.kvsName)
		c.finish()
	case "info-getjobattr":
		key, _ := q.value("key")
		if v, ok := s.jobAttr(key); ok {
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
		} else {
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
		}
		c.finish()
	case "info-putnodeattr":
		key, _ := q.value("key")
		if len(key) == 0 {
			c.sendErr(resp, "no key", true)
			return nil
		}
		val := q.str("value")
		waiters, ok := s.putNodeAttr(string(key), val)
		if !ok {
			c.sendErr(resp, "store full", true)
			return fmt.Errorf("%s put more than %d bytes into the node attributes", c.who(), maxStoreBytes)
		}
		c.begin(resp, true).add("rc", "0")
		c.finish()
		for _, w := range waiters {
			w.c.begin("info-getnodeattr-response", w.pmi2).add("rc", "0").add("found", "TRUE").add("value", val)
			w.c.finish()
		}
	case "info-getnodeattr":
		key, _ := q.value("key")
		wait := q.is("wait", "TRUE")
		v, found := s.getNodeAttr(key, c, wait)
		switch {
		case found:
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
			c.finish()
		case wait:
			// Held until some rank puts the key.
		default:
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
			c.finish()
		}
	case "kvs-put":
		key, _ := q.value("key")
		if len(key) == 0 {
			c.sendErr(resp, "no key", true)
			return nil
		}
		val, _ := q.value("value")
		if !s.put(key, val) {
			c.sendErr(resp, "store full", true)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.begin(resp, true).add("rc", "0")
		c.finish()
	case "kvs-get":
		if j, ok := q.value("jobid"); ok && len(j) != 0 && string(j) != s.kvsName {
			c.sendErr(resp, "unknown jobid "+string(j), true)
			return nil
		}
		key, _ := q.value("key")
		if v, ok := s.get(key); ok {
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
		} else {
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
		}
		c.finish()
	case "kvs-fence":
		return s.enterFence(c, true)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.begin(resp, true).add("rc", "0")
		c.finish()
	case "abort":
		s.events.aborted(c.rank, exitCode(q), q.str("msg"))
	default:
		c.sendErr(resp, "unsupported command "+cmd, true)
	}
	return nil
}

// nameRankPMI2 names the connection's rank from a fullinit: pmirank=
// (MPICH puts PMI_ID there, else PMI_RANK) or srcid= (Slurm's libpmi2
// puts PMI_ID there). Over TCP the first of them that holds a rank's token
// names the rank.
func (c *conn) nameRankPMI2(q *request) error {
	key, id, found := "", []byte(nil), false
	for _, k := range []string{"pmirank", "srcid"} {
		v, ok := q.value(k)
		if !ok {
			continue
		}
		if !found {
			key, id, found = k, v, true
		}
		if !c.boundRank {
			if _, known := c.s.tokenRank(v); known {
				key, id = k, v
				break
			}
		}
	}
	switch {
	case found:
		return c.nameRank(key, id, fmt.Errorf("%w: PMI-2 fullinit with rank %q", ErrProtocol, id))
	case c.rank >= 0:
		return nil // the channel or an initack named it
	case c.boundRank:
		return fmt.Errorf("%w: PMI-2 fullinit without pmirank or srcid", ErrProtocol)
	}
	return fmt.Errorf("%w: PMI-2 fullinit without pmirank or srcid", errStranger)
}

// pmi2Command returns the PMI-2 command as a string without allocating for
// the commands the server knows (the compiler turns the switch on a
// converted byte slice into comparisons); another command is copied.
func pmi2Command(cmd []byte) string {
	switch string(cmd) {
	case "fullinit":
		return "fullinit"
	case "job-getid":
		return "job-getid"
	case "info-getjobattr":
		return "info-getjobattr"
	case "info-putnodeattr":
		return "info-putnodeattr"
	case "info-getnodeattr":
		return "info-getnodeattr"
	case "kvs-put":
		return "kvs-put"
	case "kvs-get":
		return "kvs-get"
	case "kvs-fence":
		return "kvs-fence"
	case "finalize":
		return "finalize"
	case "abort":
		return "abort"
	}
	return string(cmd)
}
