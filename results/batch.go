package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Batch stores many runs in one write transaction (see Store.Batch). A
// commit costs SQLite a write of its log (and, at the file's synchronous
// level, a sync of it), so storing an imported file or a Slurm job's
// runs in one transaction costs one commit instead of one per run. A
// Batch is used from one goroutine, inside the function given to
// Store.Batch only.
type Batch struct {
	ctx context.Context
	s   *Store
	tx  *sql.Tx
	ins *sql.Stmt

	// Ids resolved inside the transaction; they join the store's cache
	// only once it commits (a host recorded by a transaction that rolls
	// back has no row).
	studyIDs map[string]int64
	hostIDs  map[Host]int64
	// The cells that got a run, whose skips go before the commit.
	ran   map[ranCell]bool
	added int
}

type ranCell struct {
	study int64
	host  string
	cell  string
}

// Batch runs fn with a Batch holding one write transaction and commits
// what fn stored when fn returns nil. When fn returns an error, or the
// commit fails, nothing fn stored is kept: a batch is stored whole or not
// at all. Only the start of the transaction waits for, and is retried
// against, another process writing the file; fn runs once.
//
// A batch is for runs whose source survives a crash (an imported file, a
// Slurm job's result files), so that a batch lost to a kill is simply
// stored again. A run that exists only in memory, as a matrix's does when
// it ends, is stored with AddRun, which commits it at once.
func (s *Store) Batch(ctx context.Context, fn func(b *Batch) error) error {
	var tx *sql.Tx
	err := s.retry(ctx, func() error {
		var err error
		tx, err = s.db.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, insertRun)
	if err != nil {
		return err
	}
	defer ins.Close()
	b := &Batch{ctx: ctx, s: s, tx: tx, ins: ins,
		studyIDs: map[string]int64{}, hostIDs: map[Host]int64{}, ran: map[ranCell]bool{}}
	if err := fn(b); err != nil {
		return err
	}
	if len(b.ran) > 0 {
		del, err := tx.PrepareContext(ctx, `DELETE FROM skips WHERE study_id = ? AND hostname = ? AND cell_key = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		for c := range b.ran {
			if _, err := del.ExecContext(ctx, c.study, c.host, c.cell); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.mu.Lock()
	for k, v := range b.studyIDs {
		s.studyIDs[k] = v
	}
	for k, v := range b.hostIDs {
		s.hostIDs[k] = v
	}
	s.mu.Unlock()
	return nil
}

// Added is the number of runs the batch has stored so far.
func (b *Batch) Added() int { return b.added }

// AddRun stores r in the batch and returns its id; the study must exist.
// A repetition already stored, before or earlier in the batch, is
// ErrDuplicate and leaves the batch as it was, so the caller may go on.
// Any other error should end the batch (return it from fn). A skip
// recorded for the run's cell on its host is removed when the batch
// commits.
func (b *Batch) AddRun(r Run) (int64, error) {
	enc, err := encodeValidRun(&r)
	if err != nil {
		return 0, err
	}
	sid, hid, err := b.ids(r.Study, r.Host)
	if err != nil {
		return 0, fmt.Errorf("add run of cell %q: %w", r.Cell.Key, err)
	}
	// A failed statement (a duplicate) is undone alone; the transaction
	// and the runs stored before it stay.
	res, err := b.ins.ExecContext(b.ctx, append([]any{sid, hid}, enc...)...)
	if isUnique(err) {
		return 0, fmt.Errorf("study %q host %s cell %q repetition %d (warm-up %v): %w", r.Study, r.Host.Hostname, r.Cell.Key, r.Repetition, r.Warmup, ErrDuplicate)
	}
	if err != nil {
		return 0, fmt.Errorf("add run of cell %q: %w", r.Cell.Key, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	b.ran[ranCell{sid, r.Host.Hostname, r.Cell.Key}] = true
	b.added++
	return id, nil
}

// NextRepetition is Store.NextRepetition seen from inside the batch: the
// runs the batch stored so far count.
func (b *Batch) NextRepetition(study, host, cellKey string) (int, error) {
	sid, err := b.studyID(study)
	if err != nil {
		return 0, err
	}
	var n sql.NullInt64
	err = b.tx.QueryRowContext(b.ctx, `SELECT max(repetition) FROM runs WHERE study_id = ? AND hostname = ? AND cell_key = ? AND warmup = 0`, sid, host, cellKey).Scan(&n)
	if err != nil || !n.Valid {
		return 0, err
	}
	return int(n.Int64) + 1, nil
}

func (b *Batch) studyID(study string) (int64, error) {
	if id, ok := b.studyIDs[study]; ok {
		return id, nil
	}
	b.s.mu.Lock()
	id, ok := b.s.studyIDs[study]
	b.s.mu.Unlock()
	if !ok {
		var err error
		if id, err = b.s.studyID(b.ctx, b.tx, study); err != nil {
			return 0, err
		}
	}
	b.studyIDs[study] = id
	return id, nil
}

func (b *Batch) ids(study string, h Host) (sid, hid int64, err error) {
	if sid, err = b.studyID(study); err != nil {
		return 0, 0, err
	}
	if id, ok := b.hostIDs[h]; ok {
		return sid, id, nil
	}
	b.s.mu.Lock()
	hid, ok := b.s.hostIDs[h]
	b.s.mu.Unlock()
	if !ok {
		if hid, err = hostID(b.ctx, b.tx, h); err != nil {
			return 0, 0, err
		}
	}
	b.hostIDs[h] = hid
	return sid, hid, nil
}

// AddRuns stores runs in one transaction (see Batch) and returns their
// ids in order, 0 for a run already stored (or given twice). An error
// other than a duplicate stores none of them.
func (s *Store) AddRuns(ctx context.Context, runs []Run) ([]int64, error) {
	ids := make([]int64, len(runs))
	err := s.Batch(ctx, func(b *Batch) error {
		for i, r := range runs {
			id, err := b.AddRun(r)
			if errors.Is(err, ErrDuplicate) {
				continue
			}
			if err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
