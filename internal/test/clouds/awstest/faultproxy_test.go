package awstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
)

// viaProxy are SDK clients that reach m through a new fault proxy, with attempts
// attempts per call of at most timeout each.
func viaProxy(t *testing.T, m *Moto, attempts int, timeout time.Duration) (*FaultProxy, *awsclient.Clients) {
	t.Helper()
	p := NewFaultProxy(t, m.Endpoint(), 1)
	o := p.Options(m.Options())
	o.MaxAttempts, o.MaxBackoff, o.AttemptTimeout = attempts, 10*time.Millisecond, timeout
	clients, err := awsclient.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p, clients
}

func hostedZone(t *testing.T, c *r53sdk.Client) string {
	t.Helper()
	out, err := c.CreateHostedZone(t.Context(), &r53sdk.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.HostedZone.Id)
}

func upsertA(zone, name, ip string) *r53sdk.ChangeResourceRecordSetsInput {
	return &r53sdk.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zone), ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
		Action: r53types.ChangeActionUpsert,
		ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeA, TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(ip)}}},
	}}}}
}

func healthCheckConfig(path string) *r53types.HealthCheckConfig {
	return &r53types.HealthCheckConfig{Type: r53types.HealthCheckTypeHttp, FullyQualifiedDomainName: aws.String("a.example.com"),
		Port: aws.Int32(80), ResourcePath: aws.String(path)}
}

// The proxy names the service and operation of every call the SDK makes, ELBv2's from
// its Query form and Route53's from its method and path.
func TestFaultProxyRecognisesOperations(t *testing.T) {
	m := Shared(t)
	p, c := viaProxy(t, m, 1, 10*time.Second)
	ctx := t.Context()
	zone := hostedZone(t, c.Route53)
	calls := []struct {
		service, op string
		call        func() error
	}{
		{cloudmetrics.ELBv2, "DescribeLoadBalancers", func() error {
			_, err := c.ELBv2.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
			return err
		}},
		{cloudmetrics.ELBv2, "DescribeTargetGroups", func() error {
			_, err := c.ELBv2.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
			return err
		}},
		{cloudmetrics.Route53, "GetHostedZone", func() error {
			_, err := c.Route53.GetHostedZone(ctx, &r53sdk.GetHostedZoneInput{Id: aws.String(zone)})
			return err
		}},
		{cloudmetrics.Route53, "ChangeResourceRecordSets", func() error {
			_, err := c.Route53.ChangeResourceRecordSets(ctx, upsertA(zone, "a.example.com", "192.0.2.1"))
			return err
		}},
		{cloudmetrics.Route53, "ListResourceRecordSets", func() error {
			_, err := c.Route53.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
			return err
		}},
		{cloudmetrics.Route53, "GetChange", func() error {
			_, err := c.Route53.GetChange(ctx, &r53sdk.GetChangeInput{Id: aws.String("C1")})
			return err
		}},
		{cloudmetrics.Route53, "ListHealthChecks", func() error {
			_, err := c.Route53.ListHealthChecks(ctx, &r53sdk.ListHealthChecksInput{})
			return err
		}},
		{cloudmetrics.Route53, "ListTagsForResources", func() error {
			_, err := c.Route53.ListTagsForResources(ctx, &r53sdk.ListTagsForResourcesInput{ResourceType: r53types.TagResourceTypeHealthcheck, ResourceIds: []string{"x"}})
			return err
		}},
		{cloudmetrics.Route53, "DeleteHealthCheck", func() error {
			_, err := c.Route53.DeleteHealthCheck(ctx, &r53sdk.DeleteHealthCheckInput{HealthCheckId: aws.String("00000000-0000-0000-0000-000000000000")})
			return err
		}},
	}
	for _, call := range calls {
		before := p.Requests(call.service, call.op)
		_ = call.call() // moto's answer does not matter here, only what the proxy saw
		if got := p.Requests(call.service, call.op) - before; got != 1 {
			t.Errorf("%s %s: the proxy counted %d requests, want 1", call.service, call.op, got)
		}
	}
	if got, want := p.Requests("", ""), len(calls)+1; got != want {
		t.Errorf("the proxy counted %d requests in all, want %d (CreateHostedZone and the calls above)", got, want)
	}
	if p.Requests(cloudmetrics.Route53, "CreateHostedZone") != 1 {
		t.Error("CreateHostedZone was not recognised")
	}
}

