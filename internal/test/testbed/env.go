package testbed

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is one Kubernetes API: a real kube-apiserver and etcd started by envtest.
type Env struct {
	// Name is "control-plane" for the control plane, else the workload's name.
	Name string
	// Environment is the underlying envtest environment.
	Environment *envtest.Environment
	// Config is an admin (system:masters) REST config for this API.
	Config *rest.Config
	// Client is a client built from Config with the test bed's scheme.
	Client client.Client
	// Kubeconfig is a kubeconfig for the same admin user as Config.
	Kubeconfig []byte
	// Host and Port are where the kube-apiserver serves; they stay the same across
	// restarts.
	Host string
	Port int

	apiLog  *os.File
	etcdLog *os.File
}

type envSpec struct {
	name         string
	dir          string
	logDir       string
	binDir       string
	crdPaths     []string
	scheme       *runtime.Scheme
	startTimeout time.Duration
	user         string // client certificate CN of the admin user
	// disableAdmission replaces envtest's --disable-admission-plugins (ServiceAccount).
	disableAdmission []string
	clusterName      string // cluster/context naming in Kubeconfig
}

func startEnv(spec envSpec) (_ *Env, retErr error) {
	e := &Env{Name: spec.name}
	certDir := filepath.Join(spec.dir, "certs")
	dataDir := filepath.Join(spec.dir, "etcd")
	for _, d := range []string{certDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	var err error
	if e.apiLog, err = openLog(filepath.Join(spec.logDir, spec.name+"-kube-apiserver.log")); err != nil {
		return nil, err
	}
	if e.etcdLog, err = openLog(filepath.Join(spec.logDir, spec.name+"-etcd.log")); err != nil {
		_ = e.apiLog.Close()
		return nil, err
	}
	defer func() {
		if retErr != nil {
			e.closeLogs()
		}
	}()
	apiPath, err := wrapBinary(filepath.Join(spec.dir, "bin"), "kube-apiserver", filepath.Join(spec.binDir, "kube-apiserver"))
	if err != nil {
		return nil, err
	}
	etcdPath, err := wrapBinary(filepath.Join(spec.dir, "bin"), "etcd", filepath.Join(spec.binDir, "etcd"))
	if err != nil {
		return nil, err
	}

	e.Environment = &envtest.Environment{
		Scheme:                   spec.scheme,
		CRDDirectoryPaths:        spec.crdPaths,
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    spec.binDir,
		ControlPlaneStartTimeout: spec.startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
		ControlPlane: envtest.ControlPlane{
			// An explicit CertDir and DataDir: envtest deletes directories it created
			// itself on Stop, and a restarted kube-apiserver needs the same certs.
			APIServer: &envtest.APIServer{CertDir: certDir, Path: apiPath, Out: e.apiLog, Err: e.apiLog},
			Etcd:      &envtest.Etcd{DataDir: dataDir, Path: etcdPath, Out: e.etcdLog, Err: e.etcdLog},
		},
	}
	// Without this a kube-apiserver with open watches (controllers, managers under
	// test) waits up to --request-timeout (60s) for them on SIGTERM; with it, in-flight
	// requests drain and the HTTP server gets 2s.
	e.Environment.ControlPlane.APIServer.Configure().Set("shutdown-send-retry-after", "true")
	if len(spec.disableAdmission) > 0 {
		e.Environment.ControlPlane.APIServer.Configure().Set("disable-admission-plugins", strings.Join(spec.disableAdmission, ","))
	}
	if _, err := e.Environment.Start(); err != nil {
		_ = e.Environment.Stop()
		return nil, fmt.Errorf("starting %s kube-apiserver/etcd: %w", spec.name, err)
	}
	defer func() {
		if retErr != nil {
			_ = e.Environment.Stop()
		}
	}()

	ss := e.Environment.ControlPlane.APIServer.SecureServing
	e.Host = ss.Address
	if e.Port, err = strconv.Atoi(ss.Port); err != nil {
		return nil, fmt.Errorf("kube-apiserver port %q: %w", ss.Port, err)
	}
	// Pin the address: APIServer.Start reuses SecurePort, but be explicit.
	e.Environment.ControlPlane.APIServer.SecurePort = e.Port

	user, err := e.Environment.AddUser(envtest.User{Name: spec.user, Groups: []string{"system:masters"}},
		&rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		return nil, err
	}
	e.Config = user.Config()
	if e.Kubeconfig, err = kubeconfigFor(spec.clusterName, e.URL(), e.Config); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: spec.scheme}); err != nil {
		return nil, err
	}
	return e, nil
}

// URL returns https://host:port of the kube-apiserver.
func (e *Env) URL() string {
	return "https://" + net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
}

func (e *Env) stop() error {
	defer e.closeLogs()
	return e.Environment.Stop()
}

func (e *Env) closeLogs() {
	if e.apiLog != nil {
		_ = e.apiLog.Close()
	}
	if e.etcdLog != nil {
		_ = e.etcdLog.Close()
	}
}

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// kubeconfigFor renders cfg as a kubeconfig named the way Cluster API names the
// kubeconfigs it generates: cluster <name>, user <name>-admin, context
// <name>-admin@<name>.
func kubeconfigFor(clusterName, server string, cfg *rest.Config) ([]byte, error) {
	userName := clusterName + "-admin"
	contextName := userName + "@" + clusterName
	return clientcmd.Write(clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			clusterName: {Server: server, CertificateAuthorityData: cfg.CAData},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			userName: {ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData},
		},
		Contexts: map[string]*clientcmdapi.Context{
			contextName: {Cluster: clusterName, AuthInfo: userName},
		},
		CurrentContext: contextName,
	})
}
