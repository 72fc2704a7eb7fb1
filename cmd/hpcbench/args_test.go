package main

import (
	"errors"
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
)

func testApp() *cli.App {
	return &cli.App{Name: "hpcbench", Commands: []*cli.Command{
		{Name: "matrix", Flags: []cli.Flag{
			&cli.StringFlag{Name: "db"},
			&cli.BoolFlag{Name: "dry-run"},
			&cli.StringFlag{Name: "filter", Aliases: []string{"f"}},
		}},
		{Name: "launch", Flags: []cli.Flag{&cli.IntFlag{Name: "n"}, &cli.BoolFlag{Name: "tag-output"}}},
		{Name: "results", Subcommands: []*cli.Command{
			{Name: "export", Flags: []cli.Flag{&cli.BoolFlag{Name: "csv"}, &cli.StringFlag{Name: "db"}}},
		}},
	}}
}

func TestReorderArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after the file", []string{"hb", "matrix", "quick.toml", "--db", "x.db", "--dry-run"},
			[]string{"hb", "matrix", "--db", "x.db", "--dry-run", "quick.toml"}},
		{"flag=value form", []string{"hb", "matrix", "quick.toml", "--db=x.db"},
			[]string{"hb", "matrix", "--db=x.db", "quick.toml"}},
		{"already in order", []string{"hb", "matrix", "-f", "mpi=mpich", "quick.toml"},
			[]string{"hb", "matrix", "-f", "mpi=mpich", "quick.toml"}},
		{"the program after -- is untouched", []string{"hb", "launch", "--", "./a.out", "-n", "3", "--tag-output"},
			[]string{"hb", "launch", "--", "./a.out", "-n", "3", "--tag-output"}},
		{"flags between -- and the verb", []string{"hb", "launch", "-n", "4", "--tag-output", "--", "prog"},
			[]string{"hb", "launch", "-n", "4", "--tag-output", "--", "prog"}},
		{"sub-verb", []string{"hb", "results", "export", "--csv", "--db", "a.db"},
			[]string{"hb", "results", "export", "--csv", "--db", "a.db"}},
		{"sub-verb flags after args", []string{"hb", "results", "export", "study1", "--csv"},
			[]string{"hb", "results", "export", "--csv", "study1"}},
		{"global flags", []string{"hb", "--help"}, []string{"hb", "--help"}},
		{"unknown verb passes through", []string{"hb", "frobnicate", "--x"}, []string{"hb", "frobnicate", "--x"}},
	} {
		got, err := launchcli.ReorderArgs(testApp(), tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestReorderArgsRejectsUnknownFlags(t *testing.T) {
	for _, in := range [][]string{
		{"hb", "matrix", "quick.toml", "--bd", "x.db"},
		{"hb", "matrix", "quick.toml", "--db"},
	} {
		_, err := launchcli.ReorderArgs(testApp(), in)
		var ee *exitError
		if !errors.As(err, &ee) || ee.Code != 2 {
			t.Errorf("%q: want a usage error (exit 2), got %v", in, err)
		}
	}
}
