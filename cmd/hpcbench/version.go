package main

import (
	"fmt"
	"runtime"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/urfave/cli/v2"
)

func versionString() string {
	return fmt.Sprintf("%s (%s, %s/%s)", buildinfo.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionCommand is "hpcbench version".
func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print hpcbench's version",
		UsageText: "hpcbench version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "hpcbench %s\n", versionString())
			return nil
		},
	}
}
