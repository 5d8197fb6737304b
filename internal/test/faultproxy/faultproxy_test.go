package faultproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fault struct {
	name  string
	rate  float64
	times int
}

func (f fault) Limits() (float64, int) { return f.rate, f.times }

// start is a proxy of a backend answering "backend"; a request's fault, if any,
// answers its name, and a fault named "hold" holds the request until released.
func start(t *testing.T, seed uint64) *Proxy[fault] {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "backend")
	}))
	t.Cleanup(backend.Close)
	var p *Proxy[fault]
	p = New[fault](t, "test", backend.URL, seed, func(w http.ResponseWriter, r *http.Request) {
		f, _, release := p.Take(0, func(fault) bool { return true })
		switch {
		case f == nil:
			p.Forward(w, r)
		case f.name == "hold":
			if Hold(r, release) {
				_, _ = io.WriteString(w, "released")
			}
		default:
			_, _ = io.WriteString(w, f.name)
		}
	})
	return p
}

func get(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestTakeInOrderAndTimes(t *testing.T) {
	p := start(t, 1)
	p.Inject(fault{name: "first", times: 2}, fault{name: "second", times: 1})
	var got []string
	for range 5 {
		got = append(got, get(t.Context(), t, p.URL()))
	}
	want := []string{"first", "first", "second", "backend", "backend"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("answers = %q, want %q", got, want)
		}
	}
}

func TestTakeRateIsASeededShare(t *testing.T) {
	count := func(seed uint64) (n int, seq string) {
		p := start(t, seed)
		p.Inject(fault{name: "f", rate: 0.3})
		for range 200 {
			a := get(t.Context(), t, p.URL())
			if a == "f" {
				n++
				seq += "f"
			} else {
				seq += "."
			}
		}
		return n, seq
	}
	n, seq := count(7)
	if n < 30 || n > 90 {
		t.Errorf("a 0.3 rate took %d of 200 requests", n)
	}
	if _, again := count(7); again != seq {
		t.Errorf("the same seed took other requests:\n%s\n%s", seq, again)
	}
}

func TestClearReleasesHeldRequestsAndRemovesFaults(t *testing.T) {
	p := start(t, 1)
	p.Inject(fault{name: "hold"})
	done := make(chan string, 1)
	go func() { done <- get(context.Background(), t, p.URL()) }()
	select {
	case a := <-done:
		t.Fatalf("a held request answered %q before Clear", a)
	case <-time.After(200 * time.Millisecond):
	}
	p.Clear()
	select {
	case a := <-done:
		if a != "released" {
			t.Errorf("released request answered %q", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Clear did not release the held request")
	}
	if a := get(t.Context(), t, p.URL()); a != "backend" {
		t.Errorf("after Clear a request answered %q, want the backend", a)
	}
}

func TestWaitEndsWithTheClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if Wait(r, make(chan struct{}), time.Hour) {
		t.Error("Wait went on for a client that gave up")
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	if !Wait(r, make(chan struct{}), time.Millisecond) {
		t.Error("Wait did not go on after its delay")
	}
}
