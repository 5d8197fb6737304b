package setup

import (
	"os"
	"strings"
)

// DefaultManagerNamespace is the namespace the manager runs in, as its ServiceAccount's
// mounted token says, or "drover-system" outside a Pod.
func DefaultManagerNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "drover-system"
}