// Each error fault reaches the SDK as the real error code and status, so the SDK and
// drover classify it as they would AWS's (with one attempt, nothing is retried).
func TestFaultProxyErrorsAreTheRealCodes(t *testing.T) {
	m := Shared(t)
	p, c := viaProxy(t, m, 1, 10*time.Second)
	ctx := t.Context()
	zone := hostedZone(t, c.Route53)
	r53c := r53.New(c.Route53, r53.Options{})
	for _, tc := range []struct {
		kind   FaultKind
		code   string
		status int
	}{
		{Throttling, "Throttling", 400},
		{PriorRequestNotComplete, "PriorRequestNotComplete", 400},
		{InternalFailure, "InternalFailure", 500},
	} {
		p.Inject(Fault{Kind: tc.kind, Times: 2})
		_, elbErr := c.ELBv2.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
		_, r53Err := r53c.ChangeResourceRecordSets(ctx, zone, upsertA(zone, "a.example.com", "192.0.2.1").ChangeBatch.Changes, "")
		for svc, err := range map[string]error{cloudmetrics.ELBv2: elbErr, cloudmetrics.Route53: r53Err} {
			if got := awsclient.ErrorCode(err); got != tc.code {
				t.Errorf("%s %s: error code %q (%v), want %s", tc.kind, svc, got, err, tc.code)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Errorf("%s %s: %v, want HTTP %d", tc.kind, svc, err, tc.status)
			}
			if throttle := tc.kind != InternalFailure; awsclient.IsThrottle(err) != throttle {
				t.Errorf("%s %s: IsThrottle = %v", tc.kind, svc, !throttle)
			}
		}
		if tc.kind == PriorRequestNotComplete && !errors.Is(r53Err, r53.ErrPriorRequestNotComplete) {
			t.Errorf("drover's Route53 client does not wrap ErrPriorRequestNotComplete: %v", r53Err)
		}
		if got := p.Injected(tc.kind, "", ""); got != 2 {
			t.Errorf("%s injected %d times, want 2", tc.kind, got)
		}
	}
	// Not one of these reached moto: the record was never written.
	out, err := m.Clients(t).Route53.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range out.ResourceRecordSets {
		if rs.Type == r53types.RRTypeA {
			t.Errorf("record %s reached moto through a fault", aws.ToString(rs.Name))
		}
	}
}

// An InvalidChangeBatch fault refuses only the changes that mention its text, in
// Route53's own document, which the SDK reads as *types.InvalidChangeBatch and drover's
// client wraps as ErrRefused; other changes reach moto.
func TestFaultProxyRefusesTheChangesMentioningARecord(t *testing.T) {
	m := Shared(t)
	p, c := viaProxy(t, m, 3, 10*time.Second)
	ctx := t.Context()
	zone := hostedZone(t, c.Route53)
	r53c := r53.New(c.Route53, r53.Options{})
	const msg = "RRSet of type CNAME with DNS name bad.example.com. is not permitted because a conflicting RRSet of type A with the same DNS name already exists in zone example.com."
	p.Inject(Fault{Service: cloudmetrics.Route53, Operation: "ChangeResourceRecordSets", Kind: InvalidChangeBatch, Mentions: "bad.example.com", Message: msg})
	_, err := r53c.ChangeResourceRecordSets(ctx, zone, upsertA(zone, "bad.example.com", "192.0.2.1").ChangeBatch.Changes, "")
	var icb *r53types.InvalidChangeBatch
	if !errors.As(err, &icb) || len(icb.Messages) != 1 || icb.Messages[0] != msg || !errors.Is(err, r53.ErrRefused) {
		t.Fatalf("a change mentioning the record: %v, want an InvalidChangeBatch saying %q wrapped as ErrRefused", err, msg)
	}
	if _, err := r53c.ChangeResourceRecordSets(ctx, zone, upsertA(zone, "good.example.com", "192.0.2.2").ChangeBatch.Changes, ""); err != nil {
		t.Fatalf("a change of another record: %v", err)
	}
	if got := p.Injected(InvalidChangeBatch, "", ""); got != 1 {
		t.Errorf("refused %d changes, want 1 (refusals are not retried)", got)
	}
}

