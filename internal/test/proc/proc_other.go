//go:build !linux

package proc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// SetAttrs leaves cmd as it is: process groups and Pdeathsig are Linux's here.
func SetAttrs(*exec.Cmd) {}

// KillGroup kills cmd's process.
func KillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// SignalGroup is implemented on Linux only.
func SignalGroup(*exec.Cmd, syscall.Signal) error {
	return errors.New("signalling a process group is implemented on Linux only")
}

// SigStop and SigCont: no process groups here.
const (
	SigStop = syscall.Signal(0)
	SigCont = syscall.Signal(0)
)

// DeathSigWrapper: no setpriv here.
func DeathSigWrapper() []string { return nil }

// Flock is a no-op where there is no flock(2): callers are not serialised there.
func Flock(*os.File) error { return nil }
