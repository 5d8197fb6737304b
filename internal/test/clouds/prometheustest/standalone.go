package prometheustest

import (
	"fmt"
	"os"
	"slices"
	"sync"
)

// T is what the package needs of its caller: *testing.T and *testing.B are one, and so
// is Standalone, for a program such as the sandbox (cmd/sandbox) that runs a Prometheus
// outside a test.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

// Standalone is a T for a program: Fatalf ends the function Do runs with an error,
// Cleanup's functions run at Close, TempDir makes directories under dir.
type Standalone struct {
	dir string
	// Log receives Logf's lines; nil drops them.
	Log func(string)

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// NewStandalone is a Standalone whose temporary directories go under dir.
func NewStandalone(dir string) *Standalone { return &Standalone{dir: dir} }

type fatal struct{ err error }

// Do runs fn, and returns the error of a Fatalf that ended it.
func (s *Standalone) Do(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	fn()
	return nil
}

// Close runs the cleanups, the last registered first.
func (s *Standalone) Close() {
	s.mu.Lock()
	cs := slices.Clone(s.cleanups)
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (s *Standalone) Helper() {}

func (s *Standalone) Fatalf(format string, args ...any) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	panic(fatal{fmt.Errorf(format, args...)})
}

func (s *Standalone) Logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(fmt.Sprintf(format, args...))
	}
}

func (s *Standalone) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *Standalone) TempDir() string {
	d, err := os.MkdirTemp(s.dir, "prometheus-")
	if err != nil {
		s.Fatalf("prometheustest: %v", err)
	}
	return d
}

func (s *Standalone) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