// drover's retryer retries every fault kind: throttling, PriorRequestNotComplete,
// 500s, and attempts that time out (the request never answered, or its answer lost);
// a call whose first attempts fail succeeds, one attempt after the last fault.
func TestFaultProxyFaultsAreRetried(t *testing.T) {
	m := Shared(t)
	// Long enough for moto on a loaded machine; each Timeout and LostAnswer costs one.
	p, c := viaProxy(t, m, 5, time.Second)
	ctx := t.Context()
	zone := hostedZone(t, c.Route53)
	for _, kind := range []FaultKind{Throttling, PriorRequestNotComplete, InternalFailure, Timeout, LostAnswer} {
		for _, svc := range []string{cloudmetrics.ELBv2, cloudmetrics.Route53} {
			op, call := "DescribeTargetGroups", func() error {
				_, err := c.ELBv2.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
				return err
			}
			if svc == cloudmetrics.Route53 {
				op, call = "ChangeResourceRecordSets", func() error {
					_, err := c.Route53.ChangeResourceRecordSets(ctx, upsertA(zone, "a.example.com", "192.0.2.1"))
					return err
				}
			}
			p.Inject(Fault{Service: svc, Operation: op, Kind: kind, Times: 2})
			before := p.Requests(svc, op)
			if err := call(); err != nil {
				t.Errorf("%s %s after two %s: %v", svc, op, kind, err)
			}
			if got := p.Requests(svc, op) - before; got != 3 {
				t.Errorf("%s %s after two %s: %d attempts, want 3", svc, op, kind, got)
			}
			if got := p.Injected(kind, svc, op); got != 2 {
				t.Errorf("%s %s: %s injected %d times, want 2", svc, op, kind, got)
			}
		}
	}
	// Latency delays and lets the request through.
	p.Inject(Fault{Kind: Latency, Delay: 100 * time.Millisecond, Times: 1})
	start := time.Now()
	if _, err := c.ELBv2.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("a call with 100ms of latency took %s", d)
	}
	if p.Injected(Latency, cloudmetrics.ELBv2, "DescribeLoadBalancers") != 1 {
		t.Error("latency not counted")
	}
}

