// Package configs is hpcbench's matrix config: the TOML schema of a study,
// its loader and validator, and the expansion of a study into cells.
//
//	cfg, err := configs.Load("configs/npb.toml") // or configs.Quick()
//	// err is an Errors: every problem as FILE:LINE: KEY: message
//	inv := inventory.Detect(ctx, inventory.Options{})
//	cells, skipped := configs.Expand(cfg, inv)   // skipped cells carry reasons
//	f, _ := configs.ParseFilter("mpi=mpich,ranks=2")
//	cells, skipped = f.Apply(cells, skipped)
//
// Unknown keys are errors naming the key and its line; so are bad values.
// Impossible combinations (an MPI with a PMI flavour it does not speak, a
// rank count an NPB benchmark cannot use, a runtime or MPI this node lacks)
// are not errors but Skipped cells with the reason. README.md in this
// folder documents every key; the shipped configs are examples of each.
package configs
