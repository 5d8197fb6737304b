package awstest

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
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
	m, err := start()
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
