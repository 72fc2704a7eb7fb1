# hpcbench: build, test and demo on a Debian 12 machine (as root).
#
#   make setup    install and start what hpcbench needs (scripts/setup-debian.sh)
#   make build    bin/hpcbench
#   make kernels  the project's MPI kernels (npb/kernels)
#   make lint     gofmt, go vet and staticcheck
#   make test     setup, build, kernels, lint, then every Go test against the real tools
#   make bench    build, kernels, then every Go benchmark once
#   make images   the quick study's container images (one per MPI), built locally
#   make demo     setup, build, kernels, images, then the quick study and its
#                 PDF report (out/hpcbench.db, out/quick-report.pdf)

export PATH := /usr/local/go/bin:$(PATH)

GO           ?= go
BIN          := bin/hpcbench
VERSION      := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X github.com/hpcbench/hpcbench/buildinfo.Version=$(VERSION)
TEST_TIMEOUT ?= 40m
TEST_FLAGS   ?=

.PHONY: all setup build kernels images lint test bench demo clean

all: build

setup:
	bash scripts/setup-debian.sh

# Always handed to go build, which knows what is up to date.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hpcbench

kernels:
	@if [ -f npb/kernels/Makefile ]; then \
		$(MAKE) -C npb/kernels; \
	else \
		echo "kernels: npb/kernels/Makefile not found; skipping the kernel build"; \
	fi

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Tests that need Slurm start their own cluster with scripts/slurm-up.sh.
test: setup build kernels lint
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

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
