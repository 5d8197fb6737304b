// Package awstest runs moto's server mode (moto_server, a third-party emulator of AWS
// speaking the real wire protocols) on a loopback port for tests of drover's AWS
// clients, and hands out SDK configs and clients pointed at it.
//
// A test binary shares one server: its TestMain calls Main (or Run, to set up more
// around the tests), and each test calls Shared, which resets moto's state. Start runs
// a server of the test's own; StartServer one outside of tests (the local sandbox).
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		moto := awstest.Shared(t)
//		clients := moto.Clients(t)
//		...
//	}
//
// The binary is $DROVER_MOTO_SERVER, else moto_server on PATH, else the one
// hack/ensure-moto.sh installs in bin/moto; without one the test fails (never skips)
// and says to run hack/ensure-moto.sh.
//
// Where moto 5.2 differs from AWS (do not test drover's handling of these against
// moto; unit tests with a wire-level fake cover them):
//
// ELBv2:
//   - a network load balancer's ARN has "app/" where AWS has "net/";
//   - targets are healthy as soon as they are registered;
//   - a target is keyed by its Id alone: the same IP registered on two ports is one
//     target (the second registration replaces the first), and deregistering it on
//     either port removes it;
//   - a target's AvailabilityZone ("all") is not kept: DescribeTargetHealth answers
//     without it;
//   - DeregisterTargets of a target that is not registered fails with InvalidTarget;
//   - DescribeTargetGroups and DescribeListeners return everything in one page, with
//     no NextMarker, whatever the PageSize (DescribeLoadBalancers does page);
//   - DescribeTags answers for ARNs that do not exist (with no tags) instead of
//     failing with LoadBalancerNotFound or TargetGroupNotFound, and does not cap the
//     number of ARNs at 20;
//   - a resource takes at most 10 tags (AWS allows 50);
//   - a repeated creation is not idempotent as in AWS: CreateLoadBalancer of a name
//     that exists makes a second load balancer, CreateListener on a port in use a
//     second listener, and CreateTargetGroup of a name that exists fails with
//     DuplicateTargetGroupName (AWS answers each with the existing resource when the
//     settings are the same). FaultProxy answers them as AWS does.
//
// Route53:
//   - health check status is canned ("Success: HTTP Status Code: 200") and every
//     health check is healthy;
//   - a DELETE by SetIdentifier removes every record with that identifier in the zone,
//     whatever its name;
//   - weights are not range-checked (0–255);
//   - every ChangeResourceRecordSets answers the same change id, INSYNC at once, and
//     GetChange says INSYNC for any id, even one never issued (AWS: NoSuchChange);
//     PriorRequestNotComplete never happens (FaultProxy.Propagation answers PENDING
//     as Route53 does, under ids of their own);
//   - ListResourceRecordSets ignores StartRecordIdentifier (a page boundary inside a
//     weighted set starts the set over) and sorts names without the final dot, so
//     "shop-x.example.com" sorts between "shop.example.com" and its subdomains;
//   - CreateHealthCheck ignores CallerReference: the same reference creates another
//     health check instead of returning the first (or HealthCheckAlreadyExists;
//     FaultProxy answers as AWS does);
//   - DeleteHealthCheck of an id that does not exist succeeds (AWS:
//     NoSuchHealthCheck); tags of health checks that do not exist can be set and read;
//   - ListHealthChecks returns everything in one page.
package awstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
)

// Region is the region the clients use.
const Region = "us-east-1"

// AccountID is the account moto answers as.
const AccountID = "123456789012"

// EnvBinary names the moto_server binary to run.
const EnvBinary = "DROVER_MOTO_SERVER"

// startTimeout bounds how long the server may take to listen and answer.
const startTimeout = 60 * time.Second

// Moto is a running moto_server.
type Moto struct {
	endpoint string
	cmd      *exec.Cmd
	out      *output
	exited   chan struct{}
	waitErr  error
}

// Endpoint is the server's base URL, http://127.0.0.1:<port>.
func (m *Moto) Endpoint() string { return m.endpoint }

// Region is the region the clients use.
func (m *Moto) Region() string { return Region }

// Options are awsclient.Options pointed at the server: static dummy credentials, no
// environment or shared config read, no rate limits, quick retries.
func (m *Moto) Options() awsclient.Options {
	return awsclient.Options{
		Region:            Region,
		Endpoints:         awsclient.Endpoints{ELBv2: m.endpoint, Route53: m.endpoint},
		Credentials:       credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		Isolated:          true,
		MaxAttempts:       3,
		MaxBackoff:        50 * time.Millisecond,
		Route53Limit:      awsclient.Unlimited,
		ELBv2Limit:        awsclient.Unlimited,
		ELBv2TargetsLimit: awsclient.Unlimited,
	}
}

// Config is an aws.Config for the server (Options). Service clients made from it need
// BaseEndpoint set to Endpoint; Clients does that.
func (m *Moto) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := awsclient.LoadConfig(context.Background(), m.Options())
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return cfg
}

// Clients are SDK clients pointed at the server.
func (m *Moto) Clients(t testing.TB) *awsclient.Clients {
	t.Helper()
	return awsclient.NewClients(m.Config(t), m.Options())
}

// Reset drops everything moto holds (POST /moto-api/reset).
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	if err := m.reset(); err != nil {
		t.Fatalf("awstest: %v", err)
	}
}

func (m *Moto) reset() error {
	resp, err := http.Post(m.endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("resetting moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting moto: %s", resp.Status)
	}
	return nil
}

