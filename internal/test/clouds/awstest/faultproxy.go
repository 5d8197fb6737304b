package awstest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/test/faultproxy"
)

// FaultKind is what a Fault does to a request it takes.
type FaultKind int

// Faults. The errors are written in the service's own wire format (ELBv2's Query
// protocol, Route53's REST-XML), so that the SDK parses them as the real codes.
const (
	// Throttling answers 400 with the code Throttling, AWS refusing a call for its
	// rate, without forwarding.
	Throttling FaultKind = iota + 1
	// PriorRequestNotComplete answers 400 with the code PriorRequestNotComplete,
	// Route53 still accepting an earlier change to the hosted zone, without forwarding.
	PriorRequestNotComplete
	// InternalFailure answers 500 with the code InternalFailure, without forwarding.
	InternalFailure
	// Timeout holds the request, never forwarded, until the client gives up (its
	// per-attempt timeout or its context), the faults are cleared or the proxy closes.
	Timeout
	// LostAnswer forwards the request, so that whatever it does is done, then holds
	// the answer as Timeout does: the client cannot tell whether its call did anything.
	LostAnswer
	// Latency delays the request by Fault.Delay, then lets it go on to the next fault
	// that takes it, or to moto.
	Latency
	// InvalidChangeBatch answers a ChangeResourceRecordSets as Route53 refuses a change
	// for one of its records, without forwarding: 400 with Route53's own InvalidChangeBatch
	// document, its message (Fault.Message) naming the record. With Fault.Mentions it
	// takes only the changes whose request holds that text (a record name), as Route53
	// refuses only the batches holding the bad record.
	InvalidChangeBatch
)

var kindNames = map[FaultKind]string{
	Throttling: "Throttling", PriorRequestNotComplete: "PriorRequestNotComplete", InternalFailure: "InternalFailure",
	Timeout: "Timeout", LostAnswer: "LostAnswer", Latency: "Latency", InvalidChangeBatch: "InvalidChangeBatch",
}

