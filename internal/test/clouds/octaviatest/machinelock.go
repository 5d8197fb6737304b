package octaviatest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/drover-dev/drover/internal/test/proc"
)

// One Octavia stack at a time per machine (across test binaries; a process may run
// several). `go test ./...` runs packages in parallel, and two of these stacks side by
// side on a loaded 2-core machine lose jobs: the SQLite-backed API casts work to its
// worker before committing it, and under contention the worker gives up looking for the
// rows, leaving load balancers PENDING for good (seen in clean-clone CI runs). The lock
// serialises the packages that need Octavia; the others still run beside them.
var machineLock struct {
	sync.Mutex
	held int
	file *os.File
}

// lockPath is the lock file, shared by every process of the machine's user.
func lockPath() string { return filepath.Join(os.TempDir(), "drover-octaviatest.lock") }

// acquireMachine takes the machine's Octavia lock for this process, waiting for another
// process to let it go.
func acquireMachine() error {
	machineLock.Lock()
	defer machineLock.Unlock()
	if machineLock.held > 0 {
		machineLock.held++
		return nil
	}
	f, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return fmt.Errorf("octaviatest: opening the machine lock: %w", err)
	}
	if err := proc.Flock(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("octaviatest: taking the machine lock %s: %w", lockPath(), err)
	}
	machineLock.file, machineLock.held = f, 1
	return nil
}

// releaseMachine lets the machine's Octavia lock go once this process's last stack
// stopped.
func releaseMachine() {
	machineLock.Lock()
	defer machineLock.Unlock()
	if machineLock.held == 0 {
		return
	}
	machineLock.held--
	if machineLock.held == 0 {
		_ = machineLock.file.Close() // closing the file releases the flock
		machineLock.file = nil
	}
}
