package octaviatest

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcAttrs puts the program in a process group of its own, which stop kills as a
// whole, and has the kernel kill it when the test process dies without running its
// cleanups (a panic, go test's -timeout).
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group the program leads.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// signalGroup sends sig to the process group the program leads.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// flock waits for an exclusive lock on f.
func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
