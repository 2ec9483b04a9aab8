// Package gateway is the lawful-demand gateway: it takes a government's
// demand, decides with the jurisdiction policy what each target's data it
// can reach, records the review (legal officers only; two of them to
// disclose), places legal holds for preservation orders, tells users when
// the law allows, and builds signed disclosure packages.
//
// It owns no storage and no mail: legal/store keeps its records, and Mail
// (implemented by the server over the regions' postboxes) is the only way
// it reaches accounts. Like every legal package it never imports package
// seal: content leaves only as the sealed bytes the stores hold.
package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/demand"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/policy"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/legal/workflow"
)

// Mail is what the gateway may do with accounts. Every call is an access by
// someone other than the owner, and the gateway records each in its store's
// event outbox before it returns.
type Mail interface {
	// Locate returns the home region of addr as the policy sees it, or a
	// NotExist error when addr has no account.
	Locate(ctx context.Context, addr string) (policy.Region, error)
	// Subscriber returns what is kept in the clear about the account.
	Subscriber(ctx context.Context, addr string) (disclose.SubscriberRecord, error)
	// Traffic returns the metadata of the account's messages that arrived
	// in [from, to] (nil: open-ended).
	Traffic(ctx context.Context, addr string, from, to *legal.Date) ([]disclose.TrafficRecord, error)
	// SealedContent calls fn with each message that arrived in [from, to]
	// as it is stored: sealed to the owner's key.
	SealedContent(ctx context.Context, addr string, from, to *legal.Date, fn func(tr disclose.TrafficRecord, sealed []byte) error) error
	// PlaceHold and ReleaseHold put the account under legal hold or end it.
	PlaceHold(ctx context.Context, addr string) error
	ReleaseHold(ctx context.Context, addr string) error
	// Notify files a notice in the account's INBOX (sealed like all mail).
	Notify(ctx context.Context, addr string, raw []byte) error
	// Authenticate checks an account owner's password (Permission if
	// wrong), so that owners can read the notices about them.
	Authenticate(ctx context.Context, addr, password string) error
}

// Options configures a Gateway.
type Options struct {
	Store  *store.Store
	Policy *policy.Engine
	Mail   Mail
	// Signer signs disclosure packages (the deployment's Ed25519 key).
	Signer ed25519.PrivateKey
	// Hostname names the sender of notices.
	Hostname string
	Now      func() time.Time
}

// Gateway is the lawful-demand gateway. It is safe for concurrent use.
type Gateway struct {
	opts Options
	// checks bounds concurrent officer password checks: each runs Argon2id
	// with its memory cost, so a flood of wrong passwords must queue
	// rather than exhaust memory.
	checks chan struct{}
}

// maxConcurrentChecks is how many officer password checks run at once.
const maxConcurrentChecks = 2

// New returns a Gateway.
func New(opts Options) *Gateway {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	return &Gateway{opts: opts, checks: make(chan struct{}, maxConcurrentChecks)}
}

// SetNow replaces the gateway's clock (for tests and dry runs of the
// command line: notices due after a nondisclosure order lapses).
func (g *Gateway) SetNow(now func() time.Time) { g.opts.Now = now }

// Store returns the gateway's store.
func (g *Gateway) Store() *store.Store { return g.opts.Store }

// Policy returns the policy engine.
func (g *Gateway) Policy() *policy.Engine { return g.opts.Policy }

// PublicKey returns the key that verifies disclosure packages.
func (g *Gateway) PublicKey() ed25519.PublicKey {
	if g.opts.Signer == nil {
		return nil
	}
	return g.opts.Signer.Public().(ed25519.PublicKey)
}

// Officer checks a legal officer's credentials and returns the actor.
// A wrong name and a wrong password are the same Permission error.
func (g *Gateway) Officer(ctx context.Context, name, password string) (workflow.Actor, error) {
	select {
	case g.checks <- struct{}{}:
	case <-ctx.Done():
		return workflow.Actor{}, errors.E("gateway.Officer", errors.Unavailable, ctx.Err())
	}
	err := g.opts.Store.CheckOfficer(ctx, name, password)
	<-g.checks
	if err != nil {
		return workflow.Actor{}, errors.E("gateway.Officer", errors.Permission, err)
	}
	return workflow.Actor{Name: strings.TrimSpace(name), Role: workflow.Officer}, nil
}

// Parse parses and validates a demand document (JSON or YAML).
func (g *Gateway) Parse(data []byte) (legal.Demand, error) {
	return demand.ParseAndValidate(data, g.opts.Now())
}

