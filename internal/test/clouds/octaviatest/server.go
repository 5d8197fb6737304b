// Package octaviatest runs the real OpenStack Octavia API and worker (Debian's
// octavia-api and octavia-worker packages, with their no-op compute, network and amphora
// drivers) and RabbitMQ, so that drover's Octavia client and the NLB mirror are tested
// against the real Octavia API rather than a fake written from its documentation.
//
// What one Server runs, each a child process of the test binary on free ports of
// 127.0.0.1, in a directory of its own:
//
//   - epmd and RabbitMQ (a node named after the test process, its own Mnesia and logs),
//     the message bus between the API and the worker;
//   - octavia-api with auth_strategy=noauth: requests carry X-Project-Id and X-Roles
//     headers instead of a Keystone token (every noauth request is an admin's, so
//     projects do not hide load balancers from each other);
//   - octavia-worker with the no-op drivers: a load balancer goes PENDING_CREATE →
//     ACTIVE in about a second, as do updates; nothing ever reports health, so
//     operating statuses stay OFFLINE (NO_MONITOR for members of a pool without a
//     monitor) unless a test sets them with SetOperatingStatus;
//   - an SQLite database made from Octavia's SQLAlchemy models (alembic's migrations do
//     not run on SQLite), copied from a template kept in the user cache directory.
//
// Start runs one stack for one test. A package whose tests share one stack (startup
// takes several seconds) calls Main from its TestMain and Shared in its tests.
//
// The Debian packages must be installed: hack/ensure-octavia.sh does it. Without them
// Start and Shared fail the test, saying so; tests that need Octavia are never skipped.
package octaviatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed" // prepare.py
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/proc"
)

// DefaultProjectID is the project (X-Project-Id) of a Server whose Options name none.
const DefaultProjectID = "drover-test"

// Roles are the roles (X-Roles) the Server's helpers and noauth clients send.
const Roles = "admin,load-balancer_admin"

const (
	caPassphrase = "drover-octaviatest"
	startTimeout = 2 * time.Minute
	stopTimeout  = 10 * time.Second
	// workerReadyLine is what the worker logs (at the DEBUG level this package enables
	// for oslo.messaging's RabbitMQ driver) as it declares the queue the API's amphora
	// provider casts to. A cast sent before that would be dropped.
	workerReadyLine = "Queue.declare: octavia_provisioning_v2"
)

// installation holds where the Debian packages put what the Server runs.
type installation struct {
	Python         string // Debian's interpreter, which has the octavia modules
	API, Worker    string
	RabbitMQServer string
	Epmd           string
	OctaviaPkg     string // the octavia Python package's directory
}

var debian = installation{
	Python:         "/usr/bin/python3",
	API:            "/usr/bin/octavia-api",
	Worker:         "/usr/bin/octavia-worker",
	RabbitMQServer: "/usr/lib/rabbitmq/bin/rabbitmq-server",
	Epmd:           "/usr/bin/epmd",
	OctaviaPkg:     "/usr/lib/python3/dist-packages/octavia",
}

