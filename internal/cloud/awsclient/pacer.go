package awsclient

import (
	"context"
	"fmt"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// pacer is the client-side rate limit of one service: every attempt of every call
// (retries included, since AWS counts them too) takes a token of the service's limiter
// and, for the operations named in ops, one of their own limiter as well.
type pacer struct {
	all *rate.Limiter
	ops map[string]*rate.Limiter
	// now and sleep are the clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func newPacer(l Limit) *pacer {
	return &pacer{
		all:   rate.NewLimiter(l.Rate, l.Burst),
		ops:   map[string]*rate.Limiter{},
		now:   time.Now,
		sleep: sleepContext,
	}
}

// withOperations adds a limit shared by the named operations.
func (p *pacer) withOperations(l Limit, ops ...string) *pacer {
	lim := rate.NewLimiter(l.Rate, l.Burst)
	for _, op := range ops {
		p.ops[op] = lim
	}
	return p
}

// wait blocks until operation op may send a request. It fails at once, without
// waiting, when the wait would outlast ctx's deadline.
func (p *pacer) wait(ctx context.Context, op string) error {
	limiters := []*rate.Limiter{p.all}
	if l, ok := p.ops[op]; ok {
		limiters = append(limiters, l)
	}
	now := p.now()
	var delay time.Duration
	reservations := make([]*rate.Reservation, 0, len(limiters))
	cancel := func(at time.Time) {
		for _, r := range reservations {
			r.CancelAt(at)
		}
	}
	for _, l := range limiters {
		r := l.ReserveN(now, 1)
		if !r.OK() {
			cancel(now)
			return fmt.Errorf("client-side rate limit of %s: a burst of %d allows no request", op, l.Burst())
		}
		reservations = append(reservations, r)
		delay = max(delay, r.DelayFrom(now))
	}
	if delay == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(now.Add(delay)) {
		cancel(now)
		return fmt.Errorf("client-side rate limit of %s: waiting %s would pass the context's deadline", op, delay)
	}
	if err := p.sleep(ctx, delay); err != nil {
		cancel(p.now())
		return fmt.Errorf("client-side rate limit of %s: %w", op, err)
	}
	return nil
}

// addTo inserts the pacer into an SDK client's stack, after the retry middleware so
// that each attempt waits for its token.
func (p *pacer) addTo(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("drover/RateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := p.wait(ctx, awsmiddleware.GetOperationName(ctx)); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
