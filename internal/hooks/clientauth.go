package hooks

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// clientAuth makes the Runtime Extension's TLS server require a client certificate
// signed by the CAs of a PEM bundle and, when names are set, with one of them as its
// Common Name or a DNS name. Cluster API's controllers present one when started with
// --runtime-extension-client-cert-file and --runtime-extension-client-key-file; a caller
// without it fails the TLS handshake and never reaches a handler.
//
// The bundle is read again when the file changes (a Secret volume's update), so that a
// CA can be rotated without a restart; if it cannot be read, every handshake fails.
type clientAuth struct {
	caFile string
	names  []string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	pool    *x509.CertPool
}

func newClientAuth(caFile string, names []string) (*clientAuth, error) {
	a := &clientAuth{caFile: caFile}
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			a.names = append(a.names, n)
		}
	}
	if _, err := a.roots(); err != nil {
		return nil, err
	}
	return a, nil
}

// configure is the server's TLS option: a client certificate is required and checked by
// verify.
func (a *clientAuth) configure(cfg *tls.Config) {
	cfg.MinVersion = tls.VersionTLS12
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.VerifyConnection = a.verify
}

// roots returns the CAs, read again when the file has changed.
func (a *clientAuth) roots() (*x509.CertPool, error) {
	fi, err := os.Stat(a.caFile)
	if err != nil {
		return nil, fmt.Errorf("client CA bundle: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pool != nil && fi.ModTime().Equal(a.modTime) && fi.Size() == a.size {
		return a.pool, nil
	}
	b, err := os.ReadFile(a.caFile)
	if err != nil {
		return nil, fmt.Errorf("client CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client CA bundle %s holds no PEM certificate", a.caFile)
	}
	a.pool, a.modTime, a.size = pool, fi.ModTime(), fi.Size()
	return pool, nil
}

// verify checks the client's certificate chain against the CAs, for client
// authentication, and its names. It runs on every handshake, resumed ones included.
func (a *clientAuth) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	roots, err := a.roots()
	if err != nil {
		return err
	}
	leaf := cs.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	if len(a.names) == 0 {
		return nil
	}
	if leaf.Subject.CommonName != "" && slices.Contains(a.names, leaf.Subject.CommonName) {
		return nil
	}
	for _, n := range leaf.DNSNames {
		if slices.Contains(a.names, n) {
			return nil
		}
	}
	return fmt.Errorf("client certificate %q (DNS names %v) is not one of the allowed clients %v", leaf.Subject.CommonName, leaf.DNSNames, a.names)
}

// ParseNamespaceSelector reads a namespace selector given as JSON or YAML, the
// namespaceSelector of an ExtensionConfig (for instance {"matchLabels":{"a":"b"}}); ""
// is nil, which selects every namespace.
func ParseNamespaceSelector(s string) (*metav1.LabelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	sel := &metav1.LabelSelector{}
	if err := yaml.UnmarshalStrict([]byte(s), sel); err != nil {
		return nil, fmt.Errorf("namespace selector %q: %w", s, err)
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return nil, fmt.Errorf("namespace selector %q: %w", s, err)
	}
	return sel, nil
}
