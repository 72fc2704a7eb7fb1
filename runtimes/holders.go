package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hpcbench/hpcbench/internal/launchstate"
)

// A Docker or Podman job of several ranks in private isolation joins a pid
// namespace held by a sleeping container, whose start (0.1 to 0.5 s) is
// part of the job's wire-up, and whose removal (0.2 to 0.4 s) follows
// every job. A process that runs many jobs (a study) may keep the holders
// instead (ReuseHolders): a job's holder goes back to the process once the
// job's containers are all removed, so the next job of the same engine and
// image joins a namespace in which nothing of the last job is left; no two
// jobs ever share one at once. The kept holders are labelled as jobs of
// their own ("<pid>-h<N>", owner this process): ReleaseHolders removes
// them, and a killed process's are the leftover sweep's.

var holderReuse holderPool

type holderPool struct {
	enabled atomic.Bool
	mu      sync.Mutex
	n       int
	idle    map[string][]string // holder names by holderKey
	engines map[string]*engine  // the engine of every holder kept, by name
}

// ReuseHolders makes this process keep Docker's and Podman's pid namespace
// holders for its later jobs; it must call ReleaseHolders before it ends.
func ReuseHolders() { holderReuse.enabled.Store(true) }

// newName names a new holder kept for reuse, and its job label.
func (p *holderPool) newName() (name, label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	label = strconv.Itoa(os.Getpid()) + "-h" + strconv.Itoa(p.n)
	return pidHolderName(label), label
}

// take hands out an idle holder of key.
func (p *holderPool) take(key string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := p.idle[key]
	if len(names) == 0 {
		return "", false
	}
	name := names[len(names)-1]
	p.idle[key] = names[:len(names)-1]
	return name, true
}

// give takes back a holder whose job's containers are all gone, or
// removes it once the process no longer keeps holders.
func (p *holderPool) give(ctx context.Context, key, name string, e *engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled.Load() {
		p.drop(ctx, name, e)
		return
	}
	if p.idle == nil {
		p.idle, p.engines = map[string][]string{}, map[string]*engine{}
	}
	p.idle[key] = append(p.idle[key], name)
	p.engines[name] = e
}

// drop removes a holder that is not to be reused.
func (p *holderPool) drop(ctx context.Context, name string, e *engine) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	if _, err := e.tool(ctx, e.forceRemove([]string{name})...); err != nil {
		launchstate.CleanupFailed(err)
	}
}

// ReleaseHolders removes the holders this process kept (ReuseHolders),
// and stops keeping them.
func ReleaseHolders(ctx context.Context) error {
	p := &holderReuse
	p.enabled.Store(false)
	p.mu.Lock()
	byEngine := map[*engine][]string{}
	for _, names := range p.idle {
		for _, n := range names {
			byEngine[p.engines[n]] = append(byEngine[p.engines[n]], n)
		}
	}
	p.idle, p.engines = nil, nil
	p.mu.Unlock()
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	var errs []error
	for e, names := range byEngine {
		if _, err := e.tool(ctx, e.forceRemove(names)...); err != nil {
			errs = append(errs, fmt.Errorf("%s: removing the pid namespace holders %v: %w", e.name, names, err))
		}
	}
	return launchstate.CleanupFailed(errors.Join(errs...))
}
