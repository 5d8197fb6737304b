package harness

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the manager in its own process group, so that a Ctrl-C in a
// terminal reaches only its parent (which stops the manager before the clusters it
// talks to), and has the kernel kill it when the thread that started it dies (normally
// with the whole parent process; Go does not end its threads otherwise).
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills cmd's process group (see setProcAttrs).
func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
