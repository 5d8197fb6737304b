//go:build !linux

package main

import (
	"fmt"
	"os"
	"os/exec"
)

// setProcAttrs leaves cmd as it is: process groups and Pdeathsig are Linux's here.
func setProcAttrs(*exec.Cmd) {}

// killProcessGroup kills cmd's process.
func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// lockSandbox only creates dir; two sandboxes at once are not detected here.
func lockSandbox(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return func() {}, nil
}