// Explain decides a demand without filing it.
func (g *Gateway) Explain(ctx context.Context, d legal.Demand) ([]legal.Decision, error) {
	targets := make([]policy.Target, len(d.Targets))
	for i, addr := range d.Targets {
		targets[i].Address = addr
		r, err := g.opts.Mail.Locate(ctx, addr)
		switch {
		case err == nil:
			targets[i].Region = &r
		case errors.Is(errors.NotExist, err):
		default:
			return nil, errors.E("gateway.Explain", err)
		}
	}
	return g.opts.Policy.Decide(d, targets), nil
}

// File files a validated demand with its documents (name → bytes, matching
// d.Documents' SHA-256), decides it, and then: places legal holds where a
// preservation order reaches, and queues a notice to each target with an
// account (due now, or when the nondisclosure order ends). Only a legal
// officer may file.
func (g *Gateway) File(ctx context.Context, officer workflow.Actor, d legal.Demand, docs map[string][]byte) (legal.Demand, []legal.Decision, error) {
	const op = "gateway.File"
	if officer.Role != workflow.Officer || officer.Name == "" {
		return d, nil, errors.E(op, errors.Permission, errors.Str("only a legal officer may file a demand"))
	}
	decisions, err := g.Explain(ctx, d)
	if err != nil {
		return d, nil, errors.E(op, err)
	}
	now := g.opts.Now()
	d, err = g.opts.Store.File(ctx, d, docs, decisions, officer.Name, now)
	if err != nil {
		return d, nil, errors.E(op, err)
	}
	for _, dec := range decisions {
		if dec.Decision == legal.NoSuchAccount {
			continue
		}
		if d.Instrument == legal.PreservationOrder && dec.Preserve {
			if err := g.opts.Mail.PlaceHold(ctx, dec.Target); err != nil {
				return d, decisions, errors.E(op, err)
			}
			if err := g.opts.Store.PlaceHold(ctx, d.ID, dec.Target, store.ActorPolicy, now); err != nil {
				return d, decisions, errors.E(op, err)
			}
		}
		due := now
		if d.NondisclosureUntil != nil && d.NondisclosureUntil.After(now) {
			due = d.NondisclosureUntil.Time
		}
		if _, err := g.opts.Store.AddNotice(ctx, store.Notice{DemandID: d.ID, Address: dec.Target, Queued: now, Due: due,
			Text: noticeText(d, dec)}); err != nil {
			return d, decisions, errors.E(op, err)
		}
	}
	if _, err := g.NotifyDue(ctx); err != nil {
		return d, decisions, errors.E(op, err)
	}
	return d, decisions, nil
}

// Transition moves a demand to state to.
func (g *Gateway) Transition(ctx context.Context, officer workflow.Actor, id string, to legal.State, note string) (legal.Transition, error) {
	const op = "gateway.Transition"
	rec, err := g.opts.Store.Demand(ctx, id)
	if err != nil {
		return legal.Transition{}, errors.E(op, err)
	}
	tr, err := workflow.Apply(rec.Transitions, to, officer, note, g.opts.Now())
	if err != nil {
		return tr, errors.E(op, err)
	}
	if err := g.opts.Store.AddTransition(ctx, id, tr); err != nil {
		return tr, errors.E(op, err)
	}
	return tr, nil
}

// Eligible returns what the policy found disclosable: each target's
// eligible categories.
func Eligible(decisions []legal.Decision) []disclose.Scope {
	var out []disclose.Scope
	for _, dec := range decisions {
		if dec.Decision != legal.Eligible {
			continue
		}
		var cats []legal.Category
		for _, c := range dec.Categories {
			if c.Decision == legal.Eligible {
				cats = append(cats, c.Category)
			}
		}
		if len(cats) > 0 {
			out = append(out, disclose.Scope{Target: dec.Target, Categories: cats})
		}
	}
	return out
}

// Approve records an officer's approval of disclosing what the policy found
// eligible. Disclosure needs approvals by two different officers.
func (g *Gateway) Approve(ctx context.Context, officer workflow.Actor, id, note string) error {
	const op = "gateway.Approve"
	rec, err := g.opts.Store.Demand(ctx, id)
	if err != nil {
		return errors.E(op, err)
	}
	scope := Eligible(rec.Decisions)
	if len(scope) == 0 {
		return errors.E(op, errors.Invalid, errors.Str("the policy found nothing to disclose on this demand"))
	}
	// The officer approves the whole eligible scope; workflow checks the
	// officer and refuses (Exist) an approval that adds nothing.
	existing := approvals(rec, scope)
	now := g.opts.Now()
	adds := false
	for _, sc := range scope {
		_, err := workflow.Approve(existing, officer, []string{sc.Target}, sc.Categories, note, now)
		switch {
		case err == nil:
			adds = true
		case !errors.Is(errors.Exist, err):
			return errors.E(op, err)
		}
	}
	if !adds {
		return errors.E(op, errors.Exist, errors.Errorf("%s has already approved this; a second legal officer must approve", officer.Name))
	}
	if err := g.opts.Store.AddApproval(ctx, id, store.Approval{Officer: officer.Name, At: now, Note: note}); err != nil {
		return errors.E(op, err)
	}
	return nil
}

