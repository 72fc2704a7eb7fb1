package results

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNotJSONLines is returned by Import for a file that is not JSON lines
// when no parser for raw benchmark output was given.
var ErrNotJSONLines = errors.New("not JSON lines")

// Record is one result as "hpcbench parse" prints it: NPB (kind, benchmark,
// class, size, iterations, time_s, mops_total, valid, invalid_reason), HPL
// (n, nb, p, q, time_s, gflops, passed, ...) or HPCC (kind "hpcc" and the
// summary keys, HPL_Tflops and so on).
type Record map[string]any

// RawParser turns a raw benchmark log into Records; the CLI supplies one
// built on the npb parsers, so this package need not import them. ranks is
// the rank count the runs were launched with (0: unknown).
type RawParser func(name string, data []byte, ranks int) ([]Record, error)

// ImportOptions say where imported results go.
type ImportOptions struct {
	// Study receives the runs; it is created when absent. For exported
	// runs (JSON lines of Run) an empty Study keeps each run's own.
	Study string
	// Host is recorded for parsed results (exported runs carry their
	// own); default ThisHost().
	Host Host
	// Cell gives the axes a parsed result does not carry (runtime, layout,
	// mpi, pmi, ranks, ...); benchmark, kind and class come from the result
	// when empty here.
	Cell Cell
	// Version is hpcbench's version, recorded on a study this creates.
	Version string
	// ParseRaw parses a file that is not JSON lines; nil rejects such files.
	ParseRaw RawParser
	// Now stamps parsed results; default time.Now.
	Now func() time.Time
}

// ImportStats counts what Import did.
type ImportStats struct {
	Added      int
	Duplicates int // exported runs already in the store
}

