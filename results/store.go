package results

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrDuplicate is returned by AddRun for a repetition already stored
	// (same study, host, cell key, repetition and warm-up flag).
	ErrDuplicate = errors.New("run already stored")
	// ErrNoStudy is returned when a named study, or any study, is absent.
	ErrNoStudy = errors.New("no such study")
	// ErrConfigChanged is returned by CreateStudy when a study of that name
	// exists with a different config: resuming it would mix two matrices.
	ErrConfigChanged = errors.New("study exists with a different config")
	// ErrNewerSchema is returned by Open for a file written by a newer hpcbench.
	ErrNewerSchema = errors.New("database schema is newer than this hpcbench")
)

// migrations[i] brings the schema from user_version i to i+1.
var migrations = []string{
	`CREATE TABLE studies (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		created TEXT NOT NULL,
		seed INTEGER NOT NULL,
		config TEXT NOT NULL,
		config_sha256 TEXT NOT NULL,
		hpcbench_version TEXT NOT NULL
	);
	CREATE TABLE hosts (
		id INTEGER PRIMARY KEY,
		hostname TEXT NOT NULL,
		cpu_model TEXT NOT NULL,
		cores INTEGER NOT NULL,
		memory_bytes INTEGER NOT NULL,
		kernel TEXT NOT NULL,
		UNIQUE (hostname, cpu_model, cores, memory_bytes, kernel)
	);
	CREATE TABLE runs (
		id INTEGER PRIMARY KEY,
		study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
		host_id INTEGER NOT NULL REFERENCES hosts(id),
		hostname TEXT NOT NULL,
		cell_key TEXT NOT NULL,
		benchmark TEXT NOT NULL,
		kind TEXT NOT NULL,
		class TEXT NOT NULL,
		mpi TEXT NOT NULL,
		mpi_version TEXT NOT NULL,
		pmi TEXT NOT NULL,
		runtime TEXT NOT NULL,
		runtime_version TEXT NOT NULL,
		image TEXT NOT NULL,
		image_digest TEXT NOT NULL,
		layout TEXT NOT NULL,
		ranks INTEGER NOT NULL,
		bind TEXT NOT NULL,
		oversubscribed INTEGER NOT NULL,
		repetition INTEGER NOT NULL,
		warmup INTEGER NOT NULL,
		status TEXT NOT NULL CHECK (status IN ('ok', 'invalid', 'failed', 'timeout')),
		reason TEXT NOT NULL,
		metric TEXT NOT NULL,
		value REAL,
		unit TEXT NOT NULL,
		higher_is_better INTEGER NOT NULL,
		metrics TEXT NOT NULL,
		wall_s REAL NOT NULL,
		wireup_s REAL NOT NULL,
		first_fence_s REAL NOT NULL,
		negotiated_pmi TEXT NOT NULL,
		exit_codes TEXT NOT NULL,
		peak_rss_kib TEXT NOT NULL,
		choices TEXT NOT NULL,
		env TEXT NOT NULL,
		argv TEXT NOT NULL,
		output_gz BLOB,
		started TEXT NOT NULL,
		finished TEXT NOT NULL,
		slurm_job_id TEXT,
		order_index INTEGER NOT NULL,
		seed INTEGER NOT NULL,
		UNIQUE (study_id, hostname, cell_key, repetition, warmup)
	);
	CREATE INDEX runs_by_cell ON runs (study_id, benchmark, runtime);
	CREATE TABLE skips (
		id INTEGER PRIMARY KEY,
		study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
		hostname TEXT NOT NULL,
		cell_key TEXT NOT NULL,
		cell TEXT NOT NULL,
		reason TEXT NOT NULL,
		UNIQUE (study_id, hostname, cell_key)
	);`,
	// 2: wire-up split into the ranks' start (spawn to first PMI message,
	// the slowest rank) and the PMI exchange (every rank speaking to the
	// first fence done). Runs stored before have 0: not measured.
	`ALTER TABLE runs ADD COLUMN container_start_s REAL NOT NULL DEFAULT 0;
	ALTER TABLE runs ADD COLUMN pmi_exchange_s REAL NOT NULL DEFAULT 0;`,
	// 3: the outcome of checking the run's image (signature, pinned
	// digest); runs stored before have "": not recorded.
	`ALTER TABLE runs ADD COLUMN image_verification TEXT NOT NULL DEFAULT '';`,
	// 4: a study's runs in the order they were stored, straight from an
	// index (its entries are ordered by study, then row id): reading
	// 100,000 runs back otherwise sorted every column of them in a
	// temporary table.
	`CREATE INDEX IF NOT EXISTS runs_by_study ON runs (study_id);`,
}

