package octaviatest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
)

// A stack of StartServer serves, has its operating statuses written without a
// testing.TB, keeps its logs in Dir, and is gone after Stop.
func TestStartServerWriteOperatingStatusStop(t *testing.T) {
	dir := t.TempDir()
	s, err := StartServer(dir, Options{ProjectID: "standalone"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	if !strings.HasPrefix(s.Dir(), dir+string(filepath.Separator)) {
		t.Errorf("Dir() = %s, want a directory under %s", s.Dir(), dir)
	}
	for _, f := range []string{"octavia-api.log", "octavia-worker.log", "rabbitmq.log", "octavia.conf"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), f)); err != nil {
			t.Errorf("the stack's directory lacks %s: %v", f, err)
		}
	}

	lb := s.CreateLoadBalancer(t, LoadBalancerSpec{Name: "standalone"})
	if err := s.WriteOperatingStatus(t.Context(), LoadBalancerObject, lb.ID, "ONLINE"); err != nil {
		t.Fatal(err)
	}
	got, err := loadbalancers.Get(t.Context(), s.ServiceClient(t), lb.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.OperatingStatus != "ONLINE" {
		t.Errorf("operating status %s after writing ONLINE", got.OperatingStatus)
	}
	for _, bad := range []struct {
		obj Object
		id  string
	}{{LoadBalancerObject, "00000000-0000-0000-0000-000000000000"}, {Object("amphora"), lb.ID}} {
		if err := s.WriteOperatingStatus(t.Context(), bad.obj, bad.id, "ERROR"); err == nil {
			t.Errorf("WriteOperatingStatus(%s %s) = nil, want an error", bad.obj, bad.id)
		}
	}

	s.Stop()
	stopped = true
	for _, p := range s.procs {
		select {
		case <-p.done:
		default:
			t.Errorf("%s runs after Stop", p.name)
		}
	}
	if resp, err := http.Get(s.Endpoint()); err == nil {
		_ = resp.Body.Close()
		t.Errorf("the API answers after Stop")
	}
	s.Stop() // again: nothing
}