// check says what is missing, naming the script that installs it.
func (in installation) check() error {
	var missing []string
	for _, p := range []string{in.Python, in.API, in.Worker, in.RabbitMQServer, in.Epmd} {
		if !isExecutable(p) {
			missing = append(missing, p)
		}
	}
	for _, p := range []string{"db/models.py", "common/constants.py"} {
		if _, err := os.Stat(filepath.Join(in.OctaviaPkg, p)); err != nil {
			missing = append(missing, filepath.Join(in.OctaviaPkg, p))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("octavia is not installed (missing %s): run hack/ensure-octavia.sh (as root), "+
			"which installs Debian's octavia-api, octavia-worker and rabbitmq-server packages", strings.Join(missing, ", "))
	}
	return nil
}

// Options configures a Server.
type Options struct {
	// ProjectID is the project the Server's helpers create objects in and its
	// ServiceClient sends. Defaults to DefaultProjectID.
	ProjectID string
	// PaginationMaxLimit is Octavia's [api_settings] pagination_max_limit, the most
	// objects one list response holds; a small value makes every list of a few
	// objects paginated. Zero keeps Octavia's default (1000).
	PaginationMaxLimit int
}

// Server is a running Octavia: API, worker, RabbitMQ, database.
type Server struct {
	opts     Options
	dir      string
	endpoint string
	dbPath   string
	procs    []*process
	started  time.Duration
	stopOnce sync.Once
	// locked: the Server holds this process's share of the machine lock (machinelock.go).
	locked bool
}

// Endpoint is the API's base URL, http://127.0.0.1:<port>/, which answers without
// authentication (send X-Project-Id and X-Roles).
func (s *Server) Endpoint() string { return s.endpoint }

// ProjectID is the project the Server's helpers use.
func (s *Server) ProjectID() string { return s.opts.ProjectID }

// DatabasePath is the SQLite database the API and the worker share.
func (s *Server) DatabasePath() string { return s.dbPath }

// StartupTime is how long Start took, from nothing to an API answering and a worker
// consuming.
func (s *Server) StartupTime() time.Duration { return s.started }

// Start runs an Octavia stack for the test and waits until it serves; it is stopped
// and its directory removed when the test ends (after the tails of its logs are
// logged, if the test failed). It fails the test if Octavia is not installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s, err := start(dir, opts, debian)
	if err != nil {
		if s != nil {
			s.stop()
		}
		t.Fatalf("octaviatest: %v", err) // with the tails of the logs
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("octaviatest: logs of the Octavia at %s:\n%s", s.endpoint, s.LogTails())
		}
		s.stop()
	})
	t.Logf("octaviatest: Octavia at %s started in %s", s.endpoint, s.started.Round(time.Millisecond))
	return s
}

var shared struct {
	mu      sync.Mutex
	opts    *Options
	started bool
	srv     *Server
	err     error
	dir     string
}

// Main runs the tests of a binary whose tests share one Octavia, started on the first
// call of Shared (so tests that do not need it do not wait for it), and stops it when
// they are done. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(octaviatest.Main(m, octaviatest.Options{})) }
//
// If a test failed, the tails of the shared stack's logs are written to stderr.
func Main(m *testing.M, opts Options) int {
	shared.mu.Lock()
	shared.opts = &opts
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "octaviatest: logs of the shared Octavia at %s:\n%s\n", shared.srv.endpoint, shared.srv.LogTails())
		}
		shared.srv.stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	return code
}

// Shared returns the Octavia shared by the tests of this binary, starting it on the
// first call; the package's TestMain must call Main. Tests sharing it should work on
// load balancers they created (ids), not on lists of everything. If the test fails,
// the tails of the stack's logs are logged.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.opts == nil {
		t.Fatalf("octaviatest: Shared needs octaviatest.Main in the package's TestMain: " +
			"func TestMain(m *testing.M) { os.Exit(octaviatest.Main(m, octaviatest.Options{})) }")
	}
	if !shared.started {
		shared.started = true
		shared.dir, shared.err = os.MkdirTemp("", "octaviatest-")
		if shared.err == nil {
			shared.srv, shared.err = start(shared.dir, *shared.opts, debian)
			if shared.err != nil && shared.srv != nil {
				shared.srv.stop()
				shared.srv = nil
			}
		}
		if shared.err == nil {
			t.Logf("octaviatest: shared Octavia at %s started in %s", shared.srv.endpoint, shared.srv.started.Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		t.Fatalf("octaviatest: starting the shared Octavia: %v", shared.err)
	}
	srv := shared.srv
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("octaviatest: logs of the shared Octavia at %s:\n%s", srv.endpoint, srv.LogTails())
		}
	})
	return srv
}

