// Package configs is hpcbench's matrix config: the TOML schema of a study,
// its loader and its validator.
//
//	cfg, err := configs.Load("configs/npb.toml") // or configs.Quick()
//	// err is an Errors: every problem as FILE:LINE: KEY: message
//
// Unknown keys are errors naming the key and its line; so are bad values.
// What a config means on a node (its cells, and the combinations that
// cannot run there with the reason) is package matrix's business:
// matrix.NewPlan expands a loaded config. README.md in this folder
// documents every key; the shipped configs are examples of each.
package configs