// approvals turns the stored approvals (each of the whole eligible scope)
// into the workflow's.
func approvals(rec store.Record, scope []disclose.Scope) []workflow.Approval {
	var out []workflow.Approval
	for _, a := range rec.Approvals {
		for _, sc := range scope {
			out = append(out, workflow.Approval{Officer: a.Officer, At: a.At, Targets: []string{sc.Target}, Categories: sc.Categories})
		}
	}
	return out
}

// Disclose builds the disclosure package of an approved demand into w:
// only the eligible categories of eligible targets, approved by two
// different officers; content only sealed. It records the disclosure.
func (g *Gateway) Disclose(ctx context.Context, officer workflow.Actor, id string, w io.Writer) (disclose.Manifest, error) {
	const op = "gateway.Disclose"
	if officer.Role != workflow.Officer {
		return disclose.Manifest{}, errors.E(op, errors.Permission, errors.Str("only a legal officer may disclose"))
	}
	rec, err := g.opts.Store.Demand(ctx, id)
	if err != nil {
		return disclose.Manifest{}, errors.E(op, err)
	}
	if !workflow.Disclosable(rec.State) {
		return disclose.Manifest{}, errors.E(op, errors.Invalid, errors.Errorf("a demand that is %s cannot be disclosed on; it must be approved", rec.State))
	}
	scope := Eligible(rec.Decisions)
	var items []workflow.Item
	for _, sc := range scope {
		items = append(items, workflow.Items([]string{sc.Target}, sc.Categories)...)
	}
	if err := workflow.CanDisclose(approvals(rec, scope), items); err != nil {
		return disclose.Manifest{}, errors.E(op, err)
	}
	d := rec.Demand
	var files []disclose.File
	var subs []disclose.SubscriberRecord
	var traffic []disclose.TrafficRecord
	for _, sc := range scope {
		for _, c := range sc.Categories {
			switch c {
			case legal.Subscriber:
				s, err := g.opts.Mail.Subscriber(ctx, sc.Target)
				if err != nil {
					return disclose.Manifest{}, errors.E(op, err)
				}
				subs = append(subs, s)
			case legal.Traffic:
				t, err := g.opts.Mail.Traffic(ctx, sc.Target, d.From, d.To)
				if err != nil {
					return disclose.Manifest{}, errors.E(op, err)
				}
				traffic = append(traffic, t...)
			case legal.Content:
				err := g.opts.Mail.SealedContent(ctx, sc.Target, d.From, d.To, func(tr disclose.TrafficRecord, sealed []byte) error {
					files = append(files, disclose.File{Name: disclose.ContentName(tr.Address, tr.Mailbox, tr.UID), Data: sealed})
					return nil
				})
				if err != nil {
					return disclose.Manifest{}, errors.E(op, err)
				}
			}
		}
	}
	if len(subs) > 0 {
		files = append(files, disclose.SubscriberFiles(subs)...)
	}
	if len(traffic) > 0 {
		files = append(files, disclose.TrafficFiles(traffic)...)
	}
	var officers []string
	for _, a := range rec.Approvals {
		officers = append(officers, a.Officer)
	}
	policyVersion := ""
	if len(rec.Decisions) > 0 {
		policyVersion = rec.Decisions[0].PolicyVersion
	}
	m := disclose.Manifest{
		DemandID: d.ID, Reference: d.Reference, Authority: d.Authority, Created: g.opts.Now(),
		Approvals: officers, PolicyVersion: policyVersion, Scope: scope,
	}
	h := &hashWriter{w: w}
	if err := disclose.Build(h, m, files, g.opts.Signer); err != nil {
		return m, errors.E(op, err)
	}
	if err := g.opts.Store.AddDisclosure(ctx, d.ID, h.sum(), officers, g.opts.Now()); err != nil {
		return m, errors.E(op, err)
	}
	return m, nil
}

// ReleaseHolds ends the demand's legal holds; an account stays held while
// another demand holds it.
func (g *Gateway) ReleaseHolds(ctx context.Context, officer workflow.Actor, id string) error {
	const op = "gateway.ReleaseHolds"
	if officer.Role != workflow.Officer {
		return errors.E(op, errors.Permission, errors.Str("only a legal officer may release a hold"))
	}
	rec, err := g.opts.Store.Demand(ctx, id)
	if err != nil {
		return errors.E(op, err)
	}
	now := g.opts.Now()
	for _, h := range rec.Holds {
		if h.Released != nil {
			continue
		}
		if err := g.opts.Store.ReleaseHold(ctx, id, h.Address, officer.Name, now); err != nil {
			return errors.E(op, err)
		}
		held, err := g.opts.Store.HeldAddresses(ctx)
		if err != nil {
			return errors.E(op, err)
		}
		if !held[h.Address] {
			if err := g.opts.Mail.ReleaseHold(ctx, h.Address); err != nil {
				return errors.E(op, err)
			}
		}
	}
	return nil
}