// start runs the stack in dir. On error, a non-nil Server still needs stop (some of
// its processes may be running); the error holds the tails of their logs.
func start(dir string, opts Options, in installation) (*Server, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	if opts.ProjectID == "" {
		opts.ProjectID = DefaultProjectID
	}
	begin := time.Now()
	if err := acquireMachine(); err != nil {
		return nil, err
	}
	// A port found free may be taken before the program binds it; start again then.
	for attempt := 1; ; attempt++ {
		sub := filepath.Join(dir, "run"+strconv.Itoa(attempt))
		s, err := startOnce(sub, opts, in)
		if err == nil {
			s.started = time.Since(begin)
			s.locked = true
			return s, nil
		}
		if s != nil && attempt < 3 && s.portConflict() {
			s.stop()
			continue
		}
		if s != nil {
			err = fmt.Errorf("%w\n%s", err, s.LogTails())
			s.locked = true // released by the caller's stop
		} else {
			releaseMachine()
		}
		return s, err
	}
}

func startOnce(dir string, opts Options, in installation) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, fmt.Errorf("finding free ports: %w", err)
	}
	epmdPort, amqpPort, distPort, apiPort := ports[0], ports[1], ports[2], ports[3]
	s := &Server{
		opts:     opts,
		dir:      dir,
		endpoint: fmt.Sprintf("http://127.0.0.1:%d/", apiPort),
		dbPath:   filepath.Join(dir, "octavia.db"),
	}

	// The template (database, certificates) is made by Python in the background while
	// RabbitMQ boots; from the cache it is a copy.
	type prepared struct {
		dir string
		err error
	}
	tmpl := make(chan prepared, 1)
	go func() {
		d, err := template(in)
		tmpl <- prepared{d, err}
	}()

	rabbit, err := s.startRabbitMQ(in, epmdPort, amqpPort, distPort)
	if err != nil {
		<-tmpl
		return s, err
	}
	p := <-tmpl
	if p.err != nil {
		return s, p.err
	}
	for _, f := range []string{"octavia.db", "ca.pem", "ca.key", "client.pem"} {
		if err := copyFile(filepath.Join(p.dir, f), filepath.Join(dir, f)); err != nil {
			return s, err
		}
	}
	conf := filepath.Join(dir, "octavia.conf")
	if err := os.WriteFile(conf, octaviaConf(dir, amqpPort, apiPort, opts), 0o644); err != nil {
		return s, err
	}
	api, err := s.run("octavia-api", nil, in.API, "--config-file", conf)
	if err != nil {
		return s, err
	}
	worker, err := s.run("octavia-worker", nil, in.Worker, "--config-file", conf)
	if err != nil {
		return s, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := waitFor(ctx, "the Octavia API to answer", []*process{rabbit, api, worker}, func() bool {
		code, _, err := s.get(ctx, "v2.0/lbaas/loadbalancers?limit=1")
		return err == nil && code == http.StatusOK
	}); err != nil {
		return s, err
	}
	if err := waitFor(ctx, "the Octavia worker to consume from RabbitMQ", []*process{rabbit, api, worker}, func() bool {
		b, _ := os.ReadFile(worker.log)
		return bytes.Contains(b, []byte(workerReadyLine))
	}); err != nil {
		return s, err
	}
	return s, nil
}

