//go:build !linux

package testbed

import "os/exec"

func setProcAttrs(cmd *exec.Cmd) {}

func deathSigWrapper() []string { return nil }