func (k FaultKind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault makes a share of the requests it matches fail.
type Fault struct {
	// Service matches the requests of a service, by drover's names for them
	// (cloudmetrics.ELBv2, cloudmetrics.Route53, or "ec2"); "" matches any.
	Service string
	// Operation matches the SDK's operation name ("CreateLoadBalancer",
	// "ChangeResourceRecordSets"); "" matches any.
	Operation string
	Kind      FaultKind
	// Rate is the chance (0–1) that a matching request takes the fault, drawn from the
	// proxy's seeded generator; 0 means every matching request.
	Rate float64
	// Times is how many requests the fault takes before it is used up; 0 is until
	// cleared. With Rate 0, {Times: n} takes the first n matching requests.
	Times int
	// Delay is how long a Latency fault holds a request.
	Delay time.Duration
	// Mentions, when set, limits the fault to requests whose body holds it.
	Mentions string
	// Message is what an InvalidChangeBatch fault says.
	Message string
}

func (f Fault) String() string {
	what := f.Kind.String()
	if f.Kind == Latency {
		what += " " + f.Delay.String()
	}
	svc, op := f.Service, f.Operation
	if svc == "" {
		svc = "*"
	}
	if op == "" {
		op = "*"
	}
	switch {
	case f.Times > 0 && f.Rate > 0:
		what += fmt.Sprintf(" at %g, %d times", f.Rate, f.Times)
	case f.Times > 0:
		what += fmt.Sprintf(" the first %d", f.Times)
	case f.Rate > 0:
		what += fmt.Sprintf(" at %g", f.Rate)
	}
	return fmt.Sprintf("%s %s → %s", svc, op, what)
}

// FaultProxy is a reverse proxy in front of moto that recognises the AWS service and
// operation of each request and makes chosen ones fail, as AWS fails: throttling,
// PriorRequestNotComplete, 500s, requests that never answer, answers lost after the
// work was done, added latency. It counts what it injected, so that a test can assert
// the faults really happened. Give the clients Options(...) instead of moto's.
//
// Which requests take a fault is drawn from a generator seeded by the test, so a run
// that sends the same requests in the same order injects the same faults; concurrent
// clients interleave differently from run to run.
//
// Where AWS answers a repeated creation with the resource made the first time and moto
// does not, the proxy answers as AWS does, so that the retry of a creation whose answer
// was lost is tested against AWS's semantics, not moto's: moto makes a second load
// balancer of the same name and a second listener on the same port, refuses a target
// group's name with DuplicateTargetGroupName, and ignores a health check's
// CallerReference. A CreateLoadBalancer, CreateTargetGroup (by name) or CreateListener
// (by load balancer and port) the proxy forwarded before, whose resource it has not
// seen deleted since, gets the same answer again if the request is the same, else AWS's
// DuplicateLoadBalancerName, DuplicateTargetGroupName or DuplicateListener. A
// CreateHealthCheck with a CallerReference forwarded before gets the same answer if its
// config is the same, else, or once that health check was deleted,
// HealthCheckAlreadyExists. Only what went through the proxy is known to it.
//
// moto makes every Route53 change INSYNC at once; with Propagation set the proxy keeps
// each change PENDING for a while, as Route53 does (propagation.go), and it keeps every
// change moto accepted as sent (Route53Changes), for tests to read what went over the
// wire rather than what drover says it did.
type FaultProxy struct {
	*faultproxy.Proxy[Fault]

	mu       sync.Mutex
	seen     map[opKey]int
	injected map[injKey]int

	// The creations forwarded that AWS would not repeat, by what names them ("health
	// check <CallerReference>", "load balancer <Name>"), and those keys by the created
	// resource's id or ARN. createMu makes a creation and its replay one step.
	createMu  sync.Mutex
	creations map[string]*creation
	createdAs map[string]string

	// Route53's propagation (propagation.go): how long a change stays PENDING, the
	// changes forwarded, by the id the proxy gave them, in order, and the PENDING
	// answers given.
	propagation time.Duration
	changeSeq   int
	changes     map[string]*Route53Change
	changeLog   []*Route53Change
	pending     map[string]int
}

type opKey struct{ service, op string }

type injKey struct {
	kind        FaultKind
	service, op string
}

type creation struct {
	settings string
	status   int
	header   http.Header
	body     []byte
	deleted  bool
}

// Limits are the fault's Rate and Times.
func (f Fault) Limits() (rate float64, times int) { return f.Rate, f.Times }

// NewFaultProxy starts a proxy of the moto at target (Moto.Endpoint) on a free port,
// drawing from a generator seeded with seed; it is closed when the test ends.
func NewFaultProxy(t testing.TB, target string, seed uint64) *FaultProxy {
	t.Helper()
	p, err := StartFaultProxy(target, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartFaultProxy is NewFaultProxy outside of a test (a TestMain, the e2e suite's or
// the sandbox's clouds): the caller closes it.
func StartFaultProxy(target string, seed uint64) (*FaultProxy, error) {
	p := &FaultProxy{
		seen:      map[opKey]int{},
		injected:  map[injKey]int{},
		creations: map[string]*creation{},
		createdAs: map[string]string{},
		changes:   map[string]*Route53Change{},
		pending:   map[string]int{},
	}
	core, err := faultproxy.Start[Fault]("awstest.FaultProxy", target, seed, p.serve)
	if err != nil {
		return nil, err
	}
	p.Proxy = core
	return p, nil
}

// Options are o with both services' endpoints at the proxy.
func (p *FaultProxy) Options(o awsclient.Options) awsclient.Options {
	o.Endpoints = awsclient.Endpoints{ELBv2: p.URL(), Route53: p.URL()}
	return o
}

// Inject adds faults. A request goes through the faults in the order they were added:
// each Latency fault that takes it delays it, and the first other fault that takes it
// decides its fate; a request no fault takes goes to moto.
func (p *FaultProxy) Inject(faults ...Fault) { p.Proxy.Inject(faults...) }

// Clear removes every fault and releases held requests (they answer 503).
func (p *FaultProxy) Clear() { p.Proxy.Clear() }

// Injected is how many requests of service's operation took a fault of kind; ""
// for service or operation counts them all.
func (p *FaultProxy) Injected(kind FaultKind, service, operation string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, c := range p.injected {
		if k.kind == kind && (service == "" || k.service == service) && (operation == "" || k.op == operation) {
			n += c
		}
	}
	return n
}

// Injections are the counts of injected faults as lines "Kind service Operation: n",
// sorted, for a test's log.
func (p *FaultProxy) Injections() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.injected))
	for k, c := range p.injected {
		out = append(out, fmt.Sprintf("%s %s %s: %d", k.kind, k.service, k.op, c))
	}
	sort.Strings(out)
	return out
}

// Requests is how many requests of service's operation the proxy received; "" for
// service or operation counts them all.
func (p *FaultProxy) Requests(service, operation string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, c := range p.seen {
		if (service == "" || k.service == service) && (operation == "" || k.op == operation) {
			n += c
		}
	}
	return n
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "awstest.FaultProxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	svc, op := operationOf(r, body)
	p.mu.Lock()
	p.seen[opKey{svc, op}]++
	p.mu.Unlock()
	from := 0
	for {
		f, next, release := p.match(svc, op, body, from)
		if f == nil {
			p.forward(w, r, svc, op, body)
			return
		}
		from = next
		switch f.Kind {
		case Latency:
			if !faultproxy.Wait(r, release, f.Delay) {
				return
			}
			continue
		case Throttling:
			writeError(w, svc, http.StatusBadRequest, "Sender", "Throttling", "Rate exceeded")
		case PriorRequestNotComplete:
			writeError(w, svc, http.StatusBadRequest, "Sender", "PriorRequestNotComplete",
				"The request was rejected because Route 53 was still processing a prior request.")
		case InternalFailure:
			writeError(w, svc, http.StatusInternalServerError, "Receiver", "InternalFailure", "awstest.FaultProxy: injected internal failure")
		case InvalidChangeBatch:
			writeInvalidChangeBatch(w, f.Message)
		case Timeout:
			hold(w, r, svc, release)
		case LostAnswer:
			// Done even if the client gives up before moto answers.
			p.forward(httptest.NewRecorder(), r.WithContext(context.WithoutCancel(r.Context())), svc, op, body)
			hold(w, r, svc, release)
		default:
			http.Error(w, fmt.Sprintf("awstest.FaultProxy: unknown fault kind %d", f.Kind), http.StatusInternalServerError)
		}
		return
	}
}

// match returns the first fault from index from on that takes the request, counting
// it, the index after it, and the channel that releases held requests.
func (p *FaultProxy) match(svc, op string, body []byte, from int) (*Fault, int, <-chan struct{}) {
	f, next, release := p.Take(from, func(f Fault) bool {
		return (f.Service == "" || f.Service == svc) && (f.Operation == "" || f.Operation == op) &&
			(f.Mentions == "" || bytes.Contains(body, []byte(f.Mentions)))
	})
	if f != nil {
		p.mu.Lock()
		p.injected[injKey{f.Kind, svc, op}]++
		p.mu.Unlock()
	}
	return f, next, release
}

// hold answers nothing until the client gives up; released, it answers 503.
func hold(w http.ResponseWriter, r *http.Request, svc string, release <-chan struct{}) {
	if faultproxy.Hold(r, release) {
		writeError(w, svc, http.StatusServiceUnavailable, "Receiver", "ServiceUnavailable", "awstest.FaultProxy: held request released")
	}
}

// forward sends the request to moto, answering a repeated creation as AWS does where
// moto does not (see FaultProxy).
func (p *FaultProxy) forward(w http.ResponseWriter, r *http.Request, svc, op string, body []byte) {
	switch {
	case svc == cloudmetrics.Route53 && op == "CreateHealthCheck":
		var req struct {
			CallerReference string `xml:"CallerReference"`
			Config          struct {
				Inner string `xml:",innerxml"`
			} `xml:"HealthCheckConfig"`
		}
		if err := xml.Unmarshal(body, &req); err != nil || req.CallerReference == "" {
			break
		}
		p.create(w, r, svc, "health check "+req.CallerReference, req.Config.Inner, "HealthCheckAlreadyExists", func(answer []byte) string {
			var out struct {
				ID string `xml:"HealthCheck>Id"`
			}
			_ = xml.Unmarshal(answer, &out)
			return out.ID
		})
		return
	case svc == cloudmetrics.Route53 && op == "DeleteHealthCheck":
		// A health check's CallerReference is never used again, even once it is gone.
		p.deleteCreated(w, r, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], false)
		return
	case svc == cloudmetrics.ELBv2:
		c, ok := elbCreations[op]
		if !ok {
			break
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			break
		}
		if c.deletedBy != "" {
			// A name or port is free again once its resource is gone.
			p.deleteCreated(w, r, form.Get(c.deletedBy), true)
			return
		}
		name := c.what
		for _, k := range c.key {
			if form.Get(k) == "" {
				name = ""
				break
			}
			name += " " + form.Get(k)
		}
		if name == "" {
			break
		}
		p.create(w, r, svc, name, form.Encode(), c.taken, func(answer []byte) string {
			if m := c.arn.FindSubmatch(answer); m != nil {
				return string(m[1])
			}
			return ""
		})
		return
	case svc == cloudmetrics.Route53 && op == "ChangeResourceRecordSets":
		p.changeRecords(w, r, body)
		return
	case svc == cloudmetrics.Route53 && op == "GetChange":
		p.getChange(w, r)
		return
	}
	p.Forward(w, r)
}

