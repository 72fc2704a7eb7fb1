package configs

import _ "embed"

//go:embed quick.toml
var quickTOML []byte

// QuickName is how the built-in quick study is named in messages and
// provenance.
const QuickName = "configs/quick.toml (built in)"

// Quick returns the built-in quick study: the project's kernels natively
// and in every runtime present, for "hpcbench matrix" without a config.
func Quick() (*Config, error) { return Parse(QuickName, quickTOML) }

// QuickSource is the built-in quick study's text.
func QuickSource() []byte { return append([]byte(nil), quickTOML...) }
