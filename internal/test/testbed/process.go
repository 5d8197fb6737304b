package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/test/proc"
)

// process is a long-running helper binary (kube-controller-manager, kube-scheduler,
// kwok) that the test bed starts and stops itself.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // set before done is closed
}

func startProcess(name, logPath, path string, args ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "### %s: %s %q\n", time.Now().Format(time.RFC3339), path, args)
	cmd := exec.Command(path, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	proc.SetAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(f, "### %s: %s exited: %v\n", time.Now().Format(time.RFC3339), name, p.err)
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits up to timeout, then SIGKILLs the process group.
func (p *process) stop(timeout time.Duration) error {
	defer p.log.Close()
	if done, _ := p.exited(); done {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// wrapBinary writes an executable script to dir/name that runs binary with a parent
// death signal (when setpriv is available) and returns its path; otherwise returns
// binary unchanged.
func wrapBinary(dir, name, binary string) (string, error) {
	prefix := proc.DeathSigWrapper()
	if prefix == nil {
		return binary, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	script := "#!/bin/sh\nexec"
	for _, a := range append(prefix, binary) {
		script += " " + shellQuote(a)
	}
	script += ` "$@"` + "\n"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
			continue
		}
		out += string(r)
	}
	return out + "'"
}