// A lost answer is the nastiest fault: the work is done, the client does not know. Its
// retry must find what the first attempt made, as AWS's idempotent creations do: one
// load balancer and one health check, not two. (moto alone would make two; the proxy
// answers the repeated creation as AWS does.)
func TestFaultProxyLostAnswerAndIdempotentCreations(t *testing.T) {
	m := Shared(t)
	p, c := viaProxy(t, m, 3, 2*time.Second)
	ctx := t.Context()
	net := m.DefaultNetwork(t)

	p.Inject(Fault{Operation: "CreateLoadBalancer", Kind: LostAnswer, Times: 1})
	create := &elbsdk.CreateLoadBalancerInput{Name: aws.String("drv-lost"), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: net.SubnetIDs()[:1]}
	lb, err := c.ELBv2.CreateLoadBalancer(ctx, create)
	if err != nil {
		t.Fatalf("CreateLoadBalancer whose first answer was lost: %v", err)
	}
	if got := p.Requests(cloudmetrics.ELBv2, "CreateLoadBalancer"); got != 2 {
		t.Errorf("%d CreateLoadBalancer attempts, want 2", got)
	}
	lbs, err := m.Clients(t).ELBv2.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs.LoadBalancers) != 1 || aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn) != aws.ToString(lb.LoadBalancers[0].LoadBalancerArn) {
		t.Fatalf("moto has %d load balancers; want the one the retry answered", len(lbs.LoadBalancers))
	}
	// A target group and a listener likewise (moto alone would refuse the target
	// group's retry with DuplicateTargetGroupName and make a second listener).
	p.Inject(Fault{Operation: "CreateTargetGroup", Kind: LostAnswer, Times: 1}, Fault{Operation: "CreateListener", Kind: LostAnswer, Times: 1})
	tg, err := c.ELBv2.CreateTargetGroup(ctx, &elbsdk.CreateTargetGroupInput{Name: aws.String("drv-lost"), Protocol: elbtypes.ProtocolEnumTcp,
		Port: aws.Int32(80), VpcId: aws.String(net.VPCID), TargetType: elbtypes.TargetTypeEnumIp})
	if err != nil {
		t.Fatalf("CreateTargetGroup whose first answer was lost: %v", err)
	}
	_, err = c.ELBv2.CreateListener(ctx, &elbsdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumTcp,
		Port: aws.Int32(80), DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroups[0].TargetGroupArn}}})
	if err != nil {
		t.Fatalf("CreateListener whose first answer was lost: %v", err)
	}
	ls, err := m.Clients(t).ELBv2.DescribeListeners(ctx, &elbsdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Listeners) != 1 {
		t.Errorf("moto has %d listeners on port 80, want 1", len(ls.Listeners))
	}
	if got := p.Requests(cloudmetrics.ELBv2, "CreateListener"); got != 2 {
		t.Errorf("%d CreateListener attempts, want 2", got)
	}

	// Other settings under the same name: AWS's DuplicateLoadBalancerName.
	other := *create
	other.Scheme = elbtypes.LoadBalancerSchemeEnumInternal
	if _, err := c.ELBv2.CreateLoadBalancer(ctx, &other); awsclient.ErrorCode(err) != "DuplicateLoadBalancerName" {
		t.Errorf("the same name with other settings: %v, want DuplicateLoadBalancerName", err)
	}
	// Deleted, the name is free again.
	if _, err := c.ELBv2.DeleteListener(ctx, &elbsdk.DeleteListenerInput{ListenerArn: ls.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ELBv2.DeleteLoadBalancer(ctx, &elbsdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn}); err != nil {
		t.Fatal(err)
	}
	if again, err := c.ELBv2.CreateLoadBalancer(ctx, create); err != nil || aws.ToString(again.LoadBalancers[0].LoadBalancerArn) == aws.ToString(lb.LoadBalancers[0].LoadBalancerArn) {
		t.Errorf("creating a deleted load balancer's name again: %v, want a new load balancer", err)
	}

	// drover's Route53 client: the health check created by the lost attempt is the one
	// returned, and tagged.
	r53c := r53.New(c.Route53, r53.Options{})
	p.Inject(Fault{Operation: "CreateHealthCheck", Kind: LostAnswer, Times: 1})
	id, err := r53c.CreateHealthCheck(ctx, "drover-lost", healthCheckConfig("/a"), map[string]string{"k": "v"})
	if err != nil {
		t.Fatalf("CreateHealthCheck whose first answer was lost: %v", err)
	}
	hcs, err := m.Clients(t).Route53.ListHealthChecks(ctx, &r53sdk.ListHealthChecksInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hcs.HealthChecks) != 1 || aws.ToString(hcs.HealthChecks[0].Id) != id {
		t.Fatalf("moto has %d health checks; want the one the retry answered (%s)", len(hcs.HealthChecks), id)
	}
	if tags, err := r53c.HealthCheckTags(ctx, []string{id}); err != nil || tags[id]["k"] != "v" {
		t.Errorf("tags of %s: %v %v", id, tags, err)
	}
	// The same reference again, as a caller retrying after a failed call would send:
	// the same health check. With another config, or once deleted: AWS's refusal.
	if again, err := r53c.CreateHealthCheck(ctx, "drover-lost", healthCheckConfig("/a"), nil); err != nil || again != id {
		t.Errorf("the same CallerReference and config: %q %v, want %s", again, err, id)
	}
	if _, err := r53c.CreateHealthCheck(ctx, "drover-lost", healthCheckConfig("/b"), nil); !errors.Is(err, r53.ErrHealthCheckAlreadyExists) {
		t.Errorf("the same CallerReference with another config: %v, want HealthCheckAlreadyExists", err)
	}
	if err := r53c.DeleteHealthCheck(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r53c.CreateHealthCheck(ctx, "drover-lost", healthCheckConfig("/a"), nil); !errors.Is(err, r53.ErrHealthCheckAlreadyExists) {
		t.Errorf("the CallerReference of a deleted health check: %v, want HealthCheckAlreadyExists", err)
	}
}

// Faults at a rate take about that share of the requests, and the same seed picks the
// same requests; Times caps a fault; Clear releases held requests.
func TestFaultProxyRatesAreSeeded(t *testing.T) {
	m := Shared(t)
	pick := func(seed uint64) []int {
		p := NewFaultProxy(t, m.Endpoint(), seed)
		o := p.Options(m.Options())
		o.MaxAttempts = 1
		c, err := awsclient.New(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		p.Inject(Fault{Kind: Throttling, Rate: 0.3})
		var failed []int
		for i := range 60 {
			if _, err := c.ELBv2.DescribeLoadBalancers(t.Context(), &elbsdk.DescribeLoadBalancersInput{}); err != nil {
				failed = append(failed, i)
			}
		}
		if got := p.Injected(Throttling, "", ""); got != len(failed) {
			t.Errorf("seed %d: %d injected, %d calls failed", seed, got, len(failed))
		}
		return failed
	}
	a, b, other := pick(7), pick(7), pick(8)
	if !slices.Equal(a, b) {
		t.Errorf("the same seed failed different requests: %v and %v", a, b)
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 7 and 8 failed the same requests %v", a)
	}
	if len(a) < 6 || len(a) > 30 {
		t.Errorf("a rate of 0.3 failed %d of 60 requests", len(a))
	}

	p := NewFaultProxy(t, m.Endpoint(), 1)
	p.Inject(Fault{Kind: Timeout})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, p.URL()+"/2013-04-01/change/C1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = fmt.Errorf("status %d", resp.StatusCode)
			_ = resp.Body.Close()
		}
		done <- err
	}()
	for p.Injected(Timeout, "", "") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	p.Clear()
	select {
	case err := <-done:
		if err == nil || err.Error() != "status 503" {
			t.Errorf("a held request released by Clear: %v, want status 503", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Clear did not release a held request")
	}
}

// With a propagation set, a change moto accepted is PENDING, under an id of its own,
// until the propagation has passed since it was submitted, then INSYNC, as Route53
// answers; without one the proxy answers as moto does. moto has the records at once
// either way (Route53's API does too: PENDING is about its DNS servers). Every accepted
// change is kept as sent; a refused one is not.
func TestFaultProxyRoute53Propagation(t *testing.T) {
	m := Shared(t)
	p, c := viaProxy(t, m, 1, 10*time.Second)
	ctx := t.Context()
	zone := hostedZone(t, c.Route53)
	const d = 700 * time.Millisecond
	for i, tc := range []struct {
		name        string
		propagation time.Duration
		// wait before each GetChange, and the status it should say.
		polls []time.Duration
		want  []r53types.ChangeStatus
		// submitted is the status ChangeResourceRecordSets answers.
		submitted   r53types.ChangeStatus
		pendingPoll int // GetChange answers turned PENDING
	}{
		{name: "moto's answer", submitted: r53types.ChangeStatusInsync,
			polls: []time.Duration{0}, want: []r53types.ChangeStatus{r53types.ChangeStatusInsync}},
		{name: "pending, then in sync", propagation: d, submitted: r53types.ChangeStatusPending,
			polls: []time.Duration{0, 100 * time.Millisecond, d}, want: []r53types.ChangeStatus{r53types.ChangeStatusPending, r53types.ChangeStatusPending, r53types.ChangeStatusInsync},
			pendingPoll: 2},
		{name: "polled only once in sync", propagation: d, submitted: r53types.ChangeStatusPending,
			polls: []time.Duration{d + 50*time.Millisecond, 0}, want: []r53types.ChangeStatus{r53types.ChangeStatusInsync, r53types.ChangeStatusInsync}},
		{name: "off again", submitted: r53types.ChangeStatusInsync,
			polls: []time.Duration{0}, want: []r53types.ChangeStatus{r53types.ChangeStatusInsync}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Propagation(tc.propagation)
			pendingBefore, getBefore, logged := p.Pending("ChangeResourceRecordSets"), p.Pending("GetChange"), len(p.Route53Changes())
			ip := fmt.Sprintf("192.0.2.%d", i+1)
			in := upsertA(zone, "w.example.com", ip)
			in.ChangeBatch.Changes[0].ResourceRecordSet.SetIdentifier = aws.String(tc.name)
			in.ChangeBatch.Changes[0].ResourceRecordSet.Weight = aws.Int64(int64(10 * (i + 1)))
			out, err := c.Route53.ChangeResourceRecordSets(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			submitted := time.Now()
			if got := out.ChangeInfo.Status; got != tc.submitted {
				t.Errorf("ChangeResourceRecordSets answered %s, want %s", got, tc.submitted)
			}
			// The record is in moto whatever the status.
			sets, err := m.Clients(t).Route53.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(sets.ResourceRecordSets, func(rs r53types.ResourceRecordSet) bool { return aws.ToString(rs.SetIdentifier) == tc.name }) {
				t.Errorf("moto does not have the record of a %s change", tc.submitted)
			}
			var got []r53types.ChangeStatus
			for _, wait := range tc.polls {
				time.Sleep(wait)
				gc, err := c.Route53.GetChange(ctx, &r53sdk.GetChangeInput{Id: out.ChangeInfo.Id})
				if err != nil {
					t.Fatal(err)
				}
				// (moto answers GetChange's id without Route53's "/change/")
				if strings.TrimPrefix(aws.ToString(gc.ChangeInfo.Id), "/change/") != strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/") {
					t.Errorf("GetChange answered for %s, asked about %s", aws.ToString(gc.ChangeInfo.Id), aws.ToString(out.ChangeInfo.Id))
				}
				got = append(got, gc.ChangeInfo.Status)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("GetChange said %v, want %v", got, tc.want)
			}
			wantPending := 0
			if tc.submitted == r53types.ChangeStatusPending {
				wantPending = 1
			}
			if n := p.Pending("ChangeResourceRecordSets") - pendingBefore; n != wantPending {
				t.Errorf("%d ChangeResourceRecordSets answers counted PENDING, want %d", n, wantPending)
			}
			if n := p.Pending("GetChange") - getBefore; n != tc.pendingPoll {
				t.Errorf("%d GetChange answers counted PENDING, want %d", n, tc.pendingPoll)
			}
			changes := p.Route53Changes()
			if len(changes) != logged+1 {
				t.Fatalf("%d changes kept, want %d", len(changes), logged+1)
			}
			ch := changes[len(changes)-1]
			if ch.Zone != strings.TrimPrefix(zone, "/hostedzone/") || len(ch.Changes) != 1 {
				t.Fatalf("kept %+v", ch)
			}
			rc := ch.Changes[0]
			if rc.Action != "UPSERT" || rc.Name != "w.example.com" || rc.Type != "A" || rc.SetIdentifier != tc.name ||
				aws.ToInt64(rc.Weight) != int64(10*(i+1)) || rc.Target != ip {
				t.Errorf("kept the change as %+v", rc)
			}
			if tc.propagation > 0 {
				if "/change/"+ch.ID != aws.ToString(out.ChangeInfo.Id) {
					t.Errorf("kept the change as %s, the client was told %s", ch.ID, aws.ToString(out.ChangeInfo.Id))
				}
				if ch.ReportedInSync.IsZero() || ch.ReportedInSync.Before(ch.InSyncAt) || ch.InSyncAt.Sub(ch.Submitted) != tc.propagation {
					t.Errorf("submitted %s, in sync at %s, reported in sync %s", ch.Submitted, ch.InSyncAt, ch.ReportedInSync)
				}
				if ch.ReportedInSync.Sub(submitted) < tc.propagation-50*time.Millisecond {
					t.Errorf("INSYNC reported %s after the answer, before the propagation %s", ch.ReportedInSync.Sub(submitted), tc.propagation)
				}
			}
		})
	}

	// Each change has an id of its own; GetChange of an id the proxy did not give is
	// moto's to answer.
	p.Propagation(d)
	var ids []string
	for i := range 2 {
		out, err := c.Route53.ChangeResourceRecordSets(ctx, upsertA(zone, fmt.Sprintf("x%d.example.com", i), "192.0.2.9"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.ChangeInfo.Id))
	}
	if ids[0] == ids[1] {
		t.Errorf("two changes answered the same id %s", ids[0])
	}
	if gc, err := c.Route53.GetChange(ctx, &r53sdk.GetChangeInput{Id: aws.String("C1")}); err != nil || gc.ChangeInfo.Status != r53types.ChangeStatusInsync {
		t.Errorf("GetChange of an id the proxy never gave: %v %v, want moto's INSYNC", gc, err)
	}
	// A change moto refuses is not kept, nor PENDING.
	before, pending := len(p.Route53Changes()), p.Pending("")
	del := upsertA(zone, "nothing.example.com", "192.0.2.1")
	del.ChangeBatch.Changes[0].Action = r53types.ChangeActionDelete
	if _, err := c.Route53.ChangeResourceRecordSets(ctx, del); err == nil {
		t.Error("moto deleted a record that does not exist")
	}
	if len(p.Route53Changes()) != before || p.Pending("") != pending {
		t.Error("a refused change was kept or answered PENDING")
	}
}
