package octaviatest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stop kills a program's whole process group (the worker's children, RabbitMQ's
// helpers), so nothing stays running after a test.
func TestStopKillsTheProcessGroups(t *testing.T) {
	s := &Server{dir: t.TempDir()}
	// A parent whose child writes its pid and outlives it unless the group is killed.
	p, err := s.run("tree", nil, "/bin/sh", "-c", `sleep 300 & echo $! > child.pid; wait`)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(5 * time.Second); child == 0; {
		if b, err := os.ReadFile(filepath.Join(s.dir, "child.pid")); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	select {
	case <-p.done:
	default:
		t.Fatal("stop returned before the program exited")
	}
	// The child is gone once init or a subreaper has reaped it; until then it is a zombie.
	for deadline := time.Now().Add(5 * time.Second); ; {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program's child %d still runs after stop: %s", child, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(child, 0); err == nil {
		t.Logf("child %d is a zombie awaiting its reaper", child)
	}
	if !strings.Contains(s.LogTails(), "----- tree") {
		t.Errorf("LogTails does not name the program:\n%s", s.LogTails())
	}
}
