package prometheustest

import (
	"os/exec"
	"syscall"
)

// setProcAttrs has the kernel kill Prometheus when the test process dies without
// running its cleanups (a panic, go test's -timeout).
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
