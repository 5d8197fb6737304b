//go:build linux

package harness_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/harness"
)

// startScript runs a shell script in place of the manager binary.
func startScript(t *testing.T, script string, env ...string) *harness.Manager {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := harness.StartManager(harness.ManagerOptions{
		Binary:     bin,
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Args:       []string{"--leader-elect=false"},
		LogPath:    filepath.Join(dir, "manager.log"),
		Env:        env,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Kill() })
	return m
}

// waitForLog waits until the manager's log contains s.
func waitForLog(t *testing.T, m *harness.Manager, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(m.LogPath()); strings.Contains(string(data), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the log never showed %q; it ends:\n%s", s, m.LogTail(10))
}

func TestManagerExitReportsLogTail(t *testing.T) {
	m := startScript(t, `echo "args: $*"; echo "boom" >&2; exit 3`)
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the script did not exit")
	}
	err := m.ExitError()
	if err == nil {
		t.Fatal("ExitError() = nil after the manager exited")
	}
	for _, want := range []string{"exit status 3", "boom", "args: --kubeconfig=", " --leader-elect=false"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ExitError() = %q, want it to contain %q", err, want)
		}
	}
	if err := m.Stop(time.Second); err != nil {
		t.Errorf("Stop() of an exited manager = %v, want nil", err)
	}
}

func TestManagerStopEndsWithSIGTERM(t *testing.T) {
	m := startScript(t, `trap 'echo terminated; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	waitForLog(t, m, "ready")
	if m.ExitError() != nil {
		t.Fatal("ExitError() != nil while the manager runs")
	}
	if err := m.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if !m.Exited() {
		t.Fatal("the manager runs after Stop")
	}
	waitForLog(t, m, "terminated")
}

func TestManagerStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	m := startScript(t, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	waitForLog(t, m, "ready")
	err := m.Stop(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Stop() = %v, want an error saying the manager was killed", err)
	}
	if !m.Exited() {
		t.Fatal("the manager runs after Stop")
	}
}

func TestManagerKill(t *testing.T) {
	m := startScript(t, `trap 'echo terminated' TERM; echo ready; while :; do sleep 0.05; done`)
	waitForLog(t, m, "ready")
	if err := m.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	if err := m.ExitError(); err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("ExitError() = %v, want signal: killed", err)
	}
	if data, _ := os.ReadFile(m.LogPath()); strings.Contains(string(data), "terminated") {
		t.Error("Kill sent SIGTERM first")
	}
}

func TestManagerEnvAddsToTheInheritedOne(t *testing.T) {
	t.Setenv("DROVER_HARNESS_INHERITED", "kept")
	t.Setenv("DROVER_HARNESS_REPLACED", "old")
	m := startScript(t, `echo "inherited=$DROVER_HARNESS_INHERITED replaced=$DROVER_HARNESS_REPLACED added=$DROVER_HARNESS_ADDED"`,
		"DROVER_HARNESS_REPLACED=new", "DROVER_HARNESS_ADDED=yes")
	waitForLog(t, m, "inherited=kept replaced=new added=yes")
}