// Import adds the results in data (read from the file name, used in
// errors) to st: JSON lines of parsed results, JSON lines of exported runs
// ("hpcbench results export --json"), or a raw benchmark log when
// opt.ParseRaw is set. The file is stored in one transaction: whole, or
// (on an error, or a kill) not at all, so importing it again after a
// failure neither misses nor doubles a run.
func Import(ctx context.Context, st *Store, name string, data []byte, opt ImportOptions) (ImportStats, error) {
	var is ImportStats
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Host.Hostname == "" {
		opt.Host = ThisHost()
	}
	trimmed := bytes.TrimSpace(data)
	var records []Record
	var exported []exportedRun
	var raw []byte
	if len(trimmed) > 0 && trimmed[0] == '{' {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		for line := 1; sc.Scan(); line++ {
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			var head map[string]json.RawMessage
			if err := json.Unmarshal(text, &head); err != nil {
				return is, fmt.Errorf("%s:%d: not a JSON object: %w", name, line, err)
			}
			if _, ok := head["cell"]; ok {
				r, err := readExportedRun(name, line, text, opt)
				if err != nil {
					return is, err
				}
				exported = append(exported, exportedRun{r, line})
				continue
			}
			var rec Record
			dec := json.NewDecoder(bytes.NewReader(text))
			dec.UseNumber()
			if err := dec.Decode(&rec); err != nil {
				return is, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			records = append(records, rec)
		}
		if err := sc.Err(); err != nil {
			return is, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		if opt.ParseRaw == nil {
			return is, fmt.Errorf("%s: %w (give the output of 'hpcbench parse' or 'hpcbench results export --json')", name, ErrNotJSONLines)
		}
		var err error
		if records, err = opt.ParseRaw(name, data, opt.Cell.Ranks); err != nil {
			return is, fmt.Errorf("%s: %w", name, err)
		}
		raw = data
	}
	if len(records) > 0 && opt.Study == "" {
		opt.Study = "import"
	}
	var parsed []Run
	for i, rec := range records {
		run, err := recordRun(rec, opt)
		if err != nil {
			return is, fmt.Errorf("%s: result %d: %w", name, i+1, err)
		}
		run.Output = raw
		parsed = append(parsed, run)
	}
	// The studies first, each in its own short transaction, as before a
	// run is stored.
	seen := map[string]bool{}
	for _, e := range exported {
		if !seen[e.run.Study] {
			seen[e.run.Study] = true
			if err := ensureStudy(ctx, st, e.run.Study, opt.Version, opt.Now()); err != nil {
				return is, err
			}
		}
	}
	if len(parsed) > 0 && !seen[opt.Study] {
		if err := ensureStudy(ctx, st, opt.Study, opt.Version, opt.Now()); err != nil {
			return is, err
		}
	}
	if len(exported) == 0 && len(parsed) == 0 {
		return is, nil
	}
	err := st.Batch(ctx, func(b *Batch) error {
		for _, e := range exported {
			_, err := b.AddRun(e.run)
			switch {
			case errors.Is(err, ErrDuplicate):
				is.Duplicates++
			case err != nil:
				return fmt.Errorf("%s:%d: %w", name, e.line, err)
			}
		}
		// Parsed results continue their cell's numbering, counting
		// those stored earlier in this file.
		for i, run := range parsed {
			var err error
			if run.Repetition, err = b.NextRepetition(run.Study, run.Host.Hostname, run.Cell.Key); err != nil {
				return err
			}
			if _, err := b.AddRun(run); err != nil {
				return fmt.Errorf("%s: result %d: %w", name, i+1, err)
			}
		}
		is.Added = b.Added()
		return nil
	})
	if err != nil {
		return ImportStats{}, err
	}
	return is, nil
}

type exportedRun struct {
	run  Run
	line int
}

// ensureStudy creates an import study unless one of that name exists
// (whatever its config: importing into a matrix's study is intended).
func ensureStudy(ctx context.Context, st *Store, name, version string, now time.Time) error {
	if _, err := st.Study(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, ErrNoStudy) {
		return err
	}
	err := st.CreateStudy(ctx, Study{Name: name, Created: now, Version: version})
	if errors.Is(err, ErrConfigChanged) { // created meanwhile by another process
		return nil
	}
	return err
}

// readExportedRun reads one line of exported runs.
func readExportedRun(name string, line int, text []byte, opt ImportOptions) (Run, error) {
	var r Run
	if err := json.Unmarshal(text, &r); err != nil {
		return r, fmt.Errorf("%s:%d: not an exported run: %w", name, line, err)
	}
	r.ID = 0
	if opt.Study != "" {
		r.Study = opt.Study
	}
	if r.Study == "" {
		return r, fmt.Errorf("%s:%d: run has no study; give --study", name, line)
	}
	return r, nil
}

// recordRun maps a parsed result onto a run of the cell opt describes.
func recordRun(rec Record, opt ImportOptions) (Run, error) {
	c := opt.Cell
	kind := rec.str("kind")
	if c.Kind == "" {
		c.Kind = kind
	}
	if c.Benchmark == "" {
		c.Benchmark = rec.str("benchmark")
	}
	if c.Benchmark == "" {
		return Run{}, fmt.Errorf("no benchmark in the result; give --cell benchmark=NAME")
	}
	if c.Runtime == "" {
		c.Runtime = "native"
	}
	if c.Class == "" {
		c.Class = rec.str("class")
		if c.Class == "" && (kind == "hpl" || kind == "hpcc") {
			if n, ok := rec.num("n"); ok {
				c.Class = fmt.Sprintf("N%d", int(n))
			} else if n, ok := rec.num("HPL_N"); ok {
				c.Class = fmt.Sprintf("N%d", int(n))
			}
		}
	}
	if c.Ranks == 0 {
		for _, k := range []string{"total_processes", "CommWorldProcs"} {
			if n, ok := rec.num(k); ok {
				c.Ranks = int(n)
				break
			}
		}
		if p, ok := rec.num("p"); ok {
			if q, ok := rec.num("q"); ok {
				c.Ranks = int(p * q)
			}
		}
	}
	if c.Key == "" {
		c.Key = c.CanonicalKey()
	}
	now := opt.Now()
	r := Run{Study: opt.Study, Host: opt.Host, Cell: c, Status: StatusOK, Started: now, Finished: now,
		Metrics: map[string]any{}}
	for k, v := range rec {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				r.Metrics[k] = f
				continue
			}
		}
		r.Metrics[k] = v
	}
	valid, hasValid := rec["valid"].(bool)
	passed, hasPassed := rec["passed"].(bool)
	switch {
	case hasValid && !valid:
		r.Status, r.Reason = StatusInvalid, rec.str("invalid_reason")
		if r.Reason == "" {
			r.Reason = "the parser marked the result invalid"
		}
	case hasPassed && !passed:
		r.Status, r.Reason = StatusInvalid, "residual check FAILED"
	}
	if v, ok := rec.num("Success"); ok && kind == "hpcc" && v != 1 && r.Status == StatusOK {
		r.Status, r.Reason = StatusInvalid, "HPCC reported Success=0"
	}
	// The headline metric follows the parsers: Mop/s for NPB, Gflop/s for HPL and HPCC.
	switch {
	case has(rec, "mops_total"):
		v, _ := rec.num("mops_total")
		r.Metric = Metric{Name: "mops_total", Value: v, Unit: "Mop/s", HigherIsBetter: true}
	case has(rec, "gflops"):
		v, _ := rec.num("gflops")
		r.Metric = Metric{Name: "gflops", Value: v, Unit: "Gflop/s", HigherIsBetter: true}
	case has(rec, "HPL_Tflops"):
		v, _ := rec.num("HPL_Tflops")
		r.Metric = Metric{Name: "gflops", Value: 1000 * v, Unit: "Gflop/s", HigherIsBetter: true}
	case has(rec, "time_s"):
		v, _ := rec.num("time_s")
		r.Metric = Metric{Name: "time_s", Value: v, Unit: "s"}
	default:
		if r.Status == StatusOK {
			r.Status, r.Reason = StatusInvalid, "no metric in the result"
		}
	}
	if t, ok := rec.num("time_s"); ok && t > 0 {
		r.Started = now.Add(-time.Duration(t * float64(time.Second)))
	}
	return r, nil
}

