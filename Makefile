# hpcbench: build, test and demo on a Debian 12 machine (as root).
#
#   make setup    install and start what hpcbench needs (scripts/setup-debian.sh)
#   make build    bin/hpcbench
#   make kernels  the project's MPI kernels (npb/kernels)
#   make test     setup, build, kernels, then every Go test against the real tools
#   make bench    build, kernels, then every Go benchmark once
#   make demo     setup, build, kernels, then doctor and the quick study's plan

export PATH := /usr/local/go/bin:$(PATH)

GO           ?= go
BIN          := bin/hpcbench
VERSION      := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X github.com/hpcbench/hpcbench/buildinfo.Version=$(VERSION)
TEST_TIMEOUT ?= 40m
TEST_FLAGS   ?=

.PHONY: all setup build kernels test bench demo clean

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

# Tests that need Slurm start their own cluster with scripts/slurm-up.sh.
test: setup build kernels
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

bench: build kernels
	$(GO) test -run '^$$' -bench . -benchtime=1x -timeout $(TEST_TIMEOUT) ./...

demo: setup build kernels
	$(BIN) doctor
	$(BIN) matrix --dry-run configs/quick.toml

clean:
	rm -rf bin
	@if [ -f npb/kernels/Makefile ]; then $(MAKE) -C npb/kernels clean; fi
