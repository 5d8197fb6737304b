package awstest

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	route53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
)

func TestMain(m *testing.M) { Main(m) }

func zones(t *testing.T, m *Moto) int {
	t.Helper()
	out, err := m.Clients(t).Route53.ListHostedZones(t.Context(), &route53sdk.ListHostedZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.HostedZones)
}

func TestSharedIsResetForEachTest(t *testing.T) {
	for _, name := range []string{"first", "second"} {
		// Each subtest is what a new test sees.
		t.Run(name, func(t *testing.T) {
			m := Shared(t)
			if n := zones(t, m); n != 0 {
				t.Fatalf("%d hosted zones left from before, want 0", n)
			}
			_, err := m.Clients(t).Route53.CreateHostedZone(t.Context(), &route53sdk.CreateHostedZoneInput{
				Name: aws.String("example.com"), CallerReference: aws.String("awstest"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := zones(t, m); n != 1 {
				t.Fatalf("%d hosted zones, want 1", n)
			}
		})
	}
}

func TestResetDropsState(t *testing.T) {
	m := Shared(t)
	before := m.DefaultNetwork(t)
	if len(before.Subnets) == 0 || before.VPCID == "" || before.CIDR == "" {
		t.Fatalf("default network %+v", before)
	}
	m.Reset(t)
	// moto makes the default VPC anew, with new ids.
	if after := m.DefaultNetwork(t); after.VPCID == before.VPCID {
		t.Errorf("the default VPC %s survived a reset", after.VPCID)
	}
}

func TestSharedRefusesASecondHolder(t *testing.T) {
	Shared(t)
	// A test that would run in parallel: it must fail, not share the state.
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Shared(ft)
	}()
	<-done
	if !strings.Contains(ft.msg, "in use by "+t.Name()) {
		t.Errorf("a second holder got %q, want a failure naming %s", ft.msg, t.Name())
	}
}

// fatalRecorder records Fatalf and ends its goroutine, as testing does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartAndStop(t *testing.T) {
	m, err := start(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("endpoint %q is not on the loopback address", m.Endpoint())
	}
	resp, err := http.Get(m.Endpoint() + "/moto-api/")
	if err != nil {
		m.stop()
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	m.stop()
	if resp, err := http.Get(m.Endpoint() + "/moto-api/"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("moto_server still answers after stop")
	}
}

// StartServer (for a sandbox, outside of tests) passes the server's output on as it
// comes, answers the default network without a testing.TB, and Stop ends the server.
func TestStartServerLogsAndStops(t *testing.T) {
	var log syncBuffer
	m, err := StartServer(&log)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			m.Stop()
		}
	}()
	if !strings.Contains(log.String(), "Running on "+m.Endpoint()) {
		t.Errorf("the log writer got %q, want the line saying where the server runs", log.String())
	}
	n, err := m.LookupDefaultNetwork(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n.VPCID == "" || len(n.Subnets) == 0 {
		t.Errorf("LookupDefaultNetwork = %+v, want a VPC with subnets", n)
	}
	m.Stop()
	stopped = true
	select {
	case <-m.exited:
	default:
		t.Fatal("the server runs after Stop")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's output goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOutputLimitAndTee(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		kept   string
	}{
		{name: "no limit keeps everything", writes: []string{"abc", "def"}, kept: "abcdef"},
		{name: "under the limit", limit: 10, writes: []string{"abc", "def"}, kept: "abcdef"},
		{name: "a write crossing the limit is cut", limit: 4, writes: []string{"abc", "def"}, kept: "abcd"},
		{name: "writes past the limit are dropped", limit: 3, writes: []string{"abc", "def", "g"}, kept: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tee bytes.Buffer
			o := &output{tee: &tee, limit: tt.limit}
			for _, w := range tt.writes {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if got := o.String(); got != tt.kept {
				t.Errorf("kept %q, want %q", got, tt.kept)
			}
			if got, want := tee.String(), strings.Join(tt.writes, ""); got != want {
				t.Errorf("teed %q, want everything: %q", got, want)
			}
		})
	}
}

func TestBinaryNamesTheScriptWhenMissing(t *testing.T) {
	t.Setenv(EnvBinary, "/nonexistent/moto_server")
	_, err := Binary()
	if err == nil || !strings.Contains(err.Error(), "hack/ensure-moto.sh") {
		t.Fatalf("Binary with a missing $%s: %v, want an error naming hack/ensure-moto.sh", EnvBinary, err)
	}
	t.Setenv(EnvBinary, "")
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
	_, err = Binary()
	if err == nil || !strings.Contains(err.Error(), "hack/ensure-moto.sh") {
		t.Fatalf("Binary without moto_server anywhere: %v, want an error naming hack/ensure-moto.sh", err)
	}
}

type runner func() int

func (r runner) Run() int { return r() }

// Run (for a TestMain that composes harnesses) returns the tests' code and stops the
// server the tests started.
func TestRunStopsTheServerItStarted(t *testing.T) {
	shared.Lock()
	main, moto, err, holder := shared.main, shared.moto, shared.err, shared.holder
	shared.main, shared.moto, shared.err, shared.holder = false, nil, nil, ""
	shared.Unlock()
	defer func() {
		shared.Lock()
		shared.main, shared.moto, shared.err, shared.holder = main, moto, err, holder
		shared.Unlock()
	}()

	var m *Moto
	code := Run(runner(func() int {
		m = Shared(t)
		shared.Lock()
		shared.holder = "" // what the end of the test would do
		shared.Unlock()
		return 7
	}))
	if code != 7 {
		t.Errorf("Run = %d, want the tests' 7", code)
	}
	select {
	case <-m.exited:
	default:
		t.Fatal("the server still runs after Run")
	}
	if shared.main || shared.moto != nil {
		t.Error("Run left the shared state set")
	}
}
