package workload

import (
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestImpersonatorsReuseAndForget(t *testing.T) {
	base := fake.NewClientBuilder().Build()
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	a, b := client.ObjectKey{Namespace: "ns", Name: "a"}, client.ObjectKey{Namespace: "ns", Name: "b"}
	var m Impersonators
	first, err := m.ClientAs(a, cfg, base, "system:serviceaccount:shop:deployer", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.ClientAs(a, cfg, base, "system:serviceaccount:shop:deployer", nil)
	if again != first {
		t.Error("a second call with the same cluster, user and REST config built a new client")
	}
	other, _ := m.ClientAs(a, cfg, base, "system:serviceaccount:pay:deployer", nil)
	if other == first {
		t.Error("two users share one client")
	}
	reconnected, _ := m.ClientAs(a, rest.CopyConfig(cfg), base, "system:serviceaccount:shop:deployer", nil)
	if reconnected == first {
		t.Error("a new REST config of the cluster (a reconnection) reused the old client")
	}
	if _, err := m.ClientAs(b, cfg, base, "system:serviceaccount:shop:deployer", nil); err != nil {
		t.Fatal(err)
	}
	m.Forget(a)
	for k := range m.clients {
		if k.cluster == a {
			t.Errorf("client of %s for %s kept after forget", k.cluster, k.user)
		}
	}
	if _, ok := m.clients[impersonationKey{cluster: b, user: "system:serviceaccount:shop:deployer"}]; !ok {
		t.Error("forgetting one cluster dropped another's client")
	}
}