// SchemaVersion is the schema this hpcbench writes.
var SchemaVersion = len(migrations)

// Store is an open results file. It is safe for concurrent use, and other
// processes may write to the same file at the same time.
type Store struct {
	db   *sql.DB
	path string

	// Studies and hosts are never deleted, so their row ids can be
	// remembered: a run is then stored with one INSERT.
	mu       sync.Mutex
	studyIDs map[string]int64
	hostIDs  map[Host]int64
}

// Open opens (creating if needed) the results file at path and brings its
// schema up to date.
//
// The file is in WAL mode, with synchronous FULL: a commit returns once
// its log is on the disk, so a stored run survives a crash of the
// machine or a power loss as well as a killed hpcbench. (At NORMAL a
// commit survives a killed process only; the last ones can be rolled
// back by a crash of the machine.) The sync costs a commit about a
// millisecond, nothing beside a benchmark run, and a batch pays it once.
func Open(path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open results %s: %w", path, err)
	}
	s := &Store{db: db, path: path, studyIDs: map[string]int64{}, hostIDs: map[Host]int64{}}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open results %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

func (s *Store) migrate(ctx context.Context) error {
	return s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("%w: version %d, this hpcbench knows up to %d; use a newer hpcbench", ErrNewerSchema, v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("schema migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// retry runs fn again while SQLite reports the file busy or locked beyond
// the busy timeout (another process holding a long write).
func (s *Store) retry(ctx context.Context, fn func() error) error {
	delay := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !isBusy(err) || attempt >= 20 {
			return err
		}
		jitter := time.Duration(rand.Int64N(int64(delay)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay + jitter):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// CreateStudy records a study. A study of the same name with the same
// config is left as it is (a resumed matrix); with another config it is
// ErrConfigChanged.
func (s *Store) CreateStudy(ctx context.Context, st Study) error {
	if st.Name == "" {
		return fmt.Errorf("create study: empty name")
	}
	if st.Created.IsZero() {
		st.Created = time.Now()
	}
	sum := sha256.Sum256([]byte(st.Config))
	st.ConfigSHA256 = hex.EncodeToString(sum[:])
	return s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var have string
		err = tx.QueryRowContext(ctx, "SELECT config_sha256 FROM studies WHERE name = ?", st.Name).Scan(&have)
		switch {
		case err == nil:
			if have != st.ConfigSHA256 {
				return fmt.Errorf("study %q: %w (stored config sha256 %.12s, new %.12s); pick another --study name", st.Name, ErrConfigChanged, have, st.ConfigSHA256)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO studies (name, created, seed, config, config_sha256, hpcbench_version) VALUES (?, ?, ?, ?, ?, ?)`,
			st.Name, formatTime(st.Created), st.Seed, st.Config, st.ConfigSHA256, st.Version)
		if err != nil {
			return err
		}
		return tx.Commit()
	})
}

func (s *Store) studyID(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, "SELECT id FROM studies WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("study %q: %w (see 'hpcbench results list')", name, ErrNoStudy)
	}
	return id, err
}

func hostID(ctx context.Context, tx *sql.Tx, h Host) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO hosts (hostname, cpu_model, cores, memory_bytes, kernel) VALUES (?, ?, ?, ?, ?)`,
		h.Hostname, h.CPUModel, h.Cores, h.MemoryBytes, h.Kernel); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM hosts WHERE hostname = ? AND cpu_model = ? AND cores = ? AND memory_bytes = ? AND kernel = ?`,
		h.Hostname, h.CPUModel, h.Cores, h.MemoryBytes, h.Kernel).Scan(&id)
	return id, err
}

// AddRun stores one repetition in its own transaction and returns its id.
// The study must exist. A repetition already stored is ErrDuplicate. A
// skip recorded for the run's cell on its host goes in the same
// transaction: the cell ran, so the skip's reason no longer holds.
func (s *Store) AddRun(ctx context.Context, r Run) (int64, error) {
	enc, err := encodeValidRun(&r)
	if err != nil {
		return 0, err
	}
	sid, hid, err := s.ids(ctx, r.Study, r.Host)
	if err != nil {
		return 0, fmt.Errorf("add run of cell %q: %w", r.Cell.Key, err)
	}
	var id int64
	err = s.retry(ctx, func() error {
		// Committed, and so safe from a kill, when Commit returns; a kill
		// before leaves neither the run nor the removal of the skip.
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, insertRun, append([]any{sid, hid}, enc...)...)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM skips WHERE study_id = ? AND hostname = ? AND cell_key = ?`,
			sid, r.Host.Hostname, r.Cell.Key); err != nil {
			return err
		}
		return tx.Commit()
	})
	if isUnique(err) {
		return 0, fmt.Errorf("study %q host %s cell %q repetition %d (warm-up %v): %w", r.Study, r.Host.Hostname, r.Cell.Key, r.Repetition, r.Warmup, ErrDuplicate)
	}
	if err != nil {
		return 0, fmt.Errorf("add run of cell %q: %w", r.Cell.Key, err)
	}
	return id, nil
}

// ids returns the row ids of a study (which must exist) and a host
// (recorded if new).
func (s *Store) ids(ctx context.Context, study string, h Host) (sid, hid int64, err error) {
	s.mu.Lock()
	sid, okS := s.studyIDs[study]
	hid, okH := s.hostIDs[h]
	s.mu.Unlock()
	if okS && okH {
		return sid, hid, nil
	}
	err = s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if sid, err = s.studyID(ctx, tx, study); err != nil {
			return err
		}
		if hid, err = hostID(ctx, tx, h); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	s.studyIDs[study], s.hostIDs[h] = sid, hid
	s.mu.Unlock()
	return sid, hid, nil
}

const runColumns = `hostname, cell_key, benchmark, kind, class, mpi, mpi_version, pmi, runtime, runtime_version,
	image, image_digest, layout, ranks, bind, oversubscribed, repetition, warmup, status, reason,
	metric, value, unit, higher_is_better, metrics, wall_s, wireup_s, first_fence_s, negotiated_pmi,
	exit_codes, peak_rss_kib, choices, env, argv, output_gz, started, finished, slurm_job_id, order_index, seed,
	container_start_s, pmi_exchange_s, image_verification`

var insertRun = `INSERT INTO runs (study_id, host_id, ` + runColumns + `) VALUES (?, ?` + strings.Repeat(", ?", 43) + `)`

// encodeValidRun checks r (Run.validate) and encodes its columns, with
// the errors AddRun returns.
func encodeValidRun(r *Run) ([]any, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("add run: %w", err)
	}
	enc, err := encodeRun(r)
	if err != nil {
		return nil, fmt.Errorf("add run of cell %q: %w", r.Cell.Key, err)
	}
	return enc, nil
}

func encodeRun(r *Run) ([]any, error) {
	js := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	var jsons [7]string
	for i, v := range []any{nonNilMap(r.Metrics), r.NegotiatedPMI, r.ExitCodes, r.PeakRSSKiB, r.Choices, r.Env, r.Argv} {
		s, err := js(v)
		if err != nil {
			return nil, fmt.Errorf("encode run: %w", err)
		}
		if s == "null" {
			s = "[]"
			if i == 4 || i == 5 {
				s = "{}"
			}
		}
		jsons[i] = s
	}
	var out []byte
	if r.Output != nil {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(r.Output)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		out = buf.Bytes()
	}
	var value any = r.Metric.Value
	if (r.Status != StatusOK && r.Metric.Value == 0) || math.IsNaN(r.Metric.Value) || math.IsInf(r.Metric.Value, 0) {
		value = nil
	}
	var slurm any
	if r.SlurmJobID != "" {
		slurm = r.SlurmJobID
	}
	c := r.Cell
	return []any{r.Host.Hostname, c.Key, c.Benchmark, c.Kind, c.Class, c.MPI, c.MPIVersion, c.PMI, c.Runtime, c.RuntimeVersion,
		c.Image, c.ImageDigest, c.Layout, c.Ranks, c.Bind, c.Oversubscribed, r.Repetition, r.Warmup, string(r.Status), r.Reason,
		r.Metric.Name, value, r.Metric.Unit, r.Metric.HigherIsBetter, jsons[0], r.Wall.Seconds(), r.WireUp.Seconds(), r.FirstFence.Seconds(), jsons[1],
		jsons[2], jsons[3], jsons[4], jsons[5], jsons[6], out, formatTime(r.Started), formatTime(r.Finished), slurm, r.Order, r.Seed,
		r.ContainerStart.Seconds(), r.PMIExchange.Seconds(), c.ImageVerification}, nil
}

// nonNilMap returns m ready for JSON: never null, and with non-finite
// numbers (a rate computed from a zero time) stored as null.
func nonNilMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			v = nil
		}
		out[k] = v
	}
	return out
}

