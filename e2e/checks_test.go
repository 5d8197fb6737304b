package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// checkServer answers the suite's HTTP check gates: GET /healthz?prod=P&version=V
// answers 200, or 500 for a version failed with fail. Every answer is counted.
type checkServer struct {
	srv *http.Server
	url string // http://127.0.0.1:<port>/healthz

	mu      sync.Mutex
	failing map[string]bool // versions whose checks fail
	hits    map[string]int  // "version status" → answers
	// firstFailure is when the first check was failed, per version.
	firstFailure map[string]time.Time
}

// startCheckServer serves the check endpoint on a free port of 127.0.0.1.
func startCheckServer() (*checkServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the HTTP check endpoint: %w", err)
	}
	s := &checkServer{url: "http://" + l.Addr().String() + "/healthz",
		failing: map[string]bool{}, hits: map[string]int{}, firstFailure: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		version := r.URL.Query().Get("version")
		code := http.StatusOK
		s.mu.Lock()
		if s.failing[version] {
			code = http.StatusInternalServerError
			if _, ok := s.firstFailure[version]; !ok {
				s.firstFailure[version] = time.Now()
			}
		}
		s.hits[fmt.Sprintf("%s %d", version, code)]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code)+"\n")
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("e2e: the HTTP check endpoint stopped:", err)
		}
	}()
	return s, nil
}

// checkURL is the URL template of the suite's HTTP check gates.
func (s *checkServer) checkURL() string {
	return s.url + "?prod={{ .Prod }}&version={{ .Version }}"
}

// fail makes the checks of version fail from now on.
func (s *checkServer) fail(version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing[version] = true
}

// hitCount returns how many checks of version were answered with code.
func (s *checkServer) hitCount(version string, code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[fmt.Sprintf("%s %d", version, code)]
}

// firstFailed returns when the first check of version was failed.
func (s *checkServer) firstFailed(version string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.firstFailure[version]
	return t, ok
}

// stop stops serving.
func (s *checkServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
