package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/results"
	"github.com/urfave/cli/v2"
)

// completionFlag is the hidden flag urfave/cli answers with the words that
// may follow the command line before it (its shell completion support).
const completionFlag = "--generate-bash-completion"

// completionCommand is "hpcbench completion bash|zsh|fish".
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		UsageText: "hpcbench completion bash|zsh|fish",
		Description: `Completes verbs, flags, config files (any file where a verb takes one) and,
after --study, the studies of the results file (--db, default hpcbench.db).

   bash:  source <(hpcbench completion bash)    (or save it under /etc/bash_completion.d/hpcbench)
   zsh:   source <(hpcbench completion zsh)
   fish:  hpcbench completion fish > ~/.config/fish/completions/hpcbench.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("completion: want one shell: bash, zsh or fish")
			}
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("completion fish: %w", err)
				}
				_, err = fmt.Fprintln(c.App.Writer, script)
				return err
			}
			return usageError("completion: shell %q: want bash, zsh or fish", c.Args().First())
		},
	}
}

// The scripts ask hpcbench itself for the candidates: the words typed so
// far (the one being typed too when it is a flag), then completionFlag.
// Nothing printed falls back to file names, which is what a config file
// or an output file wants.
const bashCompletion = `# hpcbench completion for bash: source <(hpcbench completion bash)
_hpcbench_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	if [[ $cur == -* ]]; then
		args+=("$cur")
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${args[@]}" ` + completionFlag + ` 2>/dev/null)" -- "$cur"))
}
complete -o default -o bashdefault -F _hpcbench_complete hpcbench
`

const zshCompletion = `# hpcbench completion for zsh: source <(hpcbench completion zsh)
_hpcbench_complete() {
	local cur=${words[CURRENT]}
	local -a args candidates
	args=("${(@)words[2,CURRENT-1]}")
	if [[ $cur == -* ]]; then
		args+=("$cur")
	fi
	candidates=("${(@f)$(${words[1]} "${args[@]}" ` + completionFlag + ` 2>/dev/null)}")
	if (( ${#candidates} )) && [[ -n ${candidates[1]} ]]; then
		compadd -a candidates
	else
		_files
	fi
}
compdef _hpcbench_complete hpcbench
`

// withCompletion gives every verb (and sub-verb) a completer: after
// --study the stored studies, after a flag that takes a value nothing (the
// shell then offers file names), else urfave/cli's own (flags, sub-verbs).
func withCompletion(cmds []*cli.Command) {
	for _, cmd := range cmds {
		withCompletion(cmd.Subcommands)
		if cmd.BashComplete != nil {
			continue
		}
		fallback := cli.DefaultCompleteWithFlags(cmd)
		cmd.BashComplete = func(c *cli.Context) {
			prev := ""
			if len(os.Args) > 2 {
				prev = os.Args[len(os.Args)-2]
			}
			switch {
			case prev == "--study":
				db := "hpcbench.db"
				if c.IsSet("db") {
					db = c.String("db")
				}
				for _, name := range storedStudies(c.Context, db) {
					fmt.Fprintln(c.App.Writer, name)
				}
			case strings.HasPrefix(prev, "-") && flagTakesValue(cmd, prev):
			default:
				fallback(c)
			}
		}
	}
}

// flagTakesValue reports whether flag (as typed, "--db") is one of cmd's
// flags that takes a value.
func flagTakesValue(cmd *cli.Command, flag string) bool {
	f := launchcli.FindFlag(cmd, strings.TrimLeft(flag, "-"))
	return f != nil && launchcli.TakesValue(f)
}

// storedStudies are the names of the studies in the results file db, none
// when it does not exist (completion never creates one).
func storedStudies(ctx context.Context, db string) []string {
	if _, err := os.Stat(db); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := results.Open(db)
	if err != nil {
		return nil
	}
	defer st.Close()
	studies, err := st.Studies(ctx)
	if err != nil {
		return nil
	}
	names := make([]string, len(studies))
	for i, s := range studies {
		names[i] = s.Name
	}
	return names
}