// AddSkip records a cell that was not run. Recording the same cell again
// replaces its reason. A cell that has runs stored for the study and host
// is not recorded: its runs show it can run there, and a skip beside them
// would say otherwise (see also DropSkipsWithRuns).
func (s *Store) AddSkip(ctx context.Context, k Skip) error {
	if k.Cell.Key == "" {
		return fmt.Errorf("add skip of %s: no cell key", k.Cell.CanonicalKey())
	}
	cell, err := json.Marshal(k.Cell)
	if err != nil {
		return err
	}
	return s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		sid, err := s.studyID(ctx, tx, k.Study)
		if err != nil {
			return err
		}
		// The WHERE also keeps SQLite from reading ON CONFLICT as part of
		// the SELECT (an upsert after INSERT ... SELECT needs one).
		if _, err := tx.ExecContext(ctx, `INSERT INTO skips (study_id, hostname, cell_key, cell, reason)
			SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS
				(SELECT 1 FROM runs WHERE study_id = ? AND hostname = ? AND cell_key = ?)
			ON CONFLICT (study_id, hostname, cell_key) DO UPDATE SET reason = excluded.reason, cell = excluded.cell`,
			sid, k.Host, k.Cell.Key, string(cell), k.Reason, sid, k.Host, k.Cell.Key); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// DropSkipsWithRuns removes the skips recorded for study's cells that have
// runs stored on the same host (skips an older hpcbench recorded after a
// probe timed out, while the cell had runs or before it got them).
func (s *Store) DropSkipsWithRuns(ctx context.Context, study string) error {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return err
	}
	return s.retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM skips WHERE study_id = ? AND EXISTS
			(SELECT 1 FROM runs r WHERE r.study_id = skips.study_id AND r.hostname = skips.hostname AND r.cell_key = skips.cell_key)`, sid)
		return err
	})
}

// Done returns the repetitions of study already stored for host, whatever
// their status: a resumed matrix runs only the others.
func (s *Store) Done(ctx context.Context, study, host string) (map[DoneKey]bool, error) {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT cell_key, repetition, warmup FROM runs WHERE study_id = ? AND hostname = ?`, sid, host)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[DoneKey]bool{}
	for rows.Next() {
		var k DoneKey
		if err := rows.Scan(&k.CellKey, &k.Repetition, &k.Warmup); err != nil {
			return nil, err
		}
		done[k] = true
	}
	return done, rows.Err()
}

