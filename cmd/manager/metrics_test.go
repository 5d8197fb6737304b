package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The manager binary, with its default metrics flags, as the chart's ServiceAccount
// against a real kube-apiserver: its metrics answer over HTTPS only a token allowed to
// GET /metrics (internal/setup's TestMetricsEndpointAuthnAuthz checks the same of the
// options alone; this checks that the binary serves them).
func TestManagerMetricsAreAuthenticatedAndAuthorized(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	if err := harness.BuildManager(ctx, root, binary); err != nil {
		t.Fatal(err)
	}
	bed := testbed.StartForTest(ctx, t, testbed.Options{
		Logf:              t.Logf,
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		Scheme:            setup.Scheme(),
	})
	cp := bed.ControlPlane
	id, err := harness.InstallIdentities(ctx, root, bed, "drover-system", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(kubeconfig, id.ManagerKubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := harness.InstallMetricsReader(ctx, root, cp.Client, cp.Config, "monitoring", "prometheus", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nosy := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "nosy"}}
	if err := cp.Client.Create(ctx, nosy); err != nil {
		t.Fatal(err)
	}
	nosyToken, err := harness.ServiceAccountToken(ctx, cp.Config, nosy.Namespace, nosy.Name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	// No --metrics-secure: the default is what is checked.
	mgr, err := harness.StartManager(harness.ManagerOptions{
		Binary: binary, Kubeconfig: kubeconfig,
		Args:    []string{"--leader-elect=false", "--health-probe-bind-address=0", "--metrics-bind-address=" + addr},
		LogPath: filepath.Join(dir, "manager.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mgr.Stop(30 * time.Second); err != nil {
			t.Errorf("stopping the manager: %v", err)
		}
		if t.Failed() {
			t.Logf("manager log:\n%s", mgr.LogTail(40))
		}
	})

	url := "https://" + addr + "/metrics"
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if mgr.Exited() {
			t.Fatalf("the manager exited: %v", mgr.ExitError())
		}
		rc, err := reader.Scrape(ctx, url)
		if err == nil {
			b := new(strings.Builder)
			_, err = io.Copy(b, rc)
			_ = rc.Close()
			if err == nil {
				body = b.String()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics-reader cannot scrape %s: %v", url, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	// The API requests the manager made before it served metrics: client-go's, as
	// controller-runtime registers them.
	if families["rest_client_requests_total"] == nil {
		var names []string
		for n := range families {
			names = append(names, n)
		}
		t.Errorf("the metrics lack rest_client_requests_total; got %v", names)
	}

	for name, c := range map[string]struct {
		scraper *harness.MetricsScraper
		want    int
	}{
		"no token": {harness.NewMetricsScraper(""), http.StatusUnauthorized},
		"a ServiceAccount without metrics-reader": {harness.NewMetricsScraper(nosyToken), http.StatusForbidden},
	} {
		resp, err := c.scraper.Get(ctx, url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s; want %d", name, resp.Status, c.want)
		}
	}
}
