package main

import (
	"testing"

	"github.com/hpcbench/hpcbench/internal/pmiexit"
)

// TestMain finalises the PMIx server the tests' jobs started in this
// process, as hpcbench's main does.
func TestMain(m *testing.M) { pmiexit.Main(m) }