// Studies lists the studies, most recent first, with counts.
func (s *Store) Studies(ctx context.Context) ([]StudyInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.name, s.created, s.seed, s.config_sha256, s.hpcbench_version,
		(SELECT count(*) FROM runs r WHERE r.study_id = s.id),
		(SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.status = 'ok'),
		(SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.status = 'invalid'),
		(SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.status = 'failed'),
		(SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.status = 'timeout'),
		(SELECT count(*) FROM skips k WHERE k.study_id = s.id),
		(SELECT count(DISTINCT hostname) FROM runs r WHERE r.study_id = s.id)
		FROM studies s ORDER BY s.created DESC, s.id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StudyInfo
	for rows.Next() {
		var si StudyInfo
		var created string
		if err := rows.Scan(&si.Name, &created, &si.Seed, &si.ConfigSHA256, &si.Version,
			&si.Runs, &si.OK, &si.Invalid, &si.Failed, &si.Timeout, &si.Skipped, &si.Hosts); err != nil {
			return nil, err
		}
		si.Created = parseTime(created)
		out = append(out, si)
	}
	return out, rows.Err()
}

// Study returns the named study, or the most recent one for an empty name.
func (s *Store) Study(ctx context.Context, name string) (Study, error) {
	q := `SELECT name, created, seed, config, config_sha256, hpcbench_version FROM studies `
	var row *sql.Row
	if name == "" {
		row = s.db.QueryRowContext(ctx, q+`ORDER BY created DESC, id DESC LIMIT 1`)
	} else {
		row = s.db.QueryRowContext(ctx, q+`WHERE name = ?`, name)
	}
	var st Study
	var created string
	err := row.Scan(&st.Name, &created, &st.Seed, &st.Config, &st.ConfigSHA256, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		if name == "" {
			return st, fmt.Errorf("%s holds no study yet (run 'hpcbench matrix' or 'hpcbench results import'): %w", s.path, ErrNoStudy)
		}
		return st, fmt.Errorf("study %q in %s: %w (see 'hpcbench results list')", name, s.path, ErrNoStudy)
	}
	st.Created = parseTime(created)
	return st, err
}

