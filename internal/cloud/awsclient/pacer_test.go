package awsclient

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when the pacer sleeps, and records the sleeps.
type fakeClock struct {
	t      time.Time
	slept  []time.Duration
	failAt int // 1-based sleep that fails (0: none)
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	if len(c.slept) == c.failAt {
		return context.Canceled
	}
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) install(p *pacer) *pacer {
	p.now, p.sleep = c.now, c.sleep
	return p
}

func (c *fakeClock) total() time.Duration {
	var sum time.Duration
	for _, d := range c.slept {
		sum += d
	}
	return sum
}

// near reports whether a and b differ by less than a millisecond (the limiter computes
// in float seconds).
func near(a, b time.Duration) bool {
	d := a - b
	return d > -time.Millisecond && d < time.Millisecond
}

func TestPacerSpacesCallsAtTheRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := clock.install(newPacer(DefaultRoute53Limit)) // 4/s, no burst
	start := clock.t
	for i := range 9 {
		if err := p.wait(t.Context(), "ChangeResourceRecordSets"); err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
	// The first goes at once, each next one 250 ms after the one before.
	if got := clock.t.Sub(start); !near(got, 2*time.Second) {
		t.Errorf("9 calls at 4/s took %s (sleeps %v), want 2s", got, clock.slept)
	}
	for i, d := range clock.slept {
		if !near(d, 250*time.Millisecond) {
			t.Errorf("sleep %d = %s, want 250ms", i, d)
		}
	}
}

func TestPacerAllowsTheBurstThenTheRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := clock.install(newPacer(Limit{Rate: 10, Burst: 5}))
	for range 5 {
		if err := p.wait(t.Context(), "DescribeTargetGroups"); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.slept) != 0 {
		t.Fatalf("the burst of 5 slept %v, want no sleep", clock.slept)
	}
	for range 10 {
		if err := p.wait(t.Context(), "DescribeTargetGroups"); err != nil {
			t.Fatal(err)
		}
	}
	if !near(clock.total(), time.Second) {
		t.Errorf("10 calls past the burst at 10/s slept %s, want 1s", clock.total())
	}
}

func TestPacerOperationLimitAppliesOnTopOfTheServiceLimit(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := clock.install(newPacer(Limit{Rate: 100, Burst: 100}).withOperations(Limit{Rate: 2, Burst: 1}, "RegisterTargets", "DeregisterTargets"))
	for range 50 {
		if err := p.wait(t.Context(), "DescribeTargetHealth"); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.slept) != 0 {
		t.Fatalf("50 describes within the service's burst slept %v", clock.slept)
	}
	for _, op := range []string{"RegisterTargets", "DeregisterTargets", "RegisterTargets", "RegisterTargets"} {
		if err := p.wait(t.Context(), op); err != nil {
			t.Fatal(err)
		}
	}
	// Register and Deregister share the 2/s limit: 3 waits of 500 ms after the first.
	if !near(clock.total(), 1500*time.Millisecond) {
		t.Errorf("4 target calls at 2/s slept %s (%v), want 1.5s", clock.total(), clock.slept)
	}
}

func TestPacerFailsAtOnceWhenTheWaitWouldPassTheDeadline(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := clock.install(newPacer(Limit{Rate: 1, Burst: 1}))
	if err := p.wait(t.Context(), "GetChange"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(t.Context(), clock.t.Add(500*time.Millisecond))
	defer cancel()
	err := p.wait(ctx, "GetChange")
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("wait past the deadline: %v, want an error about the deadline", err)
	}
	if len(clock.slept) != 0 {
		t.Fatalf("slept %v before failing", clock.slept)
	}
	// The refused call gave its token back: the next one waits one interval, not two.
	if err := p.wait(t.Context(), "GetChange"); err != nil {
		t.Fatal(err)
	}
	if !near(clock.total(), time.Second) {
		t.Errorf("the next call slept %s, want 1s", clock.total())
	}
}

func TestPacerReturnsTheContextError(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0), failAt: 1}
	p := clock.install(newPacer(Limit{Rate: 1, Burst: 1}))
	if err := p.wait(t.Context(), "GetChange"); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t.Context(), "GetChange"); err == nil {
		t.Fatal("a wait whose sleep was cancelled succeeded")
	}
}

func TestUnlimitedNeverWaits(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := clock.install(newPacer(Unlimited).withOperations(Unlimited, "RegisterTargets"))
	for range 1000 {
		if err := p.wait(t.Context(), "RegisterTargets"); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.slept) != 0 {
		t.Fatalf("unlimited slept %d times", len(clock.slept))
	}
}

func TestLimitDefaults(t *testing.T) {
	if got := (Limit{}).or(DefaultRoute53Limit); got != DefaultRoute53Limit {
		t.Errorf("zero Limit = %+v, want the default %+v", got, DefaultRoute53Limit)
	}
	if got := (Limit{Rate: 2}).or(DefaultRoute53Limit); got != (Limit{Rate: 2, Burst: 1}) {
		t.Errorf("Limit without a burst = %+v, want burst 1", got)
	}
	if DefaultRoute53Limit.Rate >= 5 {
		t.Errorf("the Route53 default %v/s is not below the account's 5/s", DefaultRoute53Limit.Rate)
	}
}