// MyNotices returns the notices an account's owner has been sent (never
// one still held back by a nondisclosure order), after checking the
// owner's password.
func (g *Gateway) MyNotices(ctx context.Context, addr, password string) ([]store.Notice, error) {
	const op = "gateway.MyNotices"
	if err := g.opts.Mail.Authenticate(ctx, addr, password); err != nil {
		return nil, errors.E(op, errors.Permission)
	}
	ns, err := g.opts.Store.NoticesFor(ctx, addr)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return ns, nil
}

// NotifyDue sends every notice whose nondisclosure period has ended and
// returns how many it sent.
func (g *Gateway) NotifyDue(ctx context.Context) (int, error) {
	const op = "gateway.NotifyDue"
	due, err := g.opts.Store.DueNotices(ctx, g.opts.Now())
	if err != nil {
		return 0, errors.E(op, err)
	}
	n := 0
	for _, nt := range due {
		raw := g.noticeMessage(nt)
		if err := g.opts.Mail.Notify(ctx, nt.Address, raw); err != nil && !errors.Is(errors.NotExist, err) {
			return n, errors.E(op, err)
		}
		if err := g.opts.Store.MarkNoticeSent(ctx, nt.ID, g.opts.Now()); err != nil {
			return n, errors.E(op, err)
		}
		n++
	}
	return n, nil
}

// noticeText is what a user is told about a demand naming them.
func noticeText(d legal.Demand, dec legal.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "A government demand named your account %s.\n\n", dec.Target)
	fmt.Fprintf(&b, "Who asked: %s (%s)", d.Authority, d.Country)
	if d.RequestingCountry != "" {
		fmt.Fprintf(&b, ", on behalf of %s", d.RequestingCountry)
	}
	fmt.Fprintf(&b, "\nInstrument: %s", strings.ReplaceAll(string(d.Instrument), "_", " "))
	if d.Court != "" {
		fmt.Fprintf(&b, " (%s)", d.Court)
	}
	fmt.Fprintf(&b, "\nLegal basis: %s\nReference: %s\nReceived: %s\n", d.LegalBasis, d.Reference, d.Received)
	cats := make([]string, len(d.Categories))
	for i, c := range d.Categories {
		cats[i] = string(c)
	}
	fmt.Fprintf(&b, "What was asked: %s data", strings.Join(cats, ", "))
	if d.From != nil || d.To != nil {
		fmt.Fprintf(&b, " from %s to %s", dateOr(d.From, "the start"), dateOr(d.To, "now"))
	}
	fmt.Fprintf(&b, "\n\nWhat our policy decided (version %s): %s\n", dec.PolicyVersion, strings.ReplaceAll(string(dec.Decision), "_", " "))
	for _, r := range dec.Reasons {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if dec.Route != "" {
		fmt.Fprintf(&b, "The lawful route for this authority: %s.\n", dec.Route)
	}
	b.WriteString("\nYour mail is sealed to your own key: even where a demand is lawful, we can hand over your messages only in that sealed form.\n")
	return b.String()
}

func dateOr(d *legal.Date, s string) string {
	if d == nil {
		return s
	}
	return d.String()
}

// noticeMessage renders a notice as an RFC 5322 message.
func (g *Gateway) noticeMessage(nt store.Notice) []byte {
	now := g.opts.Now().UTC()
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sealpost legal <legal@%s>\r\n", g.opts.Hostname)
	fmt.Fprintf(&b, "To: <%s>\r\n", nt.Address)
	fmt.Fprintf(&b, "Subject: A government demand named your account (%s)\r\n", nt.DemandID)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <notice-%d-%s@%s>\r\n", nt.ID, nt.DemandID, g.opts.Hostname)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(nt.Text, "\n", "\r\n"))
	return []byte(b.String())
}

// hashWriter passes writes through and hashes them: the disclosure record
// names the package by its SHA-256.
type hashWriter struct {
	w io.Writer
	h hash.Hash
}

func (h *hashWriter) Write(p []byte) (int, error) {
	if h.h == nil {
		h.h = sha256.New()
	}
	h.h.Write(p)
	return h.w.Write(p)
}

func (h *hashWriter) sum() string {
	if h.h == nil {
		h.h = sha256.New()
	}
	return hex.EncodeToString(h.h.Sum(nil))
}
