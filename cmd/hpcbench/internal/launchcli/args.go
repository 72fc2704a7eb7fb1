package launchcli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// ReorderArgs moves flags typed after the positional arguments in front of
// them, so "hpcbench matrix quick.toml --db x.db" means what it says:
// urfave/cli v2 stops parsing flags at the first argument and would treat
// "--db" as another file name. Everything after "--" is left alone (it is
// the program "hpcbench launch" runs). An unknown flag is an error rather
// than an argument.
func ReorderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	out := []string{args[0]}
	rest := args[1:]
	// Global flags before the verb (--help, --version) pass through.
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		out = append(out, rest[0])
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return out, nil
	}
	cmds := app.Commands
	var cmd *cli.Command
	// Walk down the verb and its sub-verbs ("results export").
	for len(rest) > 0 {
		c := findCommand(cmds, rest[0])
		if c == nil {
			break
		}
		cmd = c
		out = append(out, rest[0])
		rest = rest[1:]
		if len(c.Subcommands) == 0 {
			break
		}
		cmds = c.Subcommands
	}
	if cmd == nil || len(cmd.Subcommands) > 0 || cmd.SkipFlagParsing {
		return append(out, rest...), nil
	}
	var flags, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		hasValue := false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, hasValue = name[:j], true
		}
		f := FindFlag(cmd, name)
		if f == nil {
			return nil, Usage("%s: unknown flag %s (see 'hpcbench %s --help')", cmd.Name, a, cmd.Name)
		}
		flags = append(flags, a)
		if !hasValue && TakesValue(f) {
			if i+1 >= len(rest) {
				return nil, Usage("%s: flag %s needs a value", cmd.Name, a)
			}
			i++
			flags = append(flags, rest[i])
		}
	}
	out = append(out, flags...)
	return append(out, positional...), nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// FindFlag is cmd's flag called name (-h and --help included), or nil.
func FindFlag(cmd *cli.Command, name string) cli.Flag {
	if name == "help" || name == "h" {
		return cli.HelpFlag
	}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// TakesValue says whether flag f is followed by a value.
func TakesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	panic(fmt.Sprintf("flag %v: cannot tell whether it takes a value", f.Names()))
}
