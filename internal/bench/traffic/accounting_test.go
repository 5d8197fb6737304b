package traffic_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

func TestCovered(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{{at(100), at(300)}, {at(200), at(400)}, {at(600), at(700)}, {at(-50), at(50)}}
	for _, tc := range []struct {
		a, b int
		want time.Duration
	}{
		{0, 1000, 50*time.Millisecond + 300*time.Millisecond + 100*time.Millisecond},
		{250, 650, 150*time.Millisecond + 50*time.Millisecond},
		{400, 600, 0},
	} {
		if got := covered(spans, at(tc.a), at(tc.b)); got != tc.want {
			t.Errorf("covered over [%d, %d] = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCriticalPath(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	aws := []span{{at(100), at(300)}, {at(200), at(400)}, {at(600), at(700)}}
	lingers := []span{{at(350), at(500)}, {at(900), at(950)}}
	gate := []span{{at(0), at(150)}}
	// The hand-off at 250: before it, the gate's 150 ms are deliberate and the other 100
	// ms the controllers'; the AWS call before it is beside the path. After it: AWS
	// 150 + 100, linger 100 + 50 where no call covers it, 350 of the publisher's own.
	d := criticalPath(at(0), at(250), at(1000), gate, aws, lingers)
	want := breakdown{total: time.Second, aws: 250 * time.Millisecond, waits: 300 * time.Millisecond, own: 450 * time.Millisecond}
	if d != want {
		t.Errorf("criticalPath = %+v, want %+v", d, want)
	}
	// A hand-off outside [a, b] is taken as its nearest end.
	if d := criticalPath(at(0), at(-5), at(1000), nil, aws, nil); d.aws != 400*time.Millisecond || d.own != 600*time.Millisecond {
		t.Errorf("criticalPath with an early hand-off = %+v", d)
	}
}

func TestServiceWeights(t *testing.T) {
	rec := func(action types.ChangeAction, id string, w int64) types.Change {
		return types.Change{Action: action, ResourceRecordSet: &types.ResourceRecordSet{SetIdentifier: aws.String(id), Weight: aws.Int64(w)}}
	}
	got := serviceWeights([]types.Change{
		rec(types.ChangeActionUpsert, "drover/ns/a", 0), rec(types.ChangeActionUpsert, "drover/ns/a/octavia", 0),
		rec(types.ChangeActionCreate, "drover/ns/b", 100), rec(types.ChangeActionDelete, "drover/ns/c", 100),
	})
	if len(got) != 2 || got["drover/ns/a"] != 0 || got["drover/ns/b"] != 100 {
		t.Errorf("serviceWeights = %v", got)
	}
}
