// Package hookstest calls drover's Runtime Extension over HTTPS as Cluster API does,
// for tests.
package hookstest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	runtimecatalog "sigs.k8s.io/cluster-api/api/runtime/catalog"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/hooks"
)

// TB is the part of testing.TB the helpers use; Ginkgo's GinkgoT() has it too.
type TB interface {
	Helper()
	Fatal(args ...any)
	TempDir() string
}

// Caller calls a Runtime Extension over HTTPS the way Cluster API's runtime client does.
type Caller struct {
	// Base is https://host:port.
	Base string
	// HTTP verifies the server against the ExtensionConfig's CA bundle.
	HTTP *http.Client
}

// NewCaller returns a Caller of the server at base whose certificate caPEM signed. It
// presents the client certificates given, as Cluster API's runtime client presents the
// one of its --runtime-extension-client-cert-file.
func NewCaller(base string, caPEM []byte, clientCerts ...tls.Certificate) (*Caller, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in the CA bundle")
	}
	return &Caller{Base: base, HTTP: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: clientCerts, MinVersion: tls.VersionTLS12}}}}, nil
}

// Ready reports whether the server accepts TLS connections.
func (c *Caller) Ready() error {
	r, err := c.HTTP.Get(c.Base + "/")
	if err != nil {
		return err
	}
	return r.Body.Close()
}

// Catalog is Cluster API's hook catalog.
func Catalog() *runtimecatalog.Catalog {
	c := runtimecatalog.New()
	if err := runtimehooksv1.AddToCatalog(c); err != nil {
		panic(err)
	}
	return c
}

// Call POSTs req to the handler of hook as Cluster API does and decodes the answer.
func (c *Caller) Call(g gomega.Gomega, hook runtimecatalog.Hook, name string, req runtime.Object, resp runtimehooksv1.ResponseObject) {
	cat := Catalog()
	gvh, err := cat.GroupVersionHook(hook)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	reqGVK, err := cat.GroupVersionKind(req)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	req.GetObjectKind().SetGroupVersionKind(reqGVK)
	body, err := json.Marshal(req)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	r, err := c.HTTP.Post(c.Base+runtimecatalog.GVHToPath(gvh, name)+"?timeout=10s", "application/json", bytes.NewReader(body))
	g.Expect(err).NotTo(gomega.HaveOccurred())
	defer r.Body.Close()
	g.Expect(r.StatusCode).To(gomega.Equal(http.StatusOK))
	g.Expect(json.NewDecoder(r.Body).Decode(resp)).To(gomega.Succeed())
}

func cluster(namespace, name string) clusterv1.Cluster {
	return clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

// The versions an upgrade's calls name: from FromVersion to ToVersion.
const (
	FromVersion = "v1.35.2"
	ToVersion   = "v1.36.3"
)

// MarkUpgrade makes the Cluster look as Cluster API's topology controller leaves one it
// upgrades: spec.topology.version is ToVersion, and the control plane reports running
// controlPlane (FromVersion while the upgrade waits, ToVersion once it is done).
func MarkUpgrade(ctx context.Context, c client.Client, key client.ObjectKey, controlPlane string) error {
	cl := &clusterv1.Cluster{}
	if err := c.Get(ctx, key, cl); err != nil {
		return err
	}
	before := cl.DeepCopy()
	cl.Spec.Topology = clusterv1.Topology{ClassRef: clusterv1.ClusterClassRef{Name: "hookstest"}, Version: ToVersion}
	if err := c.Patch(ctx, cl, client.MergeFrom(before)); err != nil {
		return err
	}
	before = cl.DeepCopy()
	cl.Status.ControlPlane = &clusterv1.ClusterControlPlaneStatus{Versions: []clusterv1.StatusVersion{{Version: controlPlane, Replicas: 1}}}
	return c.Status().Patch(ctx, cl, client.MergeFrom(before))
}

// BeforeUpgrade calls the BeforeClusterUpgrade handler for a cluster.
func (c *Caller) BeforeUpgrade(g gomega.Gomega, namespace, name string) *runtimehooksv1.BeforeClusterUpgradeResponse {
	resp := &runtimehooksv1.BeforeClusterUpgradeResponse{}
	c.Call(g, runtimehooksv1.BeforeClusterUpgrade, hooks.BeforeClusterUpgradeHandler, &runtimehooksv1.BeforeClusterUpgradeRequest{
		Cluster: cluster(namespace, name), FromKubernetesVersion: FromVersion, ToKubernetesVersion: ToVersion,
	}, resp)
	return resp
}

// AfterUpgrade calls the AfterClusterUpgrade handler for a cluster.
func (c *Caller) AfterUpgrade(g gomega.Gomega, namespace, name string) *runtimehooksv1.AfterClusterUpgradeResponse {
	resp := &runtimehooksv1.AfterClusterUpgradeResponse{}
	c.Call(g, runtimehooksv1.AfterClusterUpgrade, hooks.AfterClusterUpgradeHandler, &runtimehooksv1.AfterClusterUpgradeRequest{
		Cluster: cluster(namespace, name), KubernetesVersion: ToVersion,
	}, resp)
	g.Expect(resp.Status).To(gomega.Equal(runtimehooksv1.ResponseStatusSuccess), resp.Message)
	return resp
}

// ServeCert writes a serving certificate for 127.0.0.1 signed by a new CA into a
// directory, as tls.crt and tls.key, and returns the CA's PEM.
func ServeCert(t TB) ([]byte, string) {
	t.Helper()
	caDER, ca, caKey := newCA(t, "drover test CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "drover-runtime-extension"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tls.crt", "CERTIFICATE", der)
	write("tls.key", "EC PRIVATE KEY", keyDER)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), dir
}

func newCA(t TB, name string) ([]byte, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	caTmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	return caDER, ca, caKey
}

// ClientCA is a CA of client certificates, such as the one whose certificate signs
// Cluster API's --runtime-extension-client-cert-file.
type ClientCA struct {
	// PEM is the CA's certificate; File holds it (the extension's
	// --runtime-extension-client-ca-file).
	PEM  []byte
	File string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

// NewClientCA makes a CA of client certificates named name.
func NewClientCA(t TB, name string) *ClientCA {
	t.Helper()
	der, cert, key := newCA(t, name)
	ca := &ClientCA{PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key, dir: t.TempDir()}
	ca.File = filepath.Join(ca.dir, "ca.crt")
	if err := os.WriteFile(ca.File, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// ClientCert is a client certificate, also written as PEM files.
type ClientCert struct {
	tls.Certificate
	CertFile, KeyFile string
}

// Issue returns a client certificate with Common Name cn, for client authentication.
func (ca *ClientCA) Issue(t TB, cn string) ClientCert {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := ClientCert{Certificate: pair, CertFile: filepath.Join(ca.dir, cn+".crt"), KeyFile: filepath.Join(ca.dir, cn+".key")}
	if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// FreePort returns a free loopback port.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
