package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// setProcAttrs puts the manager in its own process group, so that a Ctrl-C in the
// terminal reaches only the sandbox, which stops the manager before the control plane;
// and has the kernel kill it should the sandbox die without stopping it.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills cmd's process group (see setProcAttrs).
func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// lockSandbox takes an exclusive lock on <dir>/lock so that two sandboxes do not
// replace each other's kubeconfig and logs. The kernel releases it when the process
// ends; the returned function releases it earlier.
func lockSandbox(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the sandbox lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("another sandbox is running from this repository (it holds %s): %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
