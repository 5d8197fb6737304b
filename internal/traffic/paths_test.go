package traffic

import "testing"

func TestSplit(t *testing.T) {
	both := SplitInput{OctaviaVIP: "10.0.0.5", NLBDNSName: "nlb.example", NLBZoneID: "Z", OctaviaWeight: 90, NLBWeight: 10}
	with := func(f func(*SplitInput)) SplitInput { in := both; f(&in); return in }
	cases := []struct {
		name     string
		in       SplitInput
		oct, nlb int32
	}{
		{"steady state", both, 90, 10},
		{"health unknown keeps the steady state", with(func(in *SplitInput) { in.Octavia, in.NLB = HealthUnknown, HealthUnknown }), 90, 10},
		{"both healthy", with(func(in *SplitInput) { in.Octavia, in.NLB = Healthy, Healthy }), 90, 10},
		{"Octavia down: the NLB takes the Prod's traffic", with(func(in *SplitInput) { in.Octavia = Unhealthy }), 0, 100},
		{"NLB down: Octavia keeps serving", with(func(in *SplitInput) { in.NLB = Unhealthy }), 100, 0},
		{"both down: no guessing", with(func(in *SplitInput) { in.Octavia, in.NLB = Unhealthy, Unhealthy }), 90, 10},
		{"no mirror: Octavia takes it all", with(func(in *SplitInput) { in.NLBDNSName = ""; in.NLB = Unhealthy }), 100, 0},
		{"no mirror, Octavia down: still the only path", with(func(in *SplitInput) { in.NLBDNSName = ""; in.Octavia = Unhealthy }), 100, 0},
		{"no VIP known: the NLB alone", with(func(in *SplitInput) { in.OctaviaVIP = "" }), 0, 100},
		{"weights capped at 255", with(func(in *SplitInput) { in.OctaviaWeight, in.NLBWeight, in.Octavia = 200, 200, Unhealthy }), 0, 255},
		{"an only path with weight 0 still answers", with(func(in *SplitInput) { in.NLBDNSName, in.OctaviaWeight, in.NLBWeight = "", 0, 0 }), 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Split(tc.in)
			if p.OctaviaWeight != tc.oct || p.NLBWeight != tc.nlb {
				t.Errorf("Split = octavia %d, nlb %d; want %d, %d", p.OctaviaWeight, p.NLBWeight, tc.oct, tc.nlb)
			}
			if p.NLBDNSName == "" && p.NLBZoneID != "" {
				t.Errorf("an NLB zone without an NLB: %+v", p)
			}
		})
	}
	if (&Paths{}).Routable() || !(&Paths{NLBDNSName: "x"}).Routable() {
		t.Error("Routable")
	}
	a, b := Split(both), Split(with(func(in *SplitInput) { in.Octavia = Unhealthy }))
	c := Split(both)
	if a.Digest() == b.Digest() || a.Digest() != c.Digest() {
		t.Error("Digest does not tell the published forms apart")
	}
}
