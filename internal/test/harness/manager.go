package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/test/proc"
)

// killWait is how long Stop and Kill wait for the process to go after SIGKILL.
const killWait = 5 * time.Second

// logTailLines is how many lines of the log ExitError shows.
const logTailLines = 15

// LocalManagerArgs returns the manager flags for a run outside a cluster, beside other
// programs on the same machine: no leader election (one replica), and neither the
// metrics nor the health probe listener (so no port can clash).
func LocalManagerArgs() []string {
	return []string{"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"}
}

// BuildManager builds the manager binary of the drover repository at root into out
// (go build -o out ./cmd/manager, with the go command on $PATH). Go's build cache
// makes this quick when nothing changed. The compiler's output is in the error.
func BuildManager(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/manager")
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the manager (go build -o %s ./cmd/manager in %s): %w\n%s",
			out, root, err, strings.TrimSpace(output.String()))
	}
	return nil
}

// ManagerOptions says how to run the manager.
type ManagerOptions struct {
	// Binary is the manager binary (see BuildManager). Required.
	Binary string
	// Kubeconfig is the kubeconfig of the control plane, passed as --kubeconfig.
	// Required.
	Kubeconfig string
	// Args are further flags, after --kubeconfig (e.g. LocalManagerArgs()).
	Args []string
	// Env are variables (KEY=value) added to the environment the manager inherits from
	// this process, replacing inherited ones of the same name: the credentials of an
	// emulated cloud, for instance.
	Env []string
	// LogPath receives the manager's stdout and stderr. It is appended to, so the log
	// of a manager started again after Stop or Kill follows the earlier one; a line
	// starting with ### marks each start and exit. Required.
	LogPath string
}

// Manager is the manager binary running as a child process. Its methods may be called
// from any goroutine.
type Manager struct {
	cmd     *exec.Cmd
	args    []string
	logPath string
	done    chan struct{}
	err     error // how it exited (cmd.Wait's error); set before done is closed
}

// StartManager starts the manager as opts says and returns once the process runs (not
// once it is ready: watch what it does to the cluster).
//
// The kubeconfig goes in --kubeconfig, which controller-runtime registers on the Go
// flag set and cmd/manager adds to its own; it takes precedence over $KUBECONFIG,
// which the child inherits untouched.
func StartManager(opts ManagerOptions) (*Manager, error) {
	switch {
	case opts.Binary == "":
		return nil, errors.New("starting the manager: no binary given")
	case opts.Kubeconfig == "":
		return nil, errors.New("starting the manager: no kubeconfig given")
	case opts.LogPath == "":
		return nil, errors.New("starting the manager: no log path given")
	}
	log, err := os.OpenFile(opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the manager log: %w", err)
	}
	args := append([]string{"--kubeconfig=" + opts.Kubeconfig}, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...) // exec keeps the last of duplicates
	}
	cmd.Stdout, cmd.Stderr = log, log
	proc.SetAttrs(cmd)
	m := &Manager{cmd: cmd, args: args, logPath: opts.LogPath, done: make(chan struct{})}
	fmt.Fprintf(log, "### %s starting: %s\n", time.Now().Format(time.RFC3339), m.CommandLine())
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting the manager %s: %w", opts.Binary, err)
	}
	go func() {
		m.err = cmd.Wait()
		fmt.Fprintf(log, "### %s exited: %s\n", time.Now().Format(time.RFC3339), exitString(m.err))
		_ = log.Close()
		close(m.done)
	}()
	return m, nil
}

// Pid is the manager's process id.
func (m *Manager) Pid() int { return m.cmd.Process.Pid }

// LogPath is the file with the manager's output.
func (m *Manager) LogPath() string { return m.logPath }

// CommandLine is the manager's command line, for people to read.
func (m *Manager) CommandLine() string {
	return m.cmd.Path + " " + strings.Join(m.args, " ")
}

// Done is closed once the manager has exited, for whatever reason.
func (m *Manager) Done() <-chan struct{} { return m.done }

// Exited reports whether the manager has exited.
func (m *Manager) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// ExitError describes how the manager exited, with the last lines of its log; nil
// while it runs. It is an error even for exit status 0: the manager should not end
// by itself.
func (m *Manager) ExitError() error {
	if !m.Exited() {
		return nil
	}
	return fmt.Errorf("the manager exited (%s); the end of %s:\n%s", exitString(m.err), m.logPath, m.LogTail(logTailLines))
}

// LogTail returns the last n lines of the manager's log (or why it cannot).
func (m *Manager) LogTail(n int) string { return tailFile(m.logPath, n) }

// Stop sends the manager SIGTERM and waits up to timeout for it to exit; then it kills
// the manager's process group and returns an error saying so. A manager that already
// exited is not an error here (see ExitError).
func (m *Manager) Stop(timeout time.Duration) error {
	if m.Exited() {
		return nil
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling the manager (pid %d): %w", m.Pid(), err)
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(timeout):
	}
	if err := m.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("the manager did not stop within %s after SIGTERM and was killed", timeout)
}

// Kill sends SIGKILL to the manager's process group, as a crash or an evicted Pod
// would end it, and waits for it to exit. A manager that already exited is not an
// error here.
func (m *Manager) Kill() error {
	if m.Exited() {
		return nil
	}
	proc.KillGroup(m.cmd)
	select {
	case <-m.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("the manager (pid %d) did not exit within %s of SIGKILL", m.Pid(), killWait)
	}
}

// exitString renders cmd.Wait's error; nil is a clean exit.
func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
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
