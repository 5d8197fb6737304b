package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

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
