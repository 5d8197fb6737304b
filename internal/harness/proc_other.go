//go:build !linux

package harness

import "os/exec"

// setProcAttrs leaves cmd as it is: process groups and Pdeathsig are Linux's here.
func setProcAttrs(*exec.Cmd) {}

// killProcessGroup kills cmd's process.
func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
