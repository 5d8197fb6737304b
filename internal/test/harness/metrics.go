package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// metricsReaderFieldManager applies the objects of InstallMetricsReader.
const metricsReaderFieldManager = "drover-metrics-reader"

// MetricsScraper scrapes the manager's metrics as Prometheus does: over HTTPS with the
// bearer token of a ServiceAccount bound to the chart's metrics-reader ClusterRole. It
// does not verify the manager's certificate (self-signed unless --metrics-cert-path).
type MetricsScraper struct {
	Token  string
	Client *http.Client
}

// InstallMetricsReader applies the chart's metrics-reader ClusterRole and, with
// metrics.readers naming it, its binding to the ServiceAccount namespace/name, which it
// creates (with its namespace) in the API server of cfg; it returns a MetricsScraper
// with a token of that ServiceAccount valid for ttl.
func InstallMetricsReader(ctx context.Context, root string, c client.Client, cfg *rest.Config, namespace, name string, ttl time.Duration) (*MetricsScraper, error) {
	values := map[string]any{"metrics": map[string]any{"readers": []any{
		map[string]any{"kind": "ServiceAccount", "name": name, "namespace": namespace},
	}}}
	rendered, err := chartObjects(root, namespace, values, map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true})
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, o := range rendered {
		if strings.HasSuffix(o.GetName(), "-metrics-reader") {
			objs = append(objs, o)
		}
	}
	if len(objs) != 2 {
		return nil, fmt.Errorf("charts/drover: want the metrics-reader ClusterRole and its binding, found %d objects", len(objs))
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(namespace)
	sa := &unstructured.Unstructured{}
	sa.SetAPIVersion("v1")
	sa.SetKind("ServiceAccount")
	sa.SetNamespace(namespace)
	sa.SetName(name)
	if err := Apply(ctx, c, metricsReaderFieldManager, append([]*unstructured.Unstructured{ns, sa}, objs...)...); err != nil {
		return nil, fmt.Errorf("installing the chart's metrics-reader: %w", err)
	}
	token, err := ServiceAccountToken(ctx, cfg, namespace, name, ttl)
	if err != nil {
		return nil, err
	}
	return NewMetricsScraper(token), nil
}

// NewMetricsScraper scrapes with token.
func NewMetricsScraper(token string) *MetricsScraper {
	return &MetricsScraper{Token: token, Client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			// The manager's certificate is self-signed; what this proves is that it
			// serves TLS and wants the token, not who it is.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test scraper of a self-signed endpoint
		},
	}}
}

// ServiceAccountToken is a token of the ServiceAccount namespace/name valid for ttl,
// from the TokenRequest API of cfg's API server.
func ServiceAccountToken(ctx context.Context, cfg *rest.Config, namespace, name string, ttl time.Duration) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	seconds := int64(ttl / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// Get GETs url with the scraper's token (none when empty). The caller closes the body.
func (s *MetricsScraper) Get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	return s.Client.Do(req)
}

// Scrape GETs url and returns the body; any status but 200 is an error.
func (s *MetricsScraper) Scrape(ctx context.Context, url string) (io.ReadCloser, error) {
	resp, err := s.Get(ctx, url)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return resp.Body, nil
}
