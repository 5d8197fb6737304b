// Package nlb is the pure core of the NLB mirror, which keeps an AWS Network Load Balancer
// in step with one Prod's OpenStack Octavia load balancer in the plan → diff → apply shape
// of aws-load-balancer-controller. As that controller keeps pkg/model apart from
// pkg/deploy, this package holds the model, the translation from Octavia and the diff, and
// calls nothing; internal/nlb/deploy reads and writes AWS:
//
//	model, warnings, err := nlb.Desired(snapshot, opts)   // pure: what the NLB should be
//	observed, err := deploy.Observe(ctx, api, opts.Owner) // reads AWS, by ownership tags only
//	plan := nlb.Diff(model, observed, guard)              // pure: matched / only-desired / only-in-cloud
//	result, err := deploy.Apply(ctx, api, plan)           // the only step that writes to AWS
//
// and, when the Prod goes, deploy.Apply(ctx, api, nlb.DeletePlan(observed)).
//
// # Ownership
//
// drover touches only resources that carry its ownership tags (TagManagedBy, TagOwner,
// TagProdUID, see tags.go); anything else is invisible to deploy.Observe and is never modified.
// Names are deterministic (drv-<hash of manager and Prod UID>-<hash>) so that a retried
// create is idempotent in AWS, but a name alone never makes a resource ours: Observe uses
// the name prefix only to avoid reading the tags of the whole account, and then requires
// the tags.
//
// # Mapping from Octavia
//
//	Octavia listener        NLB listener   notes
//	TCP                     TCP
//	UDP                     UDP            the target group always preserves client IPs (AWS)
//	HTTP                    TCP            bytes are forwarded; no X-Forwarded-* headers
//	HTTPS                   TCP            TLS passes through to the members, as in Octavia
//	TERMINATED_HTTPS        TLS            only with Options.TLS.CertificateARN (an ACM
//	                                       certificate: the NLB cannot use Octavia's Barbican
//	                                       one); skipped with a warning otherwise, because
//	                                       forwarding TCP would hand TLS clients to members
//	                                       that speak plain HTTP
//	SCTP, PROMETHEUS        -              skipped with a warning
//
//	Octavia pool            target group (target type ip, IPv4)
//	TCP, HTTP, HTTPS        TCP
//	PROXYV2                 TCP, proxy_protocol_v2.enabled=true
//	PROXY                   TCP, proxy_protocol_v2.enabled=true, with a warning: the NLB
//	                        speaks only version 2 (nginx and HAProxy accept both)
//	UDP                     UDP
//	SCTP                    -     skipped with a warning
//
//	Octavia monitor         health check
//	HTTP, HTTPS             HTTP, HTTPS with url_path and expected_codes (matcher clamped
//	                        to 200-599, what NLB target groups accept); an HTTP method
//	                        other than GET is not mirrored (warning)
//	PING, TCP, TLS-HELLO,   TCP on the traffic port
//	UDP-CONNECT, SCTP
//	none or disabled        TCP on the traffic port with Options.HealthCheck
//
// delay → interval (clamped to 5–300 s), timeout → timeout (2–120 s, and never above the
// interval), max_retries → healthy threshold, max_retries_down → unhealthy threshold
// (both 2–10). Clamping is silent and deterministic, so it never shows up as drift.
//
// Members: only members with admin_state_up, a weight above 0 (weight 0 is Octavia's
// drain) and not marked backup (an NLB has no backup targets: a backup member would get
// regular traffic) become targets, each as IP:port with AvailabilityZone "all" (the
// private-cloud addresses are outside the VPC, reached over the dedicated line). Only IPv4
// addresses in Options.TargetCIDRs (by default RFC 1918 and RFC 6598, the only
// addresses outside the VPC that AWS accepts) are registered; others are skipped with a
// warning, so one bad member cannot wedge every later step of a sync.
//
// Octavia states: only an ACTIVE, administratively up load balancer is mirrored; any
// other state (PENDING_*, ERROR) makes Desired fail with ErrOctaviaNotReady, so a
// transitional read changes nothing in AWS. A snapshot that contradicts itself (a
// listener naming a pool it does not have, a listener or pool id that is empty or
// repeated, or an id AWS would refuse as the tag value it becomes) is an error too.
//
// # Replacement
//
// What ELBv2 cannot change in place is replaced: a target group of the wrong protocol,
// VPC or target type gets a new one (create, register, switch the listener, delete the
// old one, in that order); a load balancer of another scheme or VPC gets a new one with
// new target groups (a target group serves one load balancer), and the old one is deleted,
// listeners first, only once the new one is active. Names cover the immutable
// properties, so the new resource never collides with the old. Subnets are not changed
// (the elbv2 API has no SetSubnets); a difference is a Note. Apply never adopts a
// resource it did not create: a create that returns an existing resource without the
// plan's ownership tags fails with ErrNotOwned.
//
// # The guard
//
// See Guard. A plan that would remove more than the allowed share of targets is held
// whole: Apply refuses it and changes nothing, additions included.
package nlb
