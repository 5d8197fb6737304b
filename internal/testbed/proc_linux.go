package testbed

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the process in its own process group and has the kernel kill it
// when the thread that started it (and so normally the test process) dies.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// deathSigWrapper returns a command prefix that makes an exec'd binary receive SIGKILL
// when its parent dies (used for the processes envtest starts itself), or nil when
// setpriv(1) is not available.
func deathSigWrapper() []string {
	p, err := exec.LookPath("setpriv")
	if err != nil {
		return nil
	}
	return []string{p, "--pdeathsig", "KILL", "--"}
}
