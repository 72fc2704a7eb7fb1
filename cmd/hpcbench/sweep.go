package main

import (
	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/urfave/cli/v2"
)

// launching makes cmd a verb that launches ranks (launchcli.Launching)
// with the housekeeping both programs share (launchcli.RuntimesKeeper).
func launching(cmd *cli.Command, skip func(*cli.Context) bool, early bool) *cli.Command {
	return launchcli.Launching(cmd, skip, early, launchcli.RuntimesKeeper())
}