func has(rec Record, k string) bool { _, ok := rec.num(k); return ok }

func (rec Record) str(k string) string {
	s, _ := rec[k].(string)
	return strings.TrimSpace(s)
}

func (rec Record) num(k string) (float64, bool) {
	switch v := rec[k].(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	}
	return 0, false
}

// ExportFormat is a format Export writes.
type ExportFormat string

const (
	ExportCSV  ExportFormat = "csv"
	ExportJSON ExportFormat = "json" // JSON lines, one Run per line; Import reads them back
)

// csvHeader names the CSV columns, one per flat field of a Run.
var csvHeader = []string{"id", "study", "hostname", "cpu_model", "cores", "memory_bytes", "kernel",
	"cell_key", "benchmark", "kind", "class", "mpi", "mpi_version", "pmi", "runtime", "runtime_version",
	"image", "image_digest", "image_verification", "layout", "ranks", "bind", "oversubscribed", "repetition", "warmup",
	"status", "reason", "metric", "value", "unit", "higher_is_better", "wall_s", "wireup_s", "first_fence_s",
	"container_start_s", "pmi_exchange_s", "negotiated_pmi", "exit_codes", "peak_rss_kib", "started", "finished", "slurm_job_id", "order", "seed",
	"metrics", "choices", "env", "argv"}

// Export writes runs to w.
func Export(w io.Writer, runs []Run, format ExportFormat) error {
	switch format {
	case ExportJSON:
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		for i := range runs {
			r := runs[i]
			r.Metrics = nonNilMap(r.Metrics)
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("export run %d: %w", r.ID, err)
			}
		}
		return bw.Flush()
	case ExportCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
		for _, r := range runs {
			c := r.Cell
			js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
			rec := []string{itoa(r.ID), r.Study, r.Host.Hostname, r.Host.CPUModel, strconv.Itoa(r.Host.Cores), itoa(r.Host.MemoryBytes), r.Host.Kernel,
				c.Key, c.Benchmark, c.Kind, c.Class, c.MPI, c.MPIVersion, c.PMI, c.Runtime, c.RuntimeVersion,
				c.Image, c.ImageDigest, c.ImageVerification, c.Layout, strconv.Itoa(c.Ranks), c.Bind, strconv.FormatBool(c.Oversubscribed), strconv.Itoa(r.Repetition), strconv.FormatBool(r.Warmup),
				string(r.Status), r.Reason, r.Metric.Name, ftoa(r.Metric.Value), r.Metric.Unit, strconv.FormatBool(r.Metric.HigherIsBetter),
				ftoa(r.Wall.Seconds()), ftoa(r.WireUp.Seconds()), ftoa(r.FirstFence.Seconds()),
				ftoa(r.ContainerStart.Seconds()), ftoa(r.PMIExchange.Seconds()),
				strings.Join(r.NegotiatedPMI, ";"), joinInts(r.ExitCodes), joinInts(r.PeakRSSKiB),
				formatTime(r.Started), formatTime(r.Finished), r.SlurmJobID, strconv.Itoa(r.Order), itoa(r.Seed),
				js(nonNilMap(r.Metrics)), js(r.Choices), js(r.Env), js(r.Argv)}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("export: unknown format %q (want csv or json)", format)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa(f float64) string {
	if math.IsNaN(f) {
		return ""
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func joinInts[T int | int64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(int64(x), 10)
	}
	return strings.Join(s, ";")
}

// ThisHost describes the machine hpcbench runs on, as far as a portable
// look at /proc allows; fields it cannot read stay empty.
func ThisHost() Host {
	h := Host{}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				if h.CPUModel == "" {
					h.CPUModel = strings.TrimSpace(v)
				}
			case "processor":
				h.Cores++
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				h.MemoryBytes = kb * 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}
