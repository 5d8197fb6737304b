package awstest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Route53's propagation. moto applies a ChangeResourceRecordSets at once and says
// INSYNC for it (and for any id GetChange is asked about); Route53 says PENDING for
// tens of seconds, until every one of its DNS servers has the change. With
// FaultProxy.Propagation set, the proxy answers as Route53 does: each change moto
// accepted gets an id of its own (moto gives every change the same one) and PENDING,
// and GetChange of that id says PENDING until the propagation has passed since the
// change was submitted, then INSYNC (moto's answer). The proxy also keeps every change
// it forwarded, as sent on the wire, so that a test can replay a service's weights
// change by change and see when Route53 first said a change was INSYNC.

// Route53Change is a ChangeResourceRecordSets that moto accepted through the proxy.
type Route53Change struct {
	// ID is the change id the client was given: the proxy's own while Propagation is
	// set, else moto's (the same for every change).
	ID string
	// Zone is the hosted zone's id (without "/hostedzone/").
	Zone string
	// Changes are the batch's changes, in the order sent.
	Changes []RecordChange
	// Submitted is when moto accepted the change.
	Submitted time.Time
	// InSyncAt is when GetChange starts saying INSYNC: Submitted plus the propagation
	// set then (Submitted without one).
	InSyncAt time.Time
	// ReportedInSync is when the proxy first answered INSYNC to a GetChange of this
	// change; zero until then, and for changes made without a propagation.
	ReportedInSync time.Time
}

// RecordChange is one change of a batch.
type RecordChange struct {
	// Action is CREATE, UPSERT or DELETE.
	Action string
	// Name is the record's name, lower case, without the final dot.
	Name string
	// Type is the record type (A, CNAME, ...).
	Type string
	// SetIdentifier of a weighted record; "" for others.
	SetIdentifier string
	// Weight of a weighted record; nil for others.
	Weight *int64
	// Target is the alias target's DNS name (without the final dot), or the first value.
	Target string
}

// Propagation makes every Route53 change forwarded from now on PENDING for d after moto
// accepted it (see Route53Change); 0 answers as moto does again. Changes already made
// keep the propagation they were made with.
func (p *FaultProxy) Propagation(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.propagation = d
}

// Route53Changes are the changes moto accepted through the proxy, in order (copies).
func (p *FaultProxy) Route53Changes() []Route53Change {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Route53Change, len(p.changeLog))
	for i, c := range p.changeLog {
		out[i] = *c
		out[i].Changes = slices.Clone(c.Changes)
	}
	return out
}

// Pending is how many answers of the Route53 operation ("ChangeResourceRecordSets" or
// "GetChange"; "" for both) the proxy turned PENDING.
func (p *FaultProxy) Pending(operation string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if operation != "" {
		return p.pending[operation]
	}
	n := 0
	for _, c := range p.pending {
		n += c
	}
	return n
}

var (
	changeInfoID     = regexp.MustCompile(`<Id>[^<]*</Id>`)
	changeInfoStatus = regexp.MustCompile(`<Status>[^<]*</Status>`)
	hostedZonePath   = regexp.MustCompile(`/hostedzone/([^/]+)/rrset`)
)

// changeRecords forwards a ChangeResourceRecordSets and, once moto accepted it, keeps
// it and, with a propagation set, gives it an id of its own and says PENDING.
func (p *FaultProxy) changeRecords(w http.ResponseWriter, r *http.Request, body []byte) {
	rec := httptest.NewRecorder()
	p.Forward(rec, r)
	answer := rec.Body.Bytes()
	if rec.Code/100 != 2 {
		copyResponse(w, rec.Code, rec.Header(), answer)
		return
	}
	c := &Route53Change{Changes: parseChanges(body), Submitted: time.Now()}
	if m := hostedZonePath.FindStringSubmatch(r.URL.Path); m != nil {
		c.Zone = m[1]
	}
	p.mu.Lock()
	c.InSyncAt = c.Submitted.Add(p.propagation)
	if p.propagation > 0 {
		p.changeSeq++
		c.ID = fmt.Sprintf("CAWSTEST%08d", p.changeSeq)
		p.changes[c.ID] = c
		p.pending["ChangeResourceRecordSets"]++
		answer = changeInfoID.ReplaceAll(answer, []byte("<Id>/change/"+c.ID+"</Id>"))
		answer = changeInfoStatus.ReplaceAll(answer, []byte("<Status>PENDING</Status>"))
	} else if m := changeInfoID.Find(answer); m != nil {
		c.ID = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(string(m), "<Id>"), "</Id>"), "/change/")
	}
	p.changeLog = append(p.changeLog, c)
	p.mu.Unlock()
	copyResponse(w, rec.Code, withoutLength(rec.Header()), answer)
}

// getChange answers GetChange of a change the proxy gave an id: PENDING until its
// propagation has passed, then moto's INSYNC. Other ids are moto's to answer.
func (p *FaultProxy) getChange(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	p.mu.Lock()
	c := p.changes[id]
	p.mu.Unlock()
	if c == nil {
		p.Forward(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.Forward(rec, r)
	answer := rec.Body.Bytes()
	if rec.Code/100 != 2 {
		copyResponse(w, rec.Code, rec.Header(), answer)
		return
	}
	answer = changeInfoID.ReplaceAll(answer, []byte("<Id>/change/"+c.ID+"</Id>"))
	p.mu.Lock()
	if now := time.Now(); now.Before(c.InSyncAt) {
		p.pending["GetChange"]++
		answer = changeInfoStatus.ReplaceAll(answer, []byte("<Status>PENDING</Status>"))
	} else {
		if c.ReportedInSync.IsZero() {
			c.ReportedInSync = now
		}
		answer = changeInfoStatus.ReplaceAll(answer, []byte("<Status>INSYNC</Status>"))
	}
	p.mu.Unlock()
	copyResponse(w, rec.Code, withoutLength(rec.Header()), answer)
}

// withoutLength is h without Content-Length, for an answer whose body was rewritten.
func withoutLength(h http.Header) http.Header {
	h = h.Clone()
	h.Del("Content-Length")
	return h
}

// parseChanges reads the changes of a ChangeResourceRecordSets request body.
func parseChanges(body []byte) []RecordChange {
	var req struct {
		Changes []struct {
			Action string `xml:"Action"`
			Set    struct {
				Name          string   `xml:"Name"`
				Type          string   `xml:"Type"`
				SetIdentifier string   `xml:"SetIdentifier"`
				Weight        *int64   `xml:"Weight"`
				Alias         string   `xml:"AliasTarget>DNSName"`
				Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
			} `xml:"ResourceRecordSet"`
		} `xml:"ChangeBatch>Changes>Change"`
	}
	if err := xml.Unmarshal(body, &req); err != nil {
		return nil
	}
	out := make([]RecordChange, 0, len(req.Changes))
	for _, c := range req.Changes {
		rc := RecordChange{
			Action: c.Action, Name: strings.ToLower(strings.TrimSuffix(c.Set.Name, ".")), Type: c.Set.Type,
			SetIdentifier: c.Set.SetIdentifier, Weight: c.Set.Weight, Target: strings.TrimSuffix(c.Set.Alias, "."),
		}
		if rc.Target == "" && len(c.Set.Values) > 0 {
			rc.Target = c.Set.Values[0]
		}
		out = append(out, rc)
	}
	return out
}
