package main

import (
	"fmt"

	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// doctor --clean removes the containers a killed hpcbench left behind.
var _ = extendDoctor([]cli.Flag{
	&cli.BoolFlag{Name: "clean", Usage: "remove containers left behind by an hpcbench that was killed (labelled hpcbench.job; a live run's containers are kept), then exit"},
}, func(c *cli.Context) (bool, error) {
	if !c.Bool("clean") {
		return false, nil
	}
	removed, err := runtimes.CleanupLeftovers(c.Context)
	for _, name := range removed {
		fmt.Fprintf(c.App.Writer, "removed %s\n", name)
	}
	if err == nil {
		fmt.Fprintf(c.App.Writer, "%d leftover containers removed\n", len(removed))
	}
	return true, err
})
