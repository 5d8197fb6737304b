package builder

import (
	"encoding/json"
	"testing"

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

func TestProdAndTheRest(t *testing.T) {
	p := Prod("ns", "w1", "shop", []Object{ConfigMap("a"), ConfigMap("b")}, Named("shop-1"))
	if p.Name != "shop-1" || p.GenerateName != "" || p.Spec.ClusterRef.Name != "w1" || p.Spec.TargetNamespace != "shop" || len(p.Spec.Manifests) != 2 {
		t.Errorf("Prod: %+v", p)
	}
	if g := Prod("ns", "w1", "shop", nil); g.GenerateName != "shop-" || g.Name != "" {
		t.Errorf("unnamed Prod: %q %q", g.GenerateName, g.Name)
	}
	if m := Maintenance("ns", "up", "w1", true); m.Spec.ClusterName != "w1" || !m.Spec.Surge || m.Namespace != "ns" {
		t.Errorf("Maintenance: %+v", m)
	}
	if r := RolloutPolicy("ns", "p", droverv1.RolloutPolicySpec{}); r.Name != "p" || r.Namespace != "ns" {
		t.Errorf("RolloutPolicy: %+v", r)
	}
}
