package octaviatest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A write Octavia refuses with "database is locked" is sent again, body and all; any
// other 500 is returned as it came.
func TestRetryLocked(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		switch n := calls.Add(1); {
		case r.URL.Path == "/boom":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"faultstring": "boom"}`)
		case n < 3:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"faultstring": "(sqlite3.OperationalError) database is locked"}`)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	c := http.Client{Transport: retryLocked{next: http.DefaultTransport}}

	resp, err := c.Post(srv.URL+"/members", "application/json", strings.NewReader(`{"members":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || calls.Load() != 3 {
		t.Errorf("status %d after %d calls, want 202 after 3", resp.StatusCode, calls.Load())
	}
	for i, b := range bodies {
		if b != `{"members":[]}` {
			t.Errorf("attempt %d sent body %q", i+1, b)
		}
	}

	calls.Store(10)
	resp, err = c.Post(srv.URL+"/boom", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), "boom") || calls.Load() != 11 {
		t.Errorf("another 500: status %d body %q after %d calls; want it returned at once", resp.StatusCode, b, calls.Load()-10)
	}
}