// Hosts returns the hosts study's runs ran on.
func (s *Store) Hosts(ctx context.Context, study string) ([]Host, error) {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hostname, cpu_model, cores, memory_bytes, kernel FROM hosts
		WHERE id IN (SELECT DISTINCT host_id FROM runs WHERE study_id = ?) ORDER BY hostname, id`, sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Host
	for rows.Next() {
		var h Host
		if err := rows.Scan(&h.Hostname, &h.CPUModel, &h.Cores, &h.MemoryBytes, &h.Kernel); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// RunsOptions select what Runs reads.
type RunsOptions struct {
	// WithOutput decompresses and returns each run's raw output.
	WithOutput bool
}

// Runs returns study's runs in the order they were stored.
func (s *Store) Runs(ctx context.Context, study string, opt RunsOptions) ([]Run, error) {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return nil, err
	}
	// The count only sizes the slice: runs stored meanwhile are read too.
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE study_id = ?`, sid).Scan(&n); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, runsQuery(opt), sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	runs := make([]Run, 0, n)
	for rows.Next() {
		r := Run{Study: study}
		var value sql.NullFloat64
		var slurm sql.NullString
		var wall, wire, fence, containerStart, exchange float64
		var started, finished string
		var js [7]string
		var gz []byte
		c := &r.Cell
		var status string
		if err := rows.Scan(&r.ID, &r.Host.CPUModel, &r.Host.Cores, &r.Host.MemoryBytes, &r.Host.Kernel,
			&r.Host.Hostname, &c.Key, &c.Benchmark, &c.Kind, &c.Class, &c.MPI, &c.MPIVersion, &c.PMI, &c.Runtime, &c.RuntimeVersion,
			&c.Image, &c.ImageDigest, &c.Layout, &c.Ranks, &c.Bind, &c.Oversubscribed, &r.Repetition, &r.Warmup, &status, &r.Reason,
			&r.Metric.Name, &value, &r.Metric.Unit, &r.Metric.HigherIsBetter, &js[0], &wall, &wire, &fence, &js[1],
			&js[2], &js[3], &js[4], &js[5], &js[6], &gz, &started, &finished, &slurm, &r.Order, &r.Seed,
			&containerStart, &exchange, &c.ImageVerification); err != nil {
			return nil, err
		}
		r.Status = Status(status)
		r.Metric.Value = value.Float64
		r.SlurmJobID = slurm.String
		r.Wall, r.WireUp, r.FirstFence = seconds(wall), seconds(wire), seconds(fence)
		r.ContainerStart, r.PMIExchange = seconds(containerStart), seconds(exchange)
		r.Started, r.Finished = parseTime(started), parseTime(finished)
		if err := decodeJSONColumns(&r, &js); err != nil {
			return nil, fmt.Errorf("run %d: corrupt JSON column: %w", r.ID, err)
		}
		if gz != nil {
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				return nil, fmt.Errorf("run %d: output: %w", r.ID, err)
			}
			if r.Output, err = io.ReadAll(zr); err != nil {
				return nil, fmt.Errorf("run %d: output: %w", r.ID, err)
			}
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// decodeJSONColumns fills r's fields stored as JSON, in the order of
// runColumns: metrics, negotiated PMIs, exit codes, peak RSS, choices,
// environment and command line.
func decodeJSONColumns(r *Run, js *[7]string) error {
	for _, err := range []error{
		decodeAnyMap(js[0], &r.Metrics),
		decodeStrings(js[1], &r.NegotiatedPMI),
		decodeInts(js[2], &r.ExitCodes),
		decodeInts(js[3], &r.PeakRSSKiB),
		decodeStringMap(js[4], &r.Choices),
		decodeStringMap(js[5], &r.Env),
		decodeStrings(js[6], &r.Argv),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// runsQuery selects a study's runs (the study's id its one argument) in
// the order they were stored.
func runsQuery(opt RunsOptions) string {
	cols := make([]string, 0, 43)
	for _, c := range strings.Fields(strings.ReplaceAll(runColumns, ",", " ")) {
		if c == "output_gz" && !opt.WithOutput {
			c = "NULL"
		} else {
			c = "r." + c
		}
		cols = append(cols, c)
	}
	return `SELECT r.id, h.cpu_model, h.cores, h.memory_bytes, h.kernel, ` + strings.Join(cols, ", ") + `
		FROM runs r JOIN hosts h ON h.id = r.host_id WHERE r.study_id = ? ORDER BY r.id`
}

// Skips returns study's skipped cells.
func (s *Store) Skips(ctx context.Context, study string) ([]Skip, error) {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT hostname, cell, reason FROM skips WHERE study_id = ? ORDER BY id`, sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Skip
	for rows.Next() {
		k := Skip{Study: study}
		var cell string
		if err := rows.Scan(&k.Host, &cell, &k.Reason); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cell), &k.Cell); err != nil {
			return nil, fmt.Errorf("skip of study %q: corrupt cell: %w", study, err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// NextRepetition returns one more than the highest non-warm-up repetition
// stored for cellKey (0 if none): where an import continues numbering.
func (s *Store) NextRepetition(ctx context.Context, study, host, cellKey string) (int, error) {
	sid, err := s.studyID(ctx, s.db, study)
	if err != nil {
		return 0, err
	}
	var n sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT max(repetition) FROM runs WHERE study_id = ? AND hostname = ? AND cell_key = ? AND warmup = 0`, sid, host, cellKey).Scan(&n)
	if err != nil || !n.Valid {
		return 0, err
	}
	return int(n.Int64) + 1, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ErrNoDatabase is returned by OpenExisting for a results file that does not exist.
var ErrNoDatabase = errors.New("no results file")

// OpenExisting opens a results file that must already exist: the verbs
// that only read results should not leave an empty file behind a typo.
func OpenExisting(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w %s (run 'hpcbench matrix' or 'hpcbench results import' first, or give --db FILE)", ErrNoDatabase, path)
		}
		return nil, err
	}
	return Open(path)
}
