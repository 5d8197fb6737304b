package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// SetAttrs puts the program in a process group of its own, which KillGroup kills as a
// whole and which a Ctrl-C in a terminal does not reach (its parent stops it in order),
// and has the kernel kill it when the thread that started it dies (normally with the
// whole parent process: a panic or go test's -timeout runs no cleanups).
func SetAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// KillGroup kills the process group cmd leads (see SetAttrs), and cmd's process.
func KillGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// SignalGroup sends sig to the process group cmd leads.
func SignalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// SigStop and SigCont pause and resume a process group (SignalGroup).
const (
	SigStop = syscall.SIGSTOP
	SigCont = syscall.SIGCONT
)

// DeathSigWrapper returns a command prefix that makes an exec'd binary receive SIGKILL
// when its parent dies, for processes started by code that takes no SysProcAttr
// (envtest's), or nil when setpriv(1) is not available.
func DeathSigWrapper() []string {
	p, err := exec.LookPath("setpriv")
	if err != nil {
		return nil
	}
	return []string{p, "--pdeathsig", "KILL", "--"}
}

// Flock waits for an exclusive lock on f.
func Flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
