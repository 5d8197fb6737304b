//go:build !linux

package octaviatest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

func setProcAttrs(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func signalGroup(*exec.Cmd, syscall.Signal) error {
	return errors.New("pausing a process group is implemented on Linux only")
}

const (
	sigStop = syscall.Signal(0)
	sigCont = syscall.Signal(0)
)

// flock is a no-op where there is no flock(2): stacks are not serialised there.
func flock(*os.File) error { return nil }
