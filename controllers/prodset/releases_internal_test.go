package prodset

import "testing"

func TestAwaitsApproval(t *testing.T) {
	for msg, want := range map[string]bool{
		"step canary: gate 2 (approval): waiting for approval (promote): look at the canary":                                                 true,
		"step canary: gate 1 (httpCheck): not evaluated yet; gate 2 (approval): waiting for approval (promote)":                              false,
		"step canary: gate 1 (pause): waiting for approval (promote); gate 2 (approval): waiting for approval (promote): look at the canary": true,
		"step canary: minHealthyTime 1m0s: healthy for 10s":                                                                                  false,
		"": false,
	} {
		if got := awaitsApproval(msg); got != want {
			t.Errorf("awaitsApproval(%q) = %v, want %v", msg, got, want)
		}
	}
}
