package checkserver

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestAnswersAndRecords(t *testing.T) {
	s := New(t)
	start := time.Now()
	ask := func(prod, version string) int { return get(t, s.URL()+"?prod="+prod+"&version="+version) }
	if c := ask("a", "v1"); c != http.StatusOK {
		t.Fatalf("v1 answered %d before any failure", c)
	}
	s.Fail("v2")
	s.FailPrefix("v3")
	for version, want := range map[string]int{"v1": 200, "v2": 500, "v2.1": 200, "v3": 500, "v3-rc1": 500} {
		if c := ask("b", version); c != want {
			t.Errorf("%s answered %d, want %d", version, c, want)
		}
	}
	s.SetStatus(http.StatusServiceUnavailable)
	if c := ask("c", "v1"); c != http.StatusServiceUnavailable {
		t.Errorf("after SetStatus(503) v1 answered %d", c)
	}
	if n := s.Hits("v1", http.StatusOK); n != 2 {
		t.Errorf("Hits(v1, 200) = %d, want 2", n)
	}
	if f := s.Failures(start); len(f) != 4 {
		t.Errorf("Failures = %+v, want 4 (v2, v3, v3-rc1 and v1's 503)", f)
	}
	if at, ok := s.FirstFailed("v2"); !ok || at.Before(start) {
		t.Errorf("FirstFailed(v2) = %v, %v", at, ok)
	}
	if _, ok := s.FirstFailed("v2.1"); ok {
		t.Error("v2.1 never failed")
	}
	if a := s.Answers(); len(a) != 7 || a[0].Prod != "a" || a[6].Prod != "c" {
		t.Errorf("Answers = %+v", a)
	}
	if want := s.URL() + "?prod={{ .Prod }}&version={{ .Version }}"; s.Template() != want {
		t.Errorf("Template() = %q", s.Template())
	}
}