// startRabbitMQ runs epmd and a RabbitMQ node of this Server's own: its name, ports,
// Mnesia directory, logs, Erlang cookie ($HOME) and no plugins, so that stacks of test
// binaries running in parallel do not meet.
func (s *Server) startRabbitMQ(in installation, epmdPort, amqpPort, distPort int) (*process, error) {
	home := filepath.Join(s.dir, "rabbitmq")
	for _, d := range []string{home, filepath.Join(home, "mnesia"), filepath.Join(home, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"rabbitmq-env.conf": "", // instead of /etc/rabbitmq's
		"enabled_plugins":   "[].\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	epmd, err := s.run("epmd", nil, in.Epmd, "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitFor(ctx, "epmd to listen", []*process{epmd}, func() bool { return dialable(epmdPort) }); err != nil {
		return nil, err
	}
	env := []string{
		"HOME=" + home,
		"ERL_EPMD_PORT=" + strconv.Itoa(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(home, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(home, "rabbitmq"), // .conf is appended
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(home, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(home, "enabled_plugins"),
		"RABBITMQ_NODENAME=" + fmt.Sprintf("octaviatest-%d-%d@localhost", os.Getpid(), amqpPort),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(distPort),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(home, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(home, "log"),
		"RABBITMQ_PID_FILE=" + filepath.Join(home, "rabbitmq.pid"),
		"RABBITMQ_LOGS=-", // to stdout, which is our log file
		// Without input the script would stay in between as a shell that forwards
		// signals; with it, it execs the Erlang VM, our child, which -noinput keeps
		// from reading stdin.
		"RABBITMQ_ALLOW_INPUT=1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	}
	// The worker retries connecting every second: nothing waits for RabbitMQ here.
	return s.run("rabbitmq", env, in.RabbitMQServer, "-noinput")
}

// octaviaConf is the configuration of the API and the worker (docs/architecture.md,
// "The real Octavia in tests").
func octaviaConf(dir string, amqpPort, apiPort int, opts Options) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("[DEFAULT]")
	w("transport_url = rabbit://guest:guest@127.0.0.1:%d/", amqpPort)
	w("debug = False")
	w("use_stderr = True")
	// oslo.log replaces its defaults with this list: they are kept, and oslo.messaging's
	// RabbitMQ driver logs at DEBUG so that the worker's queue declaration shows.
	w("default_log_levels = amqp=WARN,amqplib=WARN,sqlalchemy=WARN,oslo.messaging=INFO,oslo_messaging=INFO," +
		"iso8601=WARN,requests.packages.urllib3.connectionpool=WARN,urllib3.connectionpool=WARN,urllib3.util.retry=WARN," +
		"keystonemiddleware=WARN,routes.middleware=WARN,stevedore=WARN,taskflow=WARN,keystoneauth=WARN,oslo.cache=INFO," +
		"oslo_policy=INFO,dogpile.core.dogpile=INFO,kazoo.client=WARN,oslo.messaging._drivers.impl_rabbit=DEBUG")
	w("[api_settings]")
	w("bind_host = 127.0.0.1")
	w("bind_port = %d", apiPort)
	w("auth_strategy = noauth")
	w("default_provider_driver = amphora")
	if opts.PaginationMaxLimit > 0 {
		w("pagination_max_limit = %d", opts.PaginationMaxLimit)
	}
	w("[database]")
	// timeout: how long SQLite waits for a lock the other process holds before it
	// answers "database is locked" (pysqlite's default is 5 s, which a loaded machine
	// exceeds while the worker and the API write at once).
	w("connection = sqlite:///%s?timeout=60", filepath.Join(dir, "octavia.db"))
	w("[controller_worker]")
	w("workers = 1")
	w("amphora_driver = amphora_noop_driver")
	w("compute_driver = compute_noop_driver")
	w("network_driver = network_noop_driver")
	w("volume_driver = volume_noop_driver")
	w("image_driver = image_noop_driver")
	w("loadbalancer_topology = SINGLE")
	w("amp_boot_network_list = 00000000-0000-0000-0000-00000000000a")
	w("amp_image_tag = amphora")
	w("amp_flavor_id = 1")
	w("amp_secgroup_list = 00000000-0000-0000-0000-00000000000b")
	w("client_ca = %s", filepath.Join(dir, "ca.pem"))
	w("[task_flow]")
	w("jobboard_enabled = False")
	w("engine = serial")
	w("[certificates]")
	w("cert_manager = local_cert_manager")
	w("cert_generator = local_cert_generator")
	w("ca_certificate = %s", filepath.Join(dir, "ca.pem"))
	w("ca_private_key = %s", filepath.Join(dir, "ca.key"))
	w("ca_private_key_passphrase = %s", caPassphrase)
	w("[haproxy_amphora]")
	w("client_cert = %s", filepath.Join(dir, "client.pem"))
	w("server_ca = %s", filepath.Join(dir, "ca.pem"))
	w("[oslo_concurrency]")
	w("lock_path = %s", filepath.Join(dir, "lock"))
	w("[oslo_messaging]")
	w("topic = octavia_prov") // the v1 consumer's (amphorav1 provider); it exits without one
	w("[oslo_messaging_rabbit]")
	w("rabbit_retry_interval = 1")
	w("rabbit_retry_backoff = 0")
	w("rabbit_interval_max = 1")
	return []byte(b.String())
}

//go:embed prepare.py
var prepareScript []byte

// template returns a directory holding a fresh database and certificates, made by
// prepare.py once per version of the script and of Octavia's models and kept in the
// user cache directory (a temporary one if there is none), shared by test binaries.
func template(in installation) (string, error) {
	h := sha256.New()
	h.Write(prepareScript)
	for _, f := range []string{"db/models.py", "common/constants.py"} {
		b, err := os.ReadFile(filepath.Join(in.OctaviaPkg, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	root = filepath.Join(root, "drover", "octaviatest")
	final := filepath.Join(root, key)
	if _, err := os.Stat(filepath.Join(final, "ok")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, "tmp-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	script := filepath.Join(tmp, "prepare.py")
	if err := os.WriteFile(script, prepareScript, 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(in.Python, script, tmp, caPassphrase)
	cmd.Env = pythonEnv(nil)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("preparing Octavia's database with %s: %w\n%s", in.Python, err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644); err != nil {
		return "", err
	}
	// Another test binary may have made it meanwhile: either one will do.
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "ok")); statErr != nil {
			return "", fmt.Errorf("keeping the prepared database: %w", err)
		}
	}
	return final, nil
}

// process is a child process with its output in a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // after done
}

// run starts a program of the stack, its output going to <name>.log.
func (s *Server) run(name string, env []string, bin string, args ...string) (*process, error) {
	p := &process{name: name, log: filepath.Join(s.dir, name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = s.dir
	p.cmd.Env = pythonEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	proc.SetAttrs(p.cmd)
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s.procs = append(s.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// pythonEnv is this process's environment without what would steer Debian's Python
// elsewhere (a pyenv, a virtualenv), without Python's warnings, plus extra.
func pythonEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PYTHON") || k == "VIRTUAL_ENV" || strings.HasPrefix(k, "RABBITMQ_") || strings.HasPrefix(k, "ERL_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PYTHONWARNINGS=ignore", "PYTHONDONTWRITEBYTECODE=1")
	return append(env, extra...)
}

// stop kills every process of the stack (their process groups: the worker's children,
// RabbitMQ's helpers) and waits for them.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		if s.locked {
			defer releaseMachine()
		}
		for i := len(s.procs) - 1; i >= 0; i-- {
			proc.KillGroup(s.procs[i].cmd)
		}
		deadline := time.After(stopTimeout)
		for _, p := range s.procs {
			select {
			case <-p.done:
			case <-deadline:
				return
			}
		}
	})
}

func (s *Server) portConflict() bool {
	for _, p := range s.procs {
		b, _ := os.ReadFile(p.log)
		if bytes.Contains(b, []byte("eaddrinuse")) || bytes.Contains(b, []byte("Address already in use")) {
			return true
		}
	}
	return false
}

// LogTails returns the last lines of each program's log.
func (s *Server) LogTails() string {
	var b strings.Builder
	for _, p := range s.procs {
		fmt.Fprintf(&b, "----- %s (%s)", p.name, p.log)
		select {
		case <-p.done:
			fmt.Fprintf(&b, ", exited: %v", p.err)
		default:
		}
		b.WriteString(" -----\n")
		b.WriteString(tail(p.log, 40))
		b.WriteString("\n")
	}
	return b.String()
}

// tail returns the last n lines of the file, without the Python warnings' noise.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls ready until it holds, ctx ends or one of procs exits.
func waitFor(ctx context.Context, what string, procs []*process, ready func() bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		for _, p := range procs {
			select {
			case <-p.done:
				return fmt.Errorf("waiting for %s: %s exited: %v", what, p.name, p.err)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// get sends an unauthenticated GET of the API path (relative to Endpoint).
func (s *Server) get(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Project-Id", s.opts.ProjectID)
	req.Header.Set("X-Roles", Roles)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// freePorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
