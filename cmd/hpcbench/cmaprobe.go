package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hpcbench/hpcbench/runtimes"
)

// cmaProbeCommand is one rank of the cross-memory attach probe the matrix
// runs in each container cell's containers (runtimes.ProbeCMA); not for
// people, hence hidden.
func cmaProbeCommand() *cli.Command {
	return &cli.Command{
		Name:      runtimes.CMAProbeVerb,
		Hidden:    true,
		Usage:     "(run by hpcbench as two ranks) try process_vm_readv between them, in folder DIR",
		UsageText: "hpcbench cma-probe DIR",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("cma-probe: want one folder")
			}
			return runtimes.RunCMAProbe(c.Args().First())
		},
	}
}