// elbCreations are the ELBv2 creations that AWS makes idempotent (the same request
// again answers with the resource made the first time) and moto does not, and the
// deletions that free their names.
var elbCreations = map[string]struct {
	what      string         // what is created
	key       []string       // the form fields that name it
	arn       *regexp.Regexp // finds its ARN in the answer
	taken     string         // AWS's error for its name taken with other settings
	deletedBy string         // for a deletion: the form field with the ARN of what goes
}{
	"CreateLoadBalancer": {what: "load balancer", key: []string{"Name"}, arn: element("LoadBalancerArn"), taken: "DuplicateLoadBalancerName"},
	"CreateTargetGroup":  {what: "target group", key: []string{"Name"}, arn: element("TargetGroupArn"), taken: "DuplicateTargetGroupName"},
	"CreateListener":     {what: "listener", key: []string{"LoadBalancerArn", "Port"}, arn: element("ListenerArn"), taken: "DuplicateListener"},
	"DeleteLoadBalancer": {deletedBy: "LoadBalancerArn"},
	"DeleteTargetGroup":  {deletedBy: "TargetGroupArn"},
	"DeleteListener":     {deletedBy: "ListenerArn"},
}

// element finds the text of the first XML element name.
func element(name string) *regexp.Regexp {
	return regexp.MustCompile("<" + name + ">([^<]+)</" + name + ">")
}

