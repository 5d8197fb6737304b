package setup

import "testing"

func TestPprofBindAddress(t *testing.T) {
	for _, tc := range []struct {
		flag, want string
		ok         bool
	}{
		{"", "0", true},
		{"127.0.0.1:6060", "127.0.0.1:6060", true},
		{"[::1]:6060", "[::1]:6060", true},
		{"localhost:6060", "localhost:6060", true},
		{":6060", "", false},         // every interface
		{"0.0.0.0:6060", "", false},  // every interface
		{"10.0.0.5:6060", "", false}, // reachable from the network
		{"127.0.0.1", "", false},     // no port
		{"pprof.example:6060", "", false},
	} {
		got, err := PprofBindAddress(tc.flag)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("PprofBindAddress(%q) = %q, %v; want %q, ok %t", tc.flag, got, err, tc.want, tc.ok)
		}
	}
}
