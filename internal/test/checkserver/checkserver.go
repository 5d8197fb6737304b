// Package checkserver is the endpoint that the tests' and the sandbox's rollout HTTP
// check gates call: GET /healthz?prod=P&version=V answers 200, or 500 for the versions
// made to fail, or the status every answer was set to. Every answer is recorded, with
// when and whom it was for, so that a test can say which Prods a gate asked and when a
// failure was first seen.
package checkserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Answer is one check answered.
type Answer struct {
	At            time.Time
	Prod, Version string
	Status        int
}

// Server answers HTTP check gates on a free port of 127.0.0.1.
type Server struct {
	srv *http.Server
	url string // http://127.0.0.1:<port>/healthz

	mu       sync.Mutex
	status   int             // the answer of a version not failing
	failing  map[string]bool // versions whose checks answer 500
	prefixes []string        // versions starting with one of these answer 500
	answers  []Answer
}

// Start serves the check endpoint until Stop.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the HTTP check endpoint: %w", err)
	}
	s := &Server{url: "http://" + l.Addr().String() + "/healthz", status: http.StatusOK, failing: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.answer)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("checkserver: the HTTP check endpoint stopped:", err)
		}
	}()
	return s, nil
}

// New starts a Server that stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	version := q.Get("version")
	s.mu.Lock()
	code := s.status
	if s.failing[version] || s.hasFailingPrefix(version) {
		code = http.StatusInternalServerError
	}
	s.answers = append(s.answers, Answer{At: time.Now(), Prod: q.Get("prod"), Version: version, Status: code})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code)+"\n")
}

func (s *Server) hasFailingPrefix(version string) bool {
	for _, p := range s.prefixes {
		if strings.HasPrefix(version, p) {
			return true
		}
	}
	return false
}

// URL is the endpoint, http://127.0.0.1:<port>/healthz.
func (s *Server) URL() string { return s.url }

// Template is the URL template of a gate whose checks name the Prod and its version.
func (s *Server) Template() string { return s.url + "?prod={{ .Prod }}&version={{ .Version }}" }

// Fail makes the checks of these versions answer 500 from now on.
func (s *Server) Fail(versions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range versions {
		s.failing[v] = true
	}
}

// FailPrefix makes the checks of every version starting with prefix answer 500 from
// now on.
func (s *Server) FailPrefix(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefixes = append(s.prefixes, prefix)
}

// SetStatus makes every check of a version not failing answer code from now on.
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

// Answers are the checks answered so far, in order.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

// Hits is how many checks of version were answered with code.
func (s *Server) Hits(version string, code int) int {
	n := 0
	for _, a := range s.Answers() {
		if a.Version == version && a.Status == code {
			n++
		}
	}
	return n
}

// Failures are the answers other than 200 given at or after t.
func (s *Server) Failures(t time.Time) []Answer {
	var out []Answer
	for _, a := range s.Answers() {
		if a.Status != http.StatusOK && !a.At.Before(t) {
			out = append(out, a)
		}
	}
	return out
}

// FirstFailed is when a check of version was first answered with something other than
// 200.
func (s *Server) FirstFailed(version string) (time.Time, bool) {
	for _, a := range s.Answers() {
		if a.Version == version && a.Status != http.StatusOK {
			return a.At, true
		}
	}
	return time.Time{}, false
}

// Stop stops serving.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
