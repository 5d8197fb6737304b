package builder

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestProdSetDefaultsAndOptions(t *testing.T) {
	plain := ProdSet("ns", "shop")
	if *plain.Spec.Replicas != 1 || plain.Spec.Template.Spec.Version != "v1" || plain.Spec.Template.Spec.TargetNamespace != "shop" ||
		plain.Spec.Traffic != nil || plain.Spec.RolloutPolicyRef != nil || len(plain.Spec.Template.Spec.Manifests) != 1 {
		t.Fatalf("defaults: %+v", plain.Spec)
	}
	var cm map[string]any
	if err := json.Unmarshal(plain.Spec.Template.Spec.Manifests[0].Raw, &cm); err != nil || cm["kind"] != "ConfigMap" {
		t.Fatalf("default manifest %s: %v", plain.Spec.Template.Spec.Manifests[0].Raw, err)
	}

	set := ProdSet("ns", "shop", Replicas(3), Version("v2"), OnClusters("pool", "a"), Spread("region", 1),
		MaxUnavailable("50%"), Policy("p"), Records("Z1", "shop.example.com", 5), WithManifests(Deployment("api")),
		Mutate(func(s *droverv1.ProdSet) { s.Labels = map[string]string{"x": "y"} }), Mutate(nil))
	s := set.Spec
	switch {
	case *s.Replicas != 3, s.Template.Spec.Version != "v2":
		t.Errorf("replicas, version: %+v", s)
	case s.Placement.ClusterSelector.MatchLabels["pool"] != "a", s.Placement.TopologyKey != "region", s.Placement.MaxPerCluster != 1:
		t.Errorf("placement: %+v", s.Placement)
	case *s.Placement.MaxUnavailable != intstr.FromString("50%"):
		t.Errorf("maxUnavailable: %v", s.Placement.MaxUnavailable)
	case s.RolloutPolicyRef.Name != "p", s.Traffic.HostedZoneID != "Z1", s.Traffic.RecordName != "shop.example.com", s.Traffic.TTL != 5:
		t.Errorf("policy, traffic: %+v %+v", s.RolloutPolicyRef, s.Traffic)
	case set.Labels["x"] != "y":
		t.Errorf("Mutate was not applied: %v", set.Labels)
	}
	var d map[string]any
	if err := json.Unmarshal(s.Template.Spec.Manifests[0].Raw, &d); err != nil || d["kind"] != "Deployment" {
		t.Errorf("manifest %s: %v", s.Template.Spec.Manifests[0].Raw, err)
	}
	if free(ProdSet("ns", "x", MaxUnavailable("2"))) != intstr.FromInt32(2) {
		t.Error("MaxUnavailable(\"2\") is not the number 2")
	}
}

func free(s *droverv1.ProdSet) intstr.IntOrString { return *s.Spec.Placement.MaxUnavailable }

// The options of a mirrored set behind a Service, with a serving minimum, health checks
// and several cluster labels; the health check whether given before or after Records.
func TestProdSetTrafficOptions(t *testing.T) {
	for _, order := range [][]SetOption{
		{Records("Z1", "shop.example.com", 2), HealthCheck(80, "/healthz")},
		{HealthCheck(80, "/healthz"), Records("Z1", "shop.example.com", 2)},
	} {
		set := ProdSet("ns", "shop", append(order, OnClusters("pool", "a"), OnClusters("region", "eu"), MinAvailable("2"),
			UnreachableToleration(time.Minute), TemplateLabels(map[string]string{"app": "shop"}), Weight(40),
			ServiceRef("web"), Mirrored(time.Second))...)
		s := set.Spec
		switch {
		case s.Traffic.HostedZoneID != "Z1", s.Traffic.RecordName != "shop.example.com", s.Traffic.TTL != 2,
			s.Traffic.HealthCheck == nil || *s.Traffic.HealthCheck != droverv1.HealthCheck{Protocol: "HTTP", Port: 80, Path: "/healthz"}:
			t.Errorf("traffic: %+v", s.Traffic)
		case len(s.Placement.ClusterSelector.MatchLabels) != 2, s.Placement.ClusterSelector.MatchLabels["region"] != "eu",
			*s.Placement.MinAvailable != intstr.FromInt32(2), s.Placement.UnreachableToleration.Duration != time.Minute:
			t.Errorf("placement: %+v", s.Placement)
		case s.Template.Metadata.Labels["app"] != "shop", *s.Template.Spec.Traffic.Weight != 40,
			s.Template.Spec.Traffic.ServiceRef.Name != "web", s.Template.Spec.Traffic.Mirror.PollInterval.Duration != time.Second:
			t.Errorf("template: %+v %+v", s.Template.Metadata, s.Template.Spec.Traffic)
		}
	}
	if m := ProdSet("ns", "shop", Mirrored(0)).Spec.Template.Spec.Traffic.Mirror; m == nil || m.PollInterval != nil {
		t.Errorf("Mirrored(0): %+v", m)
	}
}

func TestProdAndTheRest(t *testing.T) {
	p := Prod("ns", "w1", "shop", []Object{ConfigMap("a"), ConfigMap("b")}, Named("shop-1"))
	if p.Name != "shop-1" || p.GenerateName != "" || p.Spec.ClusterRef.Name != "w1" || p.Spec.TargetNamespace != "shop" || len(p.Spec.Manifests) != 2 {
		t.Errorf("Prod: %+v", p)
	}
	if g := Prod("ns", "w1", "shop", nil); g.GenerateName != "shop-" || g.Name != "" {
		t.Errorf("unnamed Prod: %q %q", g.GenerateName, g.Name)
	}
	if lb := Prod("ns", "w1", "shop", nil, Traffic(droverv1.ProdTraffic{LoadBalancerID: "lb"})); lb.Spec.Traffic.LoadBalancerID != "lb" {
		t.Errorf("Traffic: %+v", lb.Spec.Traffic)
	}
	if m := Maintenance("ns", "up", "w1", true); m.Spec.ClusterName != "w1" || !m.Spec.Surge || m.Namespace != "ns" {
		t.Errorf("Maintenance: %+v", m)
	}
	if r := RolloutPolicy("ns", "p", droverv1.RolloutPolicySpec{}); r.Name != "p" || r.Namespace != "ns" {
		t.Errorf("RolloutPolicy: %+v", r)
	}
}
