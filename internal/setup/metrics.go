package setup

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The manager's metrics endpoint checks, on every request, the bearer token with a
// TokenReview and whether its user may GET the non-resource URL /metrics with a
// SubjectAccessReview (filters.WithAuthenticationAndAuthorization), so its ClusterRole
// needs both. Whoever scrapes it needs the metrics-reader ClusterRole
// (config/rbac/metrics_reader_role.yaml, the chart's <release>-metrics-reader).
//
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// MetricsFlags are the manager's flags for its Prometheus endpoint.
type MetricsFlags struct {
	// BindAddress is where the endpoint listens; "0" turns it off.
	BindAddress string
	// Secure serves HTTPS and lets through only requests whose bearer token the API
	// server authenticates and whose user may GET /metrics. Off only for local runs.
	Secure bool
	// CertPath is a directory with the serving certificate and key (CertName,
	// KeyName), reloaded when they change. Empty: a self-signed certificate (ECDSA
	// P-256) made at start, in memory.
	CertPath, CertName, KeyName string
}

// DefaultMetricsBindAddress is the metrics endpoint's default address.
const DefaultMetricsBindAddress = ":8443"

// Bind registers the flags on fs.
func (f *MetricsFlags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.BindAddress, "metrics-bind-address", DefaultMetricsBindAddress, "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	fs.BoolVar(&f.Secure, "metrics-secure", true, "Serve metrics over HTTPS to callers whose bearer token may GET /metrics (TokenReview and SubjectAccessReview). false serves plain HTTP to anyone: for local runs only.")
	fs.StringVar(&f.CertPath, "metrics-cert-path", "", "Directory with the metrics endpoint's serving certificate and key (reloaded when they change); empty: a self-signed certificate.")
	fs.StringVar(&f.CertName, "metrics-cert-name", "tls.crt", "File name of the metrics serving certificate in --metrics-cert-path.")
	fs.StringVar(&f.KeyName, "metrics-cert-key", "tls.key", "File name of the metrics serving key in --metrics-cert-path.")
}

// ServerOptions are the controller-runtime metrics server options the flags ask for.
// A --metrics-cert-path without its certificate or key is an error, not a silent
// fallback to a self-signed certificate.
func (f MetricsFlags) ServerOptions() (metricsserver.Options, error) {
	o := metricsserver.Options{BindAddress: f.BindAddress}
	if !f.Secure || f.BindAddress == "0" {
		return o, nil
	}
	o.SecureServing = true
	o.FilterProvider = filters.WithAuthenticationAndAuthorization
	// HTTP/2 off, as kubebuilder scaffolds it: its stream handling has had
	// denial-of-service bugs (HTTP/2 Rapid Reset, CVE-2023-44487) and Prometheus
	// does not need it.
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) {
		c.NextProtos = []string{"http/1.1"}
		c.MinVersion = tls.VersionTLS12
	}}
	if f.CertPath != "" {
		for _, name := range []string{f.CertName, f.KeyName} {
			if _, err := os.Stat(filepath.Join(f.CertPath, name)); err != nil {
				return o, fmt.Errorf("--metrics-cert-path: %w", err)
			}
		}
		o.CertDir, o.CertName, o.KeyName = f.CertPath, f.CertName, f.KeyName
		return o, nil
	}
	// controller-runtime's own fallback is an RSA-2048 key, whose generation took a
	// twentieth of the CPU of a manager's restart at 2,000 Prods: an ECDSA P-256 key is
	// made in microseconds, and serves the scrapes' handshakes cheaper too.
	cert, err := selfSignedCertificate(time.Now())
	if err != nil {
		return o, fmt.Errorf("making the metrics endpoint's self-signed certificate: %w", err)
	}
	o.TLSOpts = append(o.TLSOpts, func(c *tls.Config) {
		c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	})
	return o, nil
}

// selfSignedCertificate is a certificate for localhost and 127.0.0.1, valid for a year
// from now, with a new ECDSA P-256 key, kept in memory only. Its only use is to encrypt
// the scrape: whoever scrapes authenticates with a bearer token, and trusts no
// certificate of the endpoint's own making.
func selfSignedCertificate(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "drover-metrics@" + strconv.FormatInt(now.Unix(), 10)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