// create forwards a creation named key with settings, unless one was forwarded
// before: then the same settings get the same answer again and others the error code
// taken (HTTP 400 for ELBv2, 409 for Route53). idOf reads the created resource's id
// from an answer.
func (p *FaultProxy) create(w http.ResponseWriter, r *http.Request, svc, key, settings, taken string, idOf func([]byte) string) {
	p.createMu.Lock()
	defer p.createMu.Unlock()
	if c := p.creations[key]; c != nil {
		if c.deleted || c.settings != settings {
			status := http.StatusBadRequest
			if svc == cloudmetrics.Route53 {
				status = http.StatusConflict
			}
			writeError(w, svc, status, "Sender", taken, "awstest.FaultProxy: "+key+" exists or existed with other settings")
			return
		}
		copyResponse(w, c.status, c.header, c.body)
		return
	}
	rec := httptest.NewRecorder()
	p.Forward(rec, r)
	if rec.Code/100 == 2 {
		if id := idOf(rec.Body.Bytes()); id != "" {
			p.creations[key] = &creation{settings: settings, status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
			p.createdAs[id] = key
		}
	}
	copyResponse(w, rec.Code, rec.Header(), rec.Body.Bytes())
}

// deleteCreated forwards the deletion of the resource id and, once moto has done it,
// forgets its creation (forget) or marks it deleted.
func (p *FaultProxy) deleteCreated(w http.ResponseWriter, r *http.Request, id string, forget bool) {
	rec := httptest.NewRecorder()
	p.Forward(rec, r)
	if rec.Code/100 == 2 {
		p.createMu.Lock()
		if key, ok := p.createdAs[id]; ok {
			if forget {
				delete(p.creations, key)
				delete(p.createdAs, id)
			} else {
				p.creations[key].deleted = true
			}
		}
		p.createMu.Unlock()
	}
	copyResponse(w, rec.Code, rec.Header(), rec.Body.Bytes())
}

func copyResponse(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers an AWS error in the service's format: ELBv2 and EC2 (Query
// protocol) and Route53 (REST-XML) both use an ErrorResponse document; only the
// namespace differs (EC2's is <Response><Errors>).
func writeError(w http.ResponseWriter, svc string, status int, typ, code, msg string) {
	id := fmt.Sprintf("awstest-%d", time.Now().UnixNano())
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(status)
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	switch svc {
	case cloudmetrics.Route53:
		fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			typ, code, esc(msg), id)
	case "ec2":
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`, code, esc(msg), id)
	default:
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			typ, code, esc(msg), id)
	}
}

// writeInvalidChangeBatch answers as Route53 refuses a change batch: not the usual
// ErrorResponse but an InvalidChangeBatch document listing its messages.
func writeInvalidChangeBatch(w http.ResponseWriter, msg string) {
	id := fmt.Sprintf("awstest-%d", time.Now().UnixNano())
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusBadRequest)
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<?xml version="1.0"?>
<InvalidChangeBatch xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Messages><Message>%s</Message></Messages><RequestId>%s</RequestId></InvalidChangeBatch>`, b.String(), id)
}

// signingService finds the service in a SigV4 Authorization header's credential
// scope: "Credential=AKID/20260101/us-east-1/elasticloadbalancing/aws4_request".
var signingService = regexp.MustCompile(`Credential=[^/,]+/[0-9]{8}/[^/,]+/([^/,]+)/aws4_request`)

// services maps SigV4 signing names to drover's service names.
var services = map[string]string{
	"elasticloadbalancing": cloudmetrics.ELBv2,
	"route53":              cloudmetrics.Route53,
	"ec2":                  "ec2",
}

// route53Ops are Route53's REST operations (method and path, after /2013-04-01) that
// drover and its tests call.
var route53Ops = []struct {
	method string
	path   *regexp.Regexp
	op     string
}{
	{http.MethodPost, regexp.MustCompile(`^/hostedzone/[^/]+/rrset/?$`), "ChangeResourceRecordSets"},
	{http.MethodGet, regexp.MustCompile(`^/hostedzone/[^/]+/rrset/?$`), "ListResourceRecordSets"},
	{http.MethodGet, regexp.MustCompile(`^/change/[^/]+$`), "GetChange"},
	{http.MethodPost, regexp.MustCompile(`^/hostedzone/?$`), "CreateHostedZone"},
	{http.MethodGet, regexp.MustCompile(`^/hostedzone/?$`), "ListHostedZones"},
	{http.MethodGet, regexp.MustCompile(`^/hostedzone/[^/]+$`), "GetHostedZone"},
	{http.MethodDelete, regexp.MustCompile(`^/hostedzone/[^/]+$`), "DeleteHostedZone"},
	{http.MethodPost, regexp.MustCompile(`^/healthcheck/?$`), "CreateHealthCheck"},
	{http.MethodGet, regexp.MustCompile(`^/healthcheck/?$`), "ListHealthChecks"},
	{http.MethodGet, regexp.MustCompile(`^/healthcheck/[^/]+$`), "GetHealthCheck"},
	{http.MethodPost, regexp.MustCompile(`^/healthcheck/[^/]+$`), "UpdateHealthCheck"},
	{http.MethodDelete, regexp.MustCompile(`^/healthcheck/[^/]+$`), "DeleteHealthCheck"},
	{http.MethodGet, regexp.MustCompile(`^/healthcheck/[^/]+/status$`), "GetHealthCheckStatus"},
	{http.MethodPost, regexp.MustCompile(`^/tags/[^/]+/[^/]+$`), "ChangeTagsForResource"},
	{http.MethodGet, regexp.MustCompile(`^/tags/[^/]+/[^/]+$`), "ListTagsForResource"},
	{http.MethodPost, regexp.MustCompile(`^/tags/[^/]+$`), "ListTagsForResources"},
}

// operationOf tells the service (cloudmetrics.ELBv2, cloudmetrics.Route53, "ec2", or
// the signing name of another) and the SDK's operation name of an AWS request with
// body. A Query-protocol request's operation is its Action; a Route53 request's is
// found from its method and path, and one not in the table is "METHOD /path".
func operationOf(r *http.Request, body []byte) (service, operation string) {
	if m := signingService.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		service = m[1]
		if s, ok := services[service]; ok {
			service = s
		}
	}
	if service == "" && strings.HasPrefix(r.URL.Path, "/2013-04-01/") {
		service = cloudmetrics.Route53
	}
	if service == cloudmetrics.Route53 {
		rest := strings.TrimPrefix(r.URL.Path, "/2013-04-01")
		for _, o := range route53Ops {
			if r.Method == o.method && o.path.MatchString(rest) {
				return service, o.op
			}
		}
		return service, r.Method + " " + r.URL.Path
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		if service == "" {
			service = "query"
		}
		return service, form.Get("Action")
	}
	return service, r.Method + " " + r.URL.Path
}
