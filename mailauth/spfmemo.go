package mailauth

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"

	"github.com/sealpost/sealpost/errors"
)

// This file is SPF's memo. An SPF evaluation (RFC 7208 4) is a function of
// the client's address, the HELO name, the sender and the DNS answers it
// asks for, and of nothing else: the same inputs ask the same questions in
// the same order and come to the same result. So a result is kept with the
// questions its evaluation asked and the answers it got, and it is reused
// for the same (address, HELO, sender) only when asking those questions
// again, in order, through the resolver (and its cache), gets the same
// answers. A changed record therefore applies at once, as with the DKIM
// key and DMARC record caches; what is saved is the library's parsing and
// evaluation of the records, which was most of what SPF cost a busy MX's
// regular correspondents. A result that met a temporary DNS failure is not
// kept.

// spfKey is what an evaluation depends on besides the DNS.
type spfKey struct {
	ip       netip.Addr
	helo     string
	mailFrom string
}

// spfEntry is a kept result and the lookups that led to it.
type spfEntry struct {
	res     SPFResult
	lookups []dnsLookup
}

// dnsLookup is one question and its answer, in a form that compares
// exactly: the records in the order the resolver gave them, or "no such
// name/records".
type dnsLookup struct {
	kind   lookupKind
	name   string
	answer string
}

type lookupKind uint8

const (
	lookupTXT lookupKind = iota
	lookupMX
	lookupIP
	lookupAddr
)

// maxKeptAnswers bounds the answers' text an entry holds: SPF records and
// their includes are a few hundred bytes, and a sender whose DNS answers
// with large records (up to 64 KiB each) is evaluated every time instead
// of filling the memo. With the entries' bound, the memo holds at most
// about spfMemoEntries × (this + an SMTP line's HELO and sender).
const maxKeptAnswers = 2048

// spfMemoEntries is the memo's default bound on entries.
const spfMemoEntries = 4096

// spfMemo is bounded: past max entries, an arbitrary tenth is dropped.
type spfMemo struct {
	mu   sync.Mutex
	max  int
	m    map[spfKey]spfEntry
	hits atomic.Int64 // results given again
}

func newSPFMemo(max int) *spfMemo { return &spfMemo{max: max, m: make(map[spfKey]spfEntry)} }

// check is checkSPF through the memo.
func (sm *spfMemo) check(ctx context.Context, r guard, ip netip.Addr, helo, mailFrom string) SPFResult {
	k := spfKey{ip, helo, mailFrom}
	e, ok := sm.get(k)
	return sm.confirm(ctx, r, k, e, ok)
}

// get returns the kept result of k, if any, not yet confirmed.
func (sm *spfMemo) get(k spfKey) (spfEntry, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	e, ok := sm.m[k]
	return e, ok
}

// confirm returns e's result if its answers are still the same (ok: e was
// kept for k), or evaluates k afresh and keeps the result.
func (sm *spfMemo) confirm(ctx context.Context, r guard, k spfKey, e spfEntry, ok bool) SPFResult {
	if ok && sameAnswers(ctx, r, e.lookups) {
		sm.hits.Add(1)
		return e.res
	}
	ip, helo, mailFrom := k.ip, k.helo, k.mailFrom
	rec := &recorder{r: r}
	res := checkSPF(ctx, rec, ip, helo, mailFrom)
	if rec.temporary || res.Result == authres.ResultTempError || rec.size > maxKeptAnswers {
		return res
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if len(sm.m) >= sm.max {
		n := sm.max / 10
		for mk := range sm.m {
			if n <= 0 {
				break
			}
			delete(sm.m, mk)
			n--
		}
	}
	sm.m[k] = spfEntry{res: res, lookups: rec.lookups}
	return res
}

// sameAnswers asks the lookups' questions again, in order, and reports
// whether every answer is the one recorded.
func sameAnswers(ctx context.Context, r guard, lookups []dnsLookup) bool {
	for _, l := range lookups {
		var a string
		var ok bool
		switch l.kind {
		case lookupTXT:
			txt, err := r.LookupTXT(ctx, l.name)
			a, ok = answerText(txt, err)
		case lookupMX:
			mx, err := r.LookupMX(ctx, l.name)
			a, ok = answerMX(mx, err)
		case lookupIP:
			ips, err := r.LookupIPAddr(ctx, l.name)
			a, ok = answerIPs(ips, err)
		case lookupAddr:
			names, err := r.LookupAddr(ctx, l.name)
			a, ok = answerText(names, err)
		}
		if !ok || a != l.answer {
			return false
		}
	}
	return true
}

// recorder is the resolver an evaluation gets: guard, with each question
// and answer recorded.
type recorder struct {
	r         guard
	lookups   []dnsLookup
	temporary bool // some answer could not be had, or was not understood
	size      int  // the recorded names' and answers' bytes
}

var _ spf.DNSResolver = (*recorder)(nil)

func (rc *recorder) note(kind lookupKind, name, answer string, ok bool) {
	if !ok {
		rc.temporary = true
		return
	}
	rc.size += len(name) + len(answer)
	if rc.size > maxKeptAnswers {
		return // not kept anyway
	}
	rc.lookups = append(rc.lookups, dnsLookup{kind, name, answer})
}

func (rc *recorder) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := rc.r.LookupTXT(ctx, name)
	a, ok := answerText(txt, err)
	rc.note(lookupTXT, name, a, ok)
	return txt, err
}

func (rc *recorder) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx, err := rc.r.LookupMX(ctx, name)
	a, ok := answerMX(mx, err)
	rc.note(lookupMX, name, a, ok)
	return mx, err
}

func (rc *recorder) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := rc.r.LookupIPAddr(ctx, host)
	a, ok := answerIPs(ips, err)
	rc.note(lookupIP, host, a, ok)
	return ips, err
}

func (rc *recorder) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, err := rc.r.LookupAddr(ctx, addr)
	a, ok := answerText(names, err)
	rc.note(lookupAddr, addr, a, ok)
	return names, err
}

// notFoundAnswer stands for "no such name or records", which the Resolver
// gives as a *net.DNSError with IsNotFound. It cannot be a record's text:
// records are joined and prefixed by their count.
const notFoundAnswer = "-"

// answerErr gives the form of an error answer; ok is false for any error
// but "not found" (a temporary failure, or one not understood).
func answerErr(err error) (string, bool) {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound && !de.IsTemporary {
		return notFoundAnswer, true
	}
	return "", false
}

func answerText(ss []string, err error) (string, bool) {
	if err != nil {
		return answerErr(err)
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(ss)))
	for _, s := range ss {
		b.WriteByte(0)
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String(), true
}

func answerMX(mx []*net.MX, err error) (string, bool) {
	if err != nil {
		return answerErr(err)
	}
	ss := make([]string, len(mx))
	for i, m := range mx {
		ss[i] = strconv.Itoa(int(m.Pref)) + " " + m.Host
	}
	return answerText(ss, nil)
}

func answerIPs(ips []net.IPAddr, err error) (string, bool) {
	if err != nil {
		return answerErr(err)
	}
	ss := make([]string, len(ips))
	for i, ip := range ips {
		ss[i] = ip.String()
	}
	return answerText(ss, nil)
}
