package runtimes

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/hpcbench/hpcbench/pmi"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociBlockedSyscalls are the system calls a privately isolated bundle's
// rank may not make: those Docker's default seccomp profile refuses a
// container without extra capabilities (kernel modules, keyrings, mounts
// and namespaces, clocks, reboot, swap, BPF, perf, handles to host files),
// except those MPI libraries use for memory placement (mbind,
// set_mempolicy, move_pages: hwloc and UCX call them, and fall back
// politely where refused, but a benchmark should not silently lose them).
var ociBlockedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "init_module", "ioperm", "iopl", "kexec_file_load",
	"kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
	"move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
	"open_tree", "perf_event_open", "pivot_root", "query_module", "quotactl",
	"quotactl_fd", "reboot", "request_key", "setns", "settimeofday", "stime",
	"swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2", "unshare",
	"uselib", "userfaultfd", "ustat", "vm86", "vm86old",
}

// ociCrossMemorySyscalls are refused too unless the ranks need them (Open
// MPI's single-copy transfers read another rank's memory).
var ociCrossMemorySyscalls = []string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp"}

// ociSeccomp is the seccomp filter of a privately isolated bundle: every
// system call is allowed but ociBlockedSyscalls (and, unless crossMemory,
// ociCrossMemorySyscalls), which fail with EPERM. The filter covers the
// machine's compat architectures too, so that a 32-bit call cannot go
// around it.
func ociSeccomp(crossMemory bool) *specs.LinuxSeccomp {
	blocked := append([]string(nil), ociBlockedSyscalls...)
	if !crossMemory {
		blocked = append(blocked, ociCrossMemorySyscalls...)
	}
	eperm := uint(syscall.EPERM)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: seccompArchitectures(),
		Syscalls:      []specs.LinuxSyscall{{Names: blocked, Action: specs.ActErrno, ErrnoRet: &eperm}},
	}
}

// seccompArchitectures are the architectures a filter must name on this
// machine: its own and the ones its kernel runs in compat mode.
func seccompArchitectures() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "ppc64le":
		return []specs.Arch{specs.ArchPPC64LE}
	case "s390x":
		return []specs.Arch{specs.ArchS390X, specs.ArchS390}
	case "riscv64":
		return []specs.Arch{specs.ArchRISCV64}
	}
	return nil // the runtime's native architecture
}

// ociMaskedPaths and ociReadonlyPaths hide and protect the kernel files
// in /proc that a container has no business with (as Docker does).
var (
	ociMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware",
	}
	ociReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// pidHolder is the first process of a pid namespace that the ranks of a
// job join (their bundles name /proc/<pid>/ns/pid): a sleeping process,
// started by hpcbench in a new pid namespace. The namespace ends with it.
type pidHolder struct {
	pid int
	cmd *exec.Cmd
}

// startOCIHolder starts job's pid namespace holder; the unit tests, which
// may not make namespaces, replace it.
var startOCIHolder = startPIDNamespaceHolder

// startPIDNamespaceHolder runs "sleep infinity" in a new pid namespace. It
// dies with hpcbench (Pdeathsig), as the ranks do.
func startPIDNamespaceHolder(job pmi.Job) (*pidHolder, error) {
	cmd := exec.Command("sleep", "infinity")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("job %s: starting the process that holds its pid namespace: %w (set isolation = \"host\" where namespaces cannot be made)", job.ID, err)
	}
	return &pidHolder{pid: cmd.Process.Pid, cmd: cmd}, nil
}

// stop ends the holder, and with it its namespace.
func (h *pidHolder) stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}

// ociIsolationChoices records how spec's bundles are isolated; perRank
// says whether the ranks share a job's pid namespace (per-rank layouts)
// or the node's container has one of its own.
func ociIsolationChoices(c map[string]string, spec Spec, perRank bool) {
	if !perRank {
		spec.Layout = PerNode
	}
	bi := newBundleIsolation(spec, pmi.Job{})
	isolationChoice(c, spec)
	if bi.ptrace {
		c["cap_add"] = "SYS_PTRACE"
	}
	if bi.iso == IsolationHost {
		c["devices"] = "host /dev"
		c["seccomp"] = "none"
		return
	}
	c["pid"] = "private"
	switch {
	case bi.hostPID:
		c["pid"] = "host"
		c["pid_namespace"] = "the host's: each rank is started by a task of its own (srun)"
	case perRank:
		c["pid_namespace"] = "one per job, held by a sleeping process, shared by its ranks"
	}
	c["devices"] = "minimal /dev, host /dev/shm"
	c["seccomp"] = "default allow; blocks module, mount, namespace, keyring, clock, reboot, swap, bpf, perf calls"
	if !bi.crossMemory {
		c["seccomp"] += ", ptrace and process_vm_*"
	}
}
