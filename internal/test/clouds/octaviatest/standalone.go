package octaviatest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// What a program outside of tests (the local sandbox, cmd/sandbox) needs: a stack it
// starts and stops itself, and the health manager's part without a testing.TB.

// StartServer runs an Octavia stack in dir (created if missing; the stack's
// configuration, database and logs go in a subdirectory, Dir) and returns once the API
// answers and the worker consumes. Stop ends it; dir stays. It fails if Octavia is not
// installed, naming hack/ensure-octavia.sh; the error of a stack that did not come up
// holds the tails of its logs.
func StartServer(dir string, opts Options) (*Server, error) {
	s, err := start(dir, opts, debian)
	if err != nil {
		if s != nil {
			s.stop()
		}
		return nil, err
	}
	return s, nil
}

// Stop kills every process of the stack (RabbitMQ and epmd included) and waits for
// them. Calling it again does nothing.
func (s *Server) Stop() { s.stop() }

// Dir is the directory of the running stack: octavia.conf, octavia.db and one
// <program>.log per program (octavia-api, octavia-worker, rabbitmq, epmd).
func (s *Server) Dir() string { return s.dir }

// WriteOperatingStatus is SetOperatingStatus for a program without a testing.TB: it
// writes the operating status of an object straight into the database, as Octavia's
// health manager would, and fails if there is no such object or the kind is unknown.
func (s *Server) WriteOperatingStatus(ctx context.Context, obj Object, id, status string) error {
	switch obj {
	case LoadBalancerObject, ListenerObject, PoolObject, MemberObject, MonitorObject:
	default:
		return fmt.Errorf("octaviatest: operating status of unknown object kind %q", obj)
	}
	out, err := exec.CommandContext(ctx, debian.Python, "-c", setStatusScript, string(obj), id, status, s.dbPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("octaviatest: setting the operating status of %s %s to %s: %w\n%s", obj, id, status, err, out)
	}
	if strings.TrimSpace(string(out)) != "1" {
		return fmt.Errorf("octaviatest: setting the operating status of %s %s to %s: no such %s", obj, id, status, obj)
	}
	return nil
}
