package mailauth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
)

// TestSPFMemo: a kept result is given again while the DNS answers the same
// (shown by a marker planted in the kept result), and a change to any
// record its evaluation read (the sender's, an included one, an address
// its a: mechanism named) applies at the next check.
func TestSPFMemo(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.Add(t,
		txt("memo.example", "v=spf1 include:inc.memo.example a:host.memo.example -all"),
		txt("inc.memo.example", "v=spf1 ip4:192.0.2.50 -all"),
		"host.memo.example. 300 IN A 192.0.2.10",
	)
	m := newSPFMemo(100)
	g := guard{w.c.o.Resolver}
	ctx := context.Background()
	check := func() SPFResult { return m.check(ctx, g, client, "helo.example", "someone@memo.example") }

	if r := check(); r.Result != authres.ResultPass {
		t.Fatalf("first check: %+v, want pass", r)
	}
	k := spfKey{client, "helo.example", "someone@memo.example"}
	e, ok := m.m[k]
	if !ok || len(e.lookups) != 3 {
		t.Fatalf("kept %v with %d lookups, want 3 (TXT, included TXT, A)", ok, len(e.lookups))
	}
	marker := errors.Str("from the memo")
	e.res.Err = marker
	m.m[k] = e
	if r := check(); r.Err != marker {
		t.Fatalf("second check with the same answers: %+v, want the kept result", r)
	}

	// The a: host moves away: fail (the include does not match either).
	w.dns.Remove("host.memo.example", dns.TypeA)
	w.dns.Add(t, "host.memo.example. 300 IN A 192.0.2.11")
	if r := check(); r.Result != authres.ResultFail || r.Err == marker {
		t.Fatalf("after the A record changed: %+v, want fail", r)
	}
	// The included record now names the client: pass again.
	w.dns.Remove("inc.memo.example", dns.TypeTXT)
	w.dns.Add(t, txt("inc.memo.example", "v=spf1 ip4:192.0.2.10 -all"))
	if r := check(); r.Result != authres.ResultPass {
		t.Fatalf("after the included record changed: %+v, want pass", r)
	}
	// Another client address is another key.
	if r := m.check(ctx, g, netip.MustParseAddr("192.0.2.77"), "helo.example", "someone@memo.example"); r.Result != authres.ResultFail {
		t.Fatalf("other client: %+v, want fail", r)
	}
}

// TestSPFMemoTemporary: a result that met a temporary DNS failure is not
// kept, so the next message asks again.
func TestSPFMemoTemporary(t *testing.T) {
	w := newWorld(t, nil)
	m := newSPFMemo(100)
	r := m.check(context.Background(), guard{w.c.o.Resolver}, client, "helo.example", "a@spf-temp.example")
	if r.Result != authres.ResultTempError {
		t.Fatalf("got %+v, want temperror", r)
	}
	if len(m.m) != 0 {
		t.Fatalf("kept %d results after a temporary failure", len(m.m))
	}
	// A failure deeper down (an included domain) is not kept either.
	w.dns.Add(t, txt("incl-temp.example", "v=spf1 include:spf-temp.example ip4:192.0.2.10 -all"))
	m.check(context.Background(), guard{w.c.o.Resolver}, client, "helo.example", "a@incl-temp.example")
	if len(m.m) != 0 {
		t.Fatalf("kept a result whose include met SERVFAIL")
	}
}

// TestSPFMemoOracle: over random records and random changes between
// checks, the memo always gives what a fresh evaluation gives.
func TestSPFMemoOracle(t *testing.T) {
	w := newWorld(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	g := guard{w.c.o.Resolver}
	m := newSPFMemo(8) // small: eviction runs too
	ctx := context.Background()
	names := []string{"o1.example", "o2.example", "o3.example"}
	hosts := []string{"h1.o.example", "h2.o.example"}
	mechs := []string{"ip4:192.0.2.10", "ip4:192.0.2.0/30", "ip4:198.51.100.1", "a:h1.o.example", "a:h2.o.example",
		"mx:o2.example", "include:o2.example", "include:o3.example", "exists:h1.o.example", "?all", "~all", "-all", "+all",
		"include:spf-temp.example", "redirect=o3.example"}
	randomRecord := func() string {
		rec := "v=spf1"
		for range 1 + rng.IntN(3) {
			rec += " " + mechs[rng.IntN(len(mechs))]
		}
		return rec
	}
	change := func() {
		switch rng.IntN(4) {
		case 0, 1:
			n := names[rng.IntN(len(names))]
			w.dns.Remove(n, dns.TypeTXT)
			if rng.IntN(5) > 0 {
				w.dns.Add(t, txt(n, randomRecord()))
			}
		case 2:
			h := hosts[rng.IntN(len(hosts))]
			w.dns.Remove(h, dns.TypeA)
			w.dns.Add(t, fmt.Sprintf("%s. 300 IN A 192.0.2.%d", h, 9+rng.IntN(3)))
		case 3:
			w.dns.Remove("o2.example", dns.TypeMX)
			w.dns.Add(t, fmt.Sprintf("o2.example. 300 IN MX 10 %s.", hosts[rng.IntN(len(hosts))]))
		}
	}
	for range 3 {
		change()
	}
	clients := []netip.Addr{client, netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("198.51.100.1")}
	for i := range 300 {
		if rng.IntN(3) == 0 {
			change()
		}
		ip := clients[rng.IntN(len(clients))]
		from := "x@" + names[rng.IntN(len(names))]
		got := m.check(ctx, g, ip, "helo.example", from)
		want := checkSPF(ctx, g, ip, "helo.example", from)
		if got.Result != want.Result || got.Domain != want.Domain || fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
			t.Fatalf("check %d (%v, %s): memo %+v, fresh %+v", i, ip, from, got, want)
		}
	}
	if h := m.hits.Load(); h < 50 {
		t.Fatalf("the memo gave only %d of 300 results: the oracle hardly tested it", h)
	}
	t.Logf("%d of 300 results from the memo", m.hits.Load())
}

