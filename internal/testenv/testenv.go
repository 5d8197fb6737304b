// Package testenv finds what a test needs to run a real kube-apiserver: the
// repository root and the directory of the Kubernetes test binaries.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// BinaryDirEnv names the environment variable that points at the directory holding
// kube-apiserver and etcd (and the other binaries hack/ensure-k8s-binaries.sh provides).
const BinaryDirEnv = "DROVER_K8S_BIN"

// ensureScript builds or fetches the binaries and prints their directory.
const ensureScript = "hack/ensure-k8s-binaries.sh"

// RepoRoot returns the root of the drover repository: the first directory holding
// go.mod and hack/ensure-k8s-binaries.sh, walking up from the working directory and
// then from this source file.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, ensureScript)) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no directory with go.mod and %s above %s", ensureScript, strings.Join(starts, " or "))
}

// BinaryDir returns $DROVER_K8S_BIN when set, and otherwise runs
// hack/ensure-k8s-binaries.sh (which builds the binaries the first time, a few
// minutes) and returns the directory it prints. The script runs at most once per process.
func BinaryDir() (string, error) {
	if dir := os.Getenv(BinaryDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	return ensureOnce()
}

var ensureOnce = sync.OnceValues(func() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("$%s is unset and %w", BinaryDirEnv, err)
	}
	cmd := exec.Command("bash", filepath.Join(root, ensureScript))
	cmd.Dir = root
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr // progress of a first build
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("$%s is unset and %s failed: %w", BinaryDirEnv, ensureScript, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New(ensureScript + " printed no directory")
	}
	if !isFile(filepath.Join(dir, "kube-apiserver")) {
		return "", fmt.Errorf("%s printed %s, which holds no kube-apiserver", ensureScript, dir)
	}
	return dir, nil
})

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
