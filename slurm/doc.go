// Package slurm runs a study through Slurm across nodes: hpcbench writes
// batch scripts, submits them, watches them and imports what the jobs
// measured. Slurm's own PMI plugins serve the ranks there (srun --mpi=pmi2
// for PMI-1/PMI-2 cells, --mpi=pmix for PMIx cells); hpcbench is not the
// process manager.
//
//	Generate(matrix.Plan) ──> DIR/<job>.sbatch     one readable batch script per group
//	                          DIR/<job>.runs.json  the runs: cell, srun line, files
//	                          DIR/<job>/work/NNN   each run's working folder (HPL.dat)
//
//	in the job, per run:
//	    srun --mpi=pmi2|pmix -n N ... PROG              natively, or
//	    srun ... hpcbench slurm task --runtime R ... -- PROG
//	                                                     the runtime's per-rank wrapper,
//	                                                     built per task from the task's
//	                                                     real PMI environment
//	    hpcbench slurm record --id NNN --exit-status S --start T0 --end T1 --output F
//	                     ──> DIR/<job>/results/NNN.json  (one results.Run, JSON)
//	and at the end the job's exit status ──> DIR/<job>/exit-status
//
//	Submit (Executor.Run, a matrix.Executor): sbatch --parsable, then poll
//	squeue / scontrol show job and the exit-status files; Collect imports
//	each finished job's results into the SQLite store on the submitting
//	host (never from inside a job), with the Slurm job id; runs without a
//	result become failed runs with the reason (job cancelled, timed out,
//	vanished from the queue).
//
// Containers under srun: Apptainer passes PMI_FD, the environment and /tmp
// as they are; Podman gets the PMI socket as fd 3 (--preserve-fds); Docker
// cannot inherit an fd, so "hpcbench slurm task" relays between Slurm's
// PMI_FD and a loopback TCP port (PMI_PORT, PMI_ID) the rank connects to,
// answering the PMI-1 initack itself. PMIx ranks get every PMIX_* variable
// and Slurm's PMIx folders (PMIX_SERVER_TMPDIR, the dstore paths) at the
// same paths. The per-node layout is not run under Slurm: its container
// would hold hpcbench as the node's process manager, so ranks on different
// nodes would not share one PMI job.
//
// Inside an existing allocation, Srun is a matrix.Launcher: "hpcbench matrix
// --launcher srun" runs each cell with srun instead of hpcbench's own
// launcher.
package slurm