// Output is what the server printed so far.
func (m *Moto) Output() string { return m.out.String() }

// Start runs a server for t, stopped when t ends; on failure t's log gets the server's
// output.
func Start(t testing.TB) *Moto {
	t.Helper()
	m, err := start(nil)
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto_server output:\n%s", m.Output())
		}
		m.stop()
	})
	return m
}

var shared struct {
	sync.Mutex
	main   bool
	moto   *Moto
	err    error
	holder string
}

// Main runs the tests of m and exits; tests call Shared for a server that starts at
// the first call and stops when the tests are done. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Runner runs tests and returns the exit code: a *testing.M, or another harness's
// TestMain helper wrapped to run them.
type Runner interface {
	Run() int
}

// Run is Main that returns the exit code instead of exiting, for a TestMain that sets
// up more around the tests (another harness, a test bed). It runs r with the shared
// server available to Shared, and stops the server after.
func Run(r Runner) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	defer func() {
		shared.Lock()
		defer shared.Unlock()
		if shared.moto != nil {
			shared.moto.stop()
		}
		shared.main, shared.moto, shared.err, shared.holder = false, nil, nil, ""
	}()
	return r.Run()
}

// Shared returns the test binary's server with its state reset. Tests that use it must
// not run in parallel (t.Parallel) with each other, since each one resets it: a second
// test asking for it while the first is running fails. Subtests use their parent's
// Moto. On failure t's log gets what the server printed during t. Without Main in
// TestMain it starts a server for t alone.
func Shared(t testing.TB) *Moto {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		t.Log("awstest: no awstest.Main in TestMain; starting a moto_server for this test alone")
		return Start(t)
	}
	if shared.holder != "" {
		t.Fatalf("awstest: the shared moto_server is in use by %s; tests that use it must not run in parallel, and subtests use their parent's", shared.holder)
	}
	if shared.moto == nil && shared.err == nil {
		shared.moto, shared.err = start(nil)
	}
	if shared.err != nil {
		t.Fatalf("awstest: %v", shared.err)
	}
	m := shared.moto
	select {
	case <-m.exited:
		t.Fatalf("awstest: moto_server exited (%v); its output:\n%s", m.waitErr, m.Output())
	default:
	}
	mark := m.out.Len()
	if err := m.reset(); err != nil {
		t.Fatalf("awstest: %v; moto_server output:\n%s", err, m.Output())
	}
	shared.holder = t.Name()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto_server output during the test:\n%s", m.out.From(mark))
		}
		shared.Lock()
		shared.holder = ""
		shared.Unlock()
	})
	return m
}

// Binary finds moto_server: $DROVER_MOTO_SERVER, moto_server on PATH, or
// bin/moto/bin/moto_server of the module (hack/ensure-moto.sh).
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s=%s: %w (unset it, or run hack/ensure-moto.sh and use the path it prints)", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", "moto", "bin", "moto_server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no moto_server: not in $%s, not on PATH, not in bin/moto; run hack/ensure-moto.sh (it installs moto[server] 5.x) and put the path it prints in $%s", EnvBinary, EnvBinary)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// StartServer runs a server outside of tests (a local sandbox) and returns once it
// answers; Stop ends it. What it prints goes to logOut (if not nil) as it comes; Output
// keeps only the first megabyte of it, so that a server running for hours does not
// grow the caller's memory.
func StartServer(logOut io.Writer) (*Moto, error) {
	return start(logOut)
}

// Stop ends a server of StartServer (SIGTERM to its process group, SIGKILL after 10 s)
// and waits for it to exit.
func (m *Moto) Stop() { m.stop() }

// maxStandaloneOutput is how much of a StartServer server's output Output keeps.
const maxStandaloneOutput = 1 << 20

// start runs moto_server on a port the kernel picks (-p 0) and waits until it
// answers. With logOut (StartServer), the output also goes there and the copy kept is
// capped.
func start(logOut io.Writer) (*Moto, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	out := &output{}
	if logOut != nil {
		out.tee, out.limit = logOut, maxStandaloneOutput
	}
	m := &Moto{out: out, exited: make(chan struct{})}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", "0")
	m.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	m.cmd.Stdout = m.out
	m.cmd.Stderr = m.out
	// Its own process group, so that stopping it stops whatever a wrapper (a pyenv
	// shim) started; killed by the kernel if this process dies without stopping it.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for m.endpoint == "" {
		if match := listening.FindStringSubmatch(m.out.String()); match != nil {
			m.endpoint = match[1]
			break
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("%s exited before listening (%v); its output:\n%s", bin, m.waitErr, m.Output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("%s did not listen within %s; its output:\n%s", bin, startTimeout, m.Output())
		}
	}
	for {
		resp, err := http.Get(m.endpoint + "/moto-api/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("%s exited (%v); its output:\n%s", bin, m.waitErr, m.Output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("%s did not answer on %s within %s; its output:\n%s", bin, m.endpoint, startTimeout, m.Output())
		}
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after 10 s.
func (m *Moto) stop() {
	pgid := m.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-m.exited
	}
}

// output collects what the server prints, and passes it on to tee if set.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	tee   io.Writer
	limit int // the most buf keeps; 0 for no limit
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tee != nil {
		_, _ = o.tee.Write(p) // a failing log file must not stop the server
	}
	keep := p
	if o.limit > 0 {
		keep = p[:min(len(p), max(0, o.limit-o.buf.Len()))]
	}
	o.buf.Write(keep)
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Len()
}

// From is the output from byte offset i on.
func (o *output) From(i int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf.Bytes()[i:])
}
