package setup

import (
	"fmt"
	"net"
)

// PprofBindAddress checks the manager's --pprof value, the address Go's profiling
// endpoints (/debug/pprof/) are served on: "" (the default) serves none; anything else
// must be a loopback address with a port, such as 127.0.0.1:6060, so the profiles (which
// show what the manager holds, and cost CPU to take) are reached only through
// kubectl port-forward or from the manager's own host. It returns controller-runtime's
// PprofBindAddress: "0" for none.
func PprofBindAddress(flag string) (string, error) {
	if flag == "" {
		return "0", nil
	}
	host, port, err := net.SplitHostPort(flag)
	if err != nil || port == "" {
		return "", fmt.Errorf("--pprof=%q: want a loopback address and port, such as 127.0.0.1:6060", flag)
	}
	if host == "localhost" {
		return flag, nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("--pprof=%q: serve the profiles on a loopback address (127.0.0.1 or [::1]) only; reach them with kubectl port-forward", flag)
	}
	return flag, nil
}