// TestSPFMemoConcurrent: checks from many connections at once share the
// memo safely (run with -race) and agree.
func TestSPFMemoConcurrent(t *testing.T) {
	w := newWorld(t, nil)
	m := newSPFMemo(4) // small: evictions race with lookups too
	g := guard{w.c.o.Resolver}
	senders := []string{"a@spf-pass.example", "b@spf-fail.example", "c@spf-soft.example", "d@helo.example", "e@spf-neutral.example"}
	want := make([]authres.ResultValue, len(senders))
	for i, s := range senders {
		want[i] = checkSPF(context.Background(), g, client, "helo.example", s).Result
	}
	var wg sync.WaitGroup
	for n := range 8 {
		wg.Go(func() {
			for i := range 40 {
				k := (n + i) % len(senders)
				if got := m.check(context.Background(), g, client, "helo.example", senders[k]); got.Result != want[k] {
					t.Errorf("%s: %s, want %s", senders[k], got.Result, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
	if m.hits.Load() == 0 {
		t.Error("no result came from the memo")
	}
}

// TestRunSPFKept: a Run whose envelope the memo knows starts no SPF
// goroutine and confirms the kept result when the data ends, so a record
// changed meanwhile still counts.
func TestRunSPFKept(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.Add(t, txt("kept.example", "v=spf1 ip4:192.0.2.10 -all"))
	env := Envelope{IP: client, Helo: "helo.example", MailFrom: "a@kept.example"}
	msg := message("From: a@kept.example", "To: b@ours.example")
	if r := runChunks(w.c, env, msg, 7); r.SPF.Result != authres.ResultPass {
		t.Fatalf("first message: spf %s, want pass", r.SPF.Result)
	}
	run := w.c.Begin(context.Background(), env)
	if run.spfKept == nil || run.spfDone != nil {
		t.Fatal("the second message's SPF was evaluated again, not taken from the memo")
	}
	w.dns.Remove("kept.example", dns.TypeTXT)
	w.dns.Add(t, txt("kept.example", "v=spf1 -all"))
	h, body := splitHeader(msg)
	run.Header(h)
	run.Write(body)
	if r := run.Finish(); r.SPF.Result != authres.ResultFail {
		t.Fatalf("record changed during the data: spf %s, want fail", r.SPF.Result)
	}
	if r := runChunks(w.c, env, msg, 7); r.SPF.Result != authres.ResultFail {
		t.Fatalf("next message: spf %s, want fail", r.SPF.Result)
	}
}

// TestSPFMemoLargeAnswers: a result drawn from large records is not kept
// (the memo's memory stays bounded by maxKeptAnswers an entry).
func TestSPFMemoLargeAnswers(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.AddTXT("large.example", 300, "v=spf1 ip4:192.0.2.10 "+strings.Repeat("ip4:198.51.100.1 ", 200)+"-all")
	m := newSPFMemo(100)
	r := m.check(context.Background(), guard{w.c.o.Resolver}, client, "helo.example", "a@large.example")
	if r.Result != authres.ResultPass {
		t.Fatalf("got %+v, want pass", r)
	}
	if len(m.m) != 0 {
		t.Fatal("a result from a record over maxKeptAnswers was kept")
	}
	m.check(context.Background(), guard{w.c.o.Resolver}, client, "helo.example", "a@spf-pass.example")
	if len(m.m) != 1 {
		t.Fatal("an ordinary result was not kept")
	}
}
