package prodset

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// slowCluster is a workload API server that answers a probe after a while, counting the
// probes.
type slowCluster struct {
	client.Client
	probes  atomic.Int32
	release chan struct{}
}

func (c *slowCluster) Get(ctx context.Context, _ client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	c.probes.Add(1)
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type oneCluster struct {
	clustercache.ClusterCache
	c *slowCluster
}

func (o oneCluster) GetUncachedClient(context.Context, client.ObjectKey) (client.Client, error) {
	return o.c, nil
}

// Sets that ask about one cluster at once share one probe: a slow API server is not
// asked once per reconcile.
func TestProberAsksOneClusterOnceAtATime(t *testing.T) {
	cluster := &slowCluster{release: make(chan struct{})}
	p := &prober{cc: oneCluster{c: cluster}, ttl: time.Nanosecond, timeout: 10 * time.Second}
	key := client.ObjectKey{Namespace: "ns", Name: "eu-1"}
	var wg sync.WaitGroup
	answers := make(chan bool, 20)
	for range 20 {
		wg.Go(func() { answers <- p.reachable(context.Background(), key, time.Now()) })
	}
	for cluster.probes.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // every asker is waiting now
	close(cluster.release)
	wg.Wait()
	close(answers)
	for up := range answers {
		if !up {
			t.Error("a set was told the cluster is down")
		}
	}
	if n := cluster.probes.Load(); n != 1 {
		t.Errorf("%d probes of one cluster for 20 sets asking at once, want 1", n)
	}
}
