package setup_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The flags ask for what they say: HTTPS with authentication and authorization by
// default; plain HTTP only with --metrics-secure=false; a certificate directory that
// lacks the certificate is refused rather than replaced by a self-signed one.
func TestMetricsFlags(t *testing.T) {
	var f setup.MetricsFlags
	fs := pflagSet(&f)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	o, err := f.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.BindAddress != ":8443" || !o.SecureServing || o.FilterProvider == nil || o.CertDir != "" {
		t.Errorf("default options %+v; want :8443, HTTPS, the authn/authz filter, a self-signed certificate", o)
	}
	// The self-signed certificate is drover's (ECDSA, for localhost, valid now), not
	// controller-runtime's RSA fallback, which it replaces through GetCertificate.
	cfg := &tls.Config{}
	for _, op := range o.TLSOpts {
		op(cfg)
	}
	if cfg.GetCertificate == nil {
		t.Fatal("no self-signed certificate: controller-runtime would make an RSA key at every start")
	}
	cert, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || cert.Leaf == nil {
		t.Fatalf("the self-signed certificate: %v, %v", cert, err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("the self-signed certificate's key is a %T, want ECDSA", cert.PrivateKey)
	}
	if err := cert.Leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if now := time.Now(); now.Before(cert.Leaf.NotBefore) || now.After(cert.Leaf.NotAfter) {
		t.Errorf("the self-signed certificate is valid %s to %s, not now", cert.Leaf.NotBefore, cert.Leaf.NotAfter)
	}
	if !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) {
		t.Errorf("NextProtos %v, want HTTP/1.1 only", cfg.NextProtos)
	}

	if err := fs.Parse([]string{"--metrics-secure=false", "--metrics-bind-address=127.0.0.1:8080"}); err != nil {
		t.Fatal(err)
	}
	if o, err = f.ServerOptions(); err != nil || o.SecureServing || o.FilterProvider != nil {
		t.Errorf("--metrics-secure=false: %+v, %v; want plain HTTP without a filter", o, err)
	}

	dir := t.TempDir()
	if err := fs.Parse([]string{"--metrics-secure=true", "--metrics-cert-path=" + dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ServerOptions(); err == nil {
		t.Error("--metrics-cert-path without tls.crt and tls.key was accepted")
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if o, err = f.ServerOptions(); err != nil || o.CertDir != dir || o.CertName != "tls.crt" || o.KeyName != "tls.key" {
		t.Errorf("--metrics-cert-path=%s: %+v, %v", dir, o, err)
	}
}

// The manager's metrics endpoint, as cmd/manager serves it, against a real API server,
// running as the chart's ServiceAccount with the chart's ClusterRole: without a token
// 401, with a token of a ServiceAccount not bound to metrics-reader 403, with one of a
// ServiceAccount the chart's metrics.readers binds 200 and the metrics.
func TestMetricsEndpointAuthnAuthz(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bed := testbed.StartForTest(ctx, t, testbed.Options{Logf: t.Logf})
	cp := bed.ControlPlane

	// The manager acts as the chart's ServiceAccount, with the chart's RBAC only.
	id, err := harness.InstallIdentities(ctx, root, bed, "drover-system", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	managerCfg, err := clientcmd.RESTConfigFromKubeConfig(id.ManagerKubeconfig)
	if err != nil {
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

	// A metric of our own, so that "the metrics" means something this test can find.
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: "drover_test_metrics_auth_probe", Help: "Set by TestMetricsEndpointAuthnAuthz."})
	probe.Set(42)
	if err := ctrlmetrics.Registry.Register(probe); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctrlmetrics.Registry.Unregister(probe) })

	addr := freeAddress(t)
	flags := setup.MetricsFlags{BindAddress: addr, Secure: true, CertName: "tls.crt", KeyName: "tls.key"}
	opts, err := flags.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(managerCfg, ctrl.Options{
		Scheme:                 bed.Scheme,
		Metrics:                opts,
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	url := "https://" + addr + "/metrics"
	anonymous := harness.NewMetricsScraper("")
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := anonymous.Get(ctx, url)
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics endpoint does not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	status := func(s *harness.MetricsScraper) (int, string) {
		t.Helper()
		resp, err := s.Get(ctx, url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	for name, c := range map[string]struct {
		scraper *harness.MetricsScraper
		want    []int
	}{
		"no token": {anonymous, []int{http.StatusUnauthorized}},
		// controller-runtime's filter answers 500 when the TokenReview comes back with
		// an error, as the API server's does for a token that is not a JWT it signed.
		"a token the API server did not issue":    {harness.NewMetricsScraper("not-a-token"), []int{http.StatusUnauthorized, http.StatusInternalServerError}},
		"a ServiceAccount without metrics-reader": {harness.NewMetricsScraper(nosyToken), []int{http.StatusForbidden}},
	} {
		code, body := status(c.scraper)
		if !slices.Contains(c.want, code) {
			t.Errorf("%s: %d; want %v (%s)", name, code, c.want, body)
		}
		if strings.Contains(body, "drover_test_metrics_auth_probe") {
			t.Errorf("%s: the response holds the metrics", name)
		}
	}

	code, body := status(reader)
	if code != http.StatusOK {
		t.Fatalf("metrics-reader: %d; want 200 (%s)", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics-reader: the body does not parse: %v", err)
	}
	if f := families["drover_test_metrics_auth_probe"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 42 {
		t.Errorf("metrics-reader: drover_test_metrics_auth_probe is %v; want 42", f)
	}

	// Plain HTTP gets nothing.
	resp, err := http.Get("http://" + addr + "/metrics") //nolint:noctx // a one-off probe
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "drover_test_metrics_auth_probe") {
			t.Errorf("plain HTTP: %s; want no metrics", resp.Status)
		}
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func pflagSet(f *setup.MetricsFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
	f.Bind(fs)
	return fs
}
