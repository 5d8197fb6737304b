package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// managerProcess is drover's manager binary running as a child of the sandbox.
type managerProcess struct {
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // how it exited; set before done is closed
}

// ensureManager makes sure the manager binary exists. The default one, bin/manager, is
// (re)built with go build, which takes a moment when it is up to date and otherwise
// keeps the sandbox from running old code; one given with --manager is used as is.
func ensureManager(ctx context.Context, cfg config) error {
	if cfg.managerPath != filepath.Join(cfg.root, "bin", "manager") {
		st, err := os.Stat(cfg.managerPath)
		if err != nil {
			return fmt.Errorf("manager binary: %w", err)
		}
		if st.IsDir() {
			return fmt.Errorf("manager binary %s is a directory", cfg.managerPath)
		}
		return nil
	}
	fmt.Println("building the manager: go build -o bin/manager ./cmd/manager")
	if err := os.MkdirAll(filepath.Dir(cfg.managerPath), 0o755); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", cfg.managerPath, "./cmd/manager")
	build.Dir = cfg.root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the manager (go build -o bin/manager ./cmd/manager): %w", err)
	}
	return nil
}

// startManager runs the manager binary against the control plane, with its output in
// <logDir>/manager.log.
//
// The control plane is passed in $KUBECONFIG, not --kubeconfig: cmd/manager parses
// pflag.CommandLine with its own flags and the zap/klog ones only, and
// controller-runtime registers --kubeconfig on the Go flag.CommandLine, which it does
// not add, so the manager rejects --kubeconfig as an unknown flag.
// ctrl.GetConfigOrDie reads $KUBECONFIG (before any in-cluster config).
func startManager(cfg config) (*managerProcess, error) {
	logPath := filepath.Join(cfg.logDir, "manager.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}
	args := append([]string{"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"}, cfg.managerArgs...)
	cmd := exec.Command(cfg.managerPath, args...)
	cmd.Env = append(envWithout(os.Environ(), "KUBECONFIG"), "KUBECONFIG="+cfg.kubeconfigOut)
	cmd.Stdout, cmd.Stderr = log, log
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting the manager %s: %w", cfg.managerPath, err)
	}
	m := &managerProcess{cmd: cmd, logPath: logPath, log: log, done: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.done)
	}()
	fmt.Printf("manager started (pid %d): KUBECONFIG=%s %s %s\n", cmd.Process.Pid, cfg.kubeconfigOut, cfg.managerPath, strings.Join(args, " "))
	return m, nil
}

// Done is closed when the manager has exited.
func (m *managerProcess) Done() <-chan struct{} { return m.done }

// exitError describes how the manager exited, with the end of its log.
func (m *managerProcess) exitError() error {
	return fmt.Errorf("the manager exited (%v); the end of %s:\n%s", m.err, m.logPath, tailFile(m.logPath, 15))
}

// stop sends the manager SIGTERM, waits up to timeout, then kills its process group.
func (m *managerProcess) stop(timeout time.Duration) error {
	defer func() { _ = m.log.Close() }()
	select {
	case <-m.done:
		return nil // it exited on its own; watchProds reported it
	default:
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling the manager: %w", err)
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(timeout):
	}
	killProcessGroup(m.cmd)
	select {
	case <-m.done:
		return fmt.Errorf("the manager did not stop within %s after SIGTERM and was killed", timeout)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("the manager (pid %d) did not exit even after SIGKILL", m.cmd.Process.Pid)
	}
}

// stopManager stops the manager and says how that went.
func stopManager(m *managerProcess) {
	fmt.Println("stopping the manager...")
	start := time.Now()
	if err := m.stop(managerStopTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return
	}
	fmt.Printf("manager stopped after %s\n", time.Since(start).Round(time.Millisecond))
}

// envWithout returns env without the variable name.
func envWithout(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// tailFile returns the last n lines of the file at path (or why it cannot).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read it: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
