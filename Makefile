# hpcbench: build, test and demo on a Debian 12 machine (as root).
#
#   make setup    install and start what hpcbench needs (scripts/setup-debian.sh),
#                 hpcbench's three MPICH builds included
#   make build    bin/hpcbench (the front program: launches under PMI-1 and
#                 PMI-2, native or in a container, and the version itself,
#                 everything else handed to the full program)
#                 and bin/hpcbench-full (every verb)
#   make install  both to $(PREFIX)/bin (default /usr/local/bin); the
#                 installed hpcbench carries its kernels' sources and builds
#                 them on first use, so "hpcbench matrix" runs in any folder
#   make kernels  the project's MPI kernels (npb/kernels)
#   make lint     gofmt, go vet and staticcheck, with and without cgo
#   make test     setup, build, kernels, lint, then every Go test against the real tools
#                 (pmi, matrix, results and slurm with the race detector), closing
#                 with "N passed, N failed, N skipped"; HPCBENCH_REQUIRE_ALL=1
#                 (set by .ci/run) turns every skip into a failure
#   make bench    build, kernels, then every Go benchmark once
#   make images   the quick study's container images (one per MPI), built locally
#   make mpich    MPICH 4.0.2 built three times, one per PMI layer, under
#                 /opt/hpcbench/mpich-{pmi1,pmi2,pmix} (scripts/build-mpich.sh,
#                 which setup runs; skipped when complete)
#   make test-mpich  only the tests that run real jobs on those builds
#   make hardening   the tests that kill, starve and resume hpcbench on purpose:
#                 detection that times out, resume without a study row, stale
#                 skips, SIGKILLs at random points of a study, and that nothing
#                 (folders, processes, containers) is left after each
#   make demo     setup, build, kernels, images, then the quick study and its
#                 PDF report (out/hpcbench.db, out/quick-report.pdf)

export PATH := /usr/local/go/bin:$(PATH)

# bash for pipefail in the test recipe.
SHELL        := /bin/bash

GO           ?= go
BIN          := bin/hpcbench
VERSION      := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X github.com/hpcbench/hpcbench/buildinfo.Version=$(VERSION)
TEST_TIMEOUT ?= 40m
TEST_FLAGS   ?=

PREFIX       ?= /usr/local

.PHONY: all setup build install kernels images lint test test-mpich hardening mpich bench demo clean

all: build

setup:
	bash scripts/setup-debian.sh

# Always handed to go build, which knows what is up to date. Neither
# program needs the CLI library's man-page generator (urfave_cli_no_docs);
# the front program is static and links no PMIx (cmd/hpcbench/front).
BUILD_TAGS   := urfave_cli_no_docs

build:
	$(GO) build -tags $(BUILD_TAGS) -ldflags '$(LDFLAGS)' -o $(BIN)-full ./cmd/hpcbench
	CGO_ENABLED=0 $(GO) build -tags $(BUILD_TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hpcbench/front

install: build
	install -D -m 0755 $(BIN)-full $(DESTDIR)$(PREFIX)/bin/hpcbench-full
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/hpcbench

kernels:
	@if [ -f npb/kernels/Makefile ]; then \
		$(MAKE) -C npb/kernels; \
	else \
		echo "kernels: npb/kernels/Makefile not found; skipping the kernel build"; \
	fi

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The second leg builds without cgo, as users without a C compiler or
# libpmix do: PMIx is then a stub (pmi/pmix) whose code and tests run only
# there.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) vet ./...
	CGO_ENABLED=0 $(GO) run $(STATICCHECK) ./...
	CGO_ENABLED=0 $(GO) test ./pmi/...

# Tests that need Slurm start their own cluster with scripts/slurm-up.sh.
# The packages with the most goroutines run with the race detector; all
# results go through one summary (internal/testsummary), which prints each
# package's ok/FAIL line, the output of failed tests and the skipped tests.
RACE_PKGS := ./pmi/... ./matrix ./results ./slurm

test: setup build kernels lint
	@set -o pipefail; { \
		$(GO) test -json -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) \
			$$($(GO) list ./... | grep -v -x -F $$($(GO) list $(RACE_PKGS) | sed 's/^/-e /')); plain=$$?; \
		$(GO) test -json -race -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(RACE_PKGS); race=$$?; \
		[ $$plain -eq 0 ] && [ $$race -eq 0 ]; \
	} | $(GO) run ./internal/testsummary

# hpcbench's three MPICH builds, one per PMI layer (cached: skipped when
# complete; setup runs the same script), and the tests that run real jobs
# on them (part of make test too).
mpich:
	bash scripts/build-mpich.sh

test-mpich: build kernels
	@set -o pipefail; $(GO) test -json -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) \
		-run 'OnEachBuild|DoctorVerify|ConformanceMPIBuilds' ./cmd/hpcbench ./runtimes | $(GO) run ./internal/testsummary

# Each probe of the hardening issue kept as a test; every one is also part
# of make test. The container sweep is tested with stand-in runtime programs.
HARDENING_TESTS := KillLoopAndResume|KillLoopContainers|ConformanceIsolation|InjectedScriptsRunNothing|Strangers|Tokens|LaunchHostilePMIClients|LaunchVerbTooManyRanks|LaunchVerbTimeoutWhileSpawning|LaunchVerbWorldGuard|LaunchDefaultTimeout|RunCeilings|MaxRanksPerLaunch|ParseIsBounded|KillAndResume|ProbeTimeout|RunDeferredWhenItsRuntimeTimesOut|WorkFolderRemovedOrKept|ResumeStartsAStudyWithoutItsRow|SkipsOfCellsWithRunsGo|PMIxFolderGoneAfterKill|SweepLeftoversOfEveryRuntime|StaleTempDirsRemoved|TestSweep|TestOwner
HARDENING_PKGS  := ./matrix ./inventory ./results ./runtimes ./internal/leftover ./cmd/hpcbench ./slurm ./pmi ./configs

hardening: build kernels
	@set -o pipefail; $(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) \
		-run '$(HARDENING_TESTS)' $(HARDENING_PKGS) | $(GO) run ./internal/testsummary

bench: build kernels
	$(GO) test -run '^$$' -bench . -benchtime=1x -timeout $(TEST_TIMEOUT) ./...

# Minimal images (the ldd closure of the kernels and the MPI, plus busybox)
# for Docker, Podman, Apptainer and OCI bundles; skipped when unchanged.
images: build kernels
	$(BIN) image build --mpi mpich --name hpcbench-mpich --minimal \
		--binaries $$(ls -d $(CURDIR)/npb/kernels/build/mpich/* | paste -sd, -)
	$(BIN) image build --mpi openmpi --name hpcbench-openmpi --minimal \
		--binaries $$(ls -d $(CURDIR)/npb/kernels/build/openmpi/* | paste -sd, -)

DEMO_DB ?= out/hpcbench.db

demo: setup build kernels images
	@mkdir -p out
	$(BIN) doctor
	$(BIN) matrix --db $(DEMO_DB) configs/quick.toml
	$(BIN) results show --db $(DEMO_DB)
	$(BIN) report --db $(DEMO_DB) -o out/quick-report.pdf

clean:
	rm -rf bin out
	@if [ -f npb/kernels/Makefile ]; then $(MAKE) -C npb/kernels clean; fi
