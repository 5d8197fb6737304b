// Package machine tells the benchmarks' reports what the machine was doing: they share
// it with their own kube-apiservers, moto and Octavia, so a time means little without
// the load beside it.
package machine

import (
	"os"
	"strings"
)

// LoadAverage is the first three fields of /proc/loadavg (the 1, 5 and 15 minute load
// averages, "0.52 0.58 0.59"), or "" where it cannot be read.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
