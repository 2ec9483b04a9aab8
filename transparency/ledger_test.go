package transparency

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/journal"
	"github.com/sealpost/sealpost/tlog"
	fmtlog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type fixture struct {
	dir        string
	skey       string
	log        *tlog.Log
	blinder    *Blinder
	legal      *journal.Memory
	opts       LedgerOptions
	now        time.Time
	canaryVKey string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	skey, _, err := tlog.NewKey("test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	b, err := NewBlinder(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: t.TempDir(), skey: skey, blinder: b, legal: &journal.Memory{}, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	csk, cvk, err := note.GenerateKey(rand.Reader, "test.example/canary")
	f.canaryVKey = cvk
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(csk)
	if err != nil {
		t.Fatal(err)
	}
	f.opts = LedgerOptions{
		Blinder:     b,
		Withholding: Withholding{Instruments: []string{"national_security_request"}},
		Sources:     map[string]sealpost.EventSource{SourceLegal: f.legal},
		Canary:      CanaryOptions{Signer: signer, Issuer: "test.example", Every: 24 * time.Hour, LapseOn: []string{"national_security_request"}},
		Now:         func() time.Time { return f.now },
	}
	return f
}

func (f *fixture) open(t *testing.T) *Ledger {
	t.Helper()
	lg, err := tlog.Open(filepath.Join(f.dir, "log"), f.skey, tlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.log = lg
	o := f.opts
	o.Log = lg
	l, err := OpenLedger(filepath.Join(f.dir, "index"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); lg.Close() })
	return l
}

func (f *fixture) close(t *testing.T, l *Ledger) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.log.Close(); err != nil {
		t.Fatal(err)
	}
}

func decided(addr, demand, decision, gagUntil string, at time.Time) sealpost.Event {
	d := map[string]string{"demand": demand, "authority": "Secret Unit 7", "country": "US", "instrument": "search_warrant",
		"received": at.Format(time.DateOnly), "decision": decision}
	if gagUntil != "" {
		d["nondisclosure_until"] = gagUntil
	}
	return sealpost.Event{Time: at, Kind: sealpost.EventDemandDecided, Account: addr, Actor: "policy", Detail: d}
}

// verifyOwned checks every owned entry independently of tlog: the
// checkpoint's signature, the inclusion proof with transparency-dev/merkle,
// and the subject with the owner's secret.
func verifyOwned(t *testing.T, c Checked, secret []byte) {
	t.Helper()
	v, err := note.NewVerifier(c.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(c.Checkpoint, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	var cp fmtlog.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		t.Fatal(err)
	}
	for _, o := range c.Entries {
		var hashes [][]byte
		for _, h := range o.Proof {
			hashes = append(hashes, h[:])
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(o.Data)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, o.Index, cp.Size, leaf, hashes, cp.Hash); err != nil {
			t.Errorf("entry %d: inclusion: %v", o.Index, err)
		}
		if !Mine(o.Entry, secret, o.Salt) {
			t.Errorf("entry %d: subject does not match the owner's secret", o.Index)
		}
	}
}

func TestLedgerPublishesOnceBlindedAndProves(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	at := f.now.Add(-time.Hour)
	f.legal.Add(sealpost.Event{Time: at, Kind: sealpost.EventDemandFiled, Actor: "officer-a", Detail: map[string]string{"demand": "D-2026-000001", "authority": "Secret Unit 7", "country": "US", "instrument": "search_warrant", "targets": "2"}})
	f.legal.Add(decided("alice@demo.example", "D-2026-000001", "reject_out_of_jurisdiction", "", at))
	f.legal.Add(decided("bob@demo.example", "D-2026-000001", "eligible", "", at))
	n, err := l.Sync(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Sync = %d, %v; want 3", n, err)
	}
	if n, err := l.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("second Sync = %d, %v; want 0", n, err)
	}
	if f.log.Size() != 3 {
		t.Fatalf("log size %d, want 3", f.log.Size())
	}
	// Nothing in the log names anyone, or an authority, or an officer.
	for i := uint64(0); i < 3; i++ {
		data, _ := f.log.Entry(ctx, i)
		for _, secret := range []string{"alice", "bob", "Secret Unit", "officer-a"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("entry %d names %q: %s", i, secret, data)
			}
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	alice := l.AccountSecret("Alice@Demo.Example")
	c, err := l.Owned(ctx, "alice@demo.example", f.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) != 1 || c.Entries[0].Entry.Detail["decision"] != "reject_out_of_jurisdiction" {
		t.Fatalf("alice owns %+v", c.Entries)
	}
	verifyOwned(t, c, alice)
	// Bob's entry is not recognised with Alice's secret.
	bob, _ := f.log.Entry(ctx, 2)
	be, _ := Parse(bob)
	if Mine(be, alice, "") {
		t.Error("bob's entry matches alice's secret")
	}
	// Scanning the whole log with the secret finds exactly Alice's entry.
	var found []uint64
	for i := uint64(0); i < f.log.Size(); i++ {
		data, _ := f.log.Entry(ctx, i)
		e, _ := Parse(data)
		if Mine(e, alice, "") {
			found = append(found, i)
		}
	}
	if len(found) != 1 || found[0] != c.Entries[0].Index {
		t.Errorf("scan found %v, index says %d", found, c.Entries[0].Index)
	}
}

func TestLedgerGagCoversThenReveals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	at := f.now.Add(-time.Hour)
	f.legal.Add(decided("alice@demo.example", "D-2026-000002", "reject_out_of_jurisdiction", "2027-01-01", at))
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	data, _ := f.log.Entry(ctx, 0)
	e, _ := Parse(data)
	if e.Salt != "" || e.Subject == "" {
		t.Fatalf("covered entry publishes salt %q subject %q", e.Salt, e.Subject)
	}
	if Mine(e, l.AccountSecret("alice@demo.example"), "") {
		t.Fatal("a covered entry is recognisable without its salt")
	}
	c, _ := l.Owned(ctx, "alice@demo.example", f.now)
	if len(c.Entries) != 0 {
		t.Fatalf("owner sees a covered entry: %+v", c.Entries)
	}
	// The order lapses: the owner sees it (before any notice), and the
	// notice's entry reveals the salt to everyone.
	lapsed := time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	c, _ = l.Owned(ctx, "alice@demo.example", lapsed)
	if len(c.Entries) != 1 {
		t.Fatalf("after the lapse the owner sees %d entries, want 1", len(c.Entries))
	}
	verifyOwned(t, c, l.AccountSecret("alice@demo.example"))
	f.legal.Add(sealpost.Event{Time: lapsed, Kind: sealpost.EventNoticeSent, Account: "alice@demo.example", Actor: "system",
		Detail: map[string]string{"demand": "D-2026-000002", "country": "US", "instrument": "search_warrant", "nondisclosure_until": "2027-01-01"}})
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	data, _ = f.log.Entry(ctx, 1)
	notice, _ := Parse(data)
	if len(notice.Reveals) != 1 || notice.Reveals[0].Index != 0 {
		t.Fatalf("notice reveals %+v", notice.Reveals)
	}
	if !Mine(e, l.AccountSecret("alice@demo.example"), notice.Reveals[0].Salt) {
		t.Error("the revealed salt does not recognise the covered entry")
	}
	if notice.Salt == "" {
		t.Error("the notice itself is covered after the lapse")
	}
}

func TestLedgerWithholdsAndLapsesCanary(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	if ok, err := l.RefreshCanary(ctx); !ok || err != nil {
		t.Fatalf("first canary: %v %v", ok, err)
	}
	st, lapsed := l.Canary()
	if lapsed || !bytes.Contains(st, []byte("has received no national security request")) {
		t.Fatalf("canary lapsed=%v:\n%s", lapsed, st)
	}
	v, _ := note.NewVerifier(f.canaryVKey)
	if _, err := note.Open(st, note.VerifierList(v)); err != nil {
		t.Fatalf("canary signature: %v", err)
	}
	// Not renewed before half its validity.
	f.now = f.now.Add(6 * time.Hour)
	if ok, _ := l.RefreshCanary(ctx); ok {
		t.Error("renewed after 6 h of 24")
	}
	f.legal.Add(sealpost.Event{Time: f.now, Kind: sealpost.EventDemandFiled, Actor: "officer-a",
		Detail: map[string]string{"demand": "D-2026-000003", "country": "US", "instrument": "national_security_request"}})
	ns := decided("alice@demo.example", "D-2026-000003", "needs_review", "", f.now)
	ns.Detail["instrument"] = "national_security_request"
	f.legal.Add(ns)
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i < 3; i++ {
		data, _ := f.log.Entry(ctx, i)
		e, _ := Parse(data)
		if e.Kind != KindWithheld || e.Commit == "" || e.Detail != nil || e.Subject != "" || strings.Contains(e.Time, "T") {
			t.Errorf("entry %d is not withheld: %s", i, data)
		}
	}
	if c, _ := l.Owned(ctx, "alice@demo.example", f.now.Add(1000*24*time.Hour)); len(c.Entries) != 0 {
		t.Error("a withheld entry is shown to its owner")
	}
	// The canary is not renewed again, and lapses when it expires.
	f.now = f.now.Add(19 * time.Hour) // 25 h after the statement
	if ok, err := l.RefreshCanary(ctx); ok || err != nil {
		t.Errorf("renewed after a national-security request: %v %v", ok, err)
	}
	if _, lapsed := l.Canary(); !lapsed {
		t.Error("canary not lapsed 25 h after its last statement")
	}
}

func TestLedgerCatchesUpAfterCrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	for i := 0; i < 5; i++ {
		f.legal.Add(decided("alice@demo.example", "D-2026-00000"+string(rune('1'+i)), "eligible", "", f.now))
	}
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A crash after the log made an entry durable but before the index
	// recorded it: append the next event's entry by hand.
	seq := f.legal.Add(decided("alice@demo.example", "D-2026-000009", "eligible", "", f.now))
	evs, _ := f.legal.Events(ctx, seq-1, 1)
	pub, _ := f.blinder.Build(SourceLegal, seq, evs[0].Event, f.opts.Withholding, nil)
	if _, err := f.log.Append(ctx, pub.Marshal()); err != nil {
		t.Fatal(err)
	}
	// Without a restart too (an index transaction that failed after the
	// append): the next Sync indexes the entry instead of publishing the
	// event again.
	if n, err := l.Sync(ctx); err != nil || n != 0 || f.log.Size() != 6 {
		t.Fatalf("Sync after a failed index = %d, %v, log size %d: the event was published twice", n, err, f.log.Size())
	}
	seq = f.legal.Add(decided("alice@demo.example", "D-2026-000010", "eligible", "", f.now))
	evs, _ = f.legal.Events(ctx, seq-1, 1)
	pub, _ = f.blinder.Build(SourceLegal, seq, evs[0].Event, f.opts.Withholding, nil)
	if _, err := f.log.Append(ctx, pub.Marshal()); err != nil {
		t.Fatal(err)
	}
	f.close(t, l)
	l = f.open(t)
	if n, err := l.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("Sync after the crash = %d, %v: the event was published twice", n, err)
	}
	if f.log.Size() != 7 {
		t.Fatalf("log size %d, want 7", f.log.Size())
	}
	c, err := l.Owned(ctx, "alice@demo.example", f.now)
	if err != nil || len(c.Entries) != 7 {
		t.Fatalf("owned %d, %v; want 7", len(c.Entries), err)
	}
	verifyOwned(t, c, l.AccountSecret("alice@demo.example"))
	// Losing the whole index loses nothing either.
	f.close(t, l)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(filepath.Join(f.dir, "index", "index.db"+suffix))
	}
	l = f.open(t)
	if n, err := l.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("Sync after losing the index = %d, %v", n, err)
	}
	if c, _ := l.Owned(ctx, "alice@demo.example", f.now); len(c.Entries) != 7 {
		t.Fatalf("owned %d after rebuilding the index, want 7", len(c.Entries))
	}
}

func TestEntryCanonical(t *testing.T) {
	b, _ := NewBlinder(bytes.Repeat([]byte{7}, KeySize))
	pub, _ := b.Build(SourceLegal, 4, decided("a@b.example", "D-1", "eligible", "", time.Unix(1e9, 5)), Withholding{}, nil)
	data := pub.Marshal()
	e, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Marshal(), data) {
		t.Error("round trip changed the entry")
	}
	for _, bad := range []string{
		strings.Replace(string(data), `"v":1`, `"v":2`, 1),
		strings.Replace(string(data), `{"v":1,`, `{"v":1, `, 1),
		strings.Replace(string(data), `}`, `,"x":1}`, 1),
		string(data) + "{}",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse accepted %s", bad)
		}
	}
	if hex.EncodeToString(b.Salt(SourceLegal, 4)) != e.Salt {
		t.Error("salt is not the derived one")
	}
}

// TestLedgerRevealInOneSync: a covered entry and the notice that reveals it
// published by the same Sync.
func TestLedgerRevealInOneSync(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	at := f.now.Add(-time.Hour)
	for i := 0; i < 300; i++ { // more than a source batch before the notice
		f.legal.Add(decided("bob@demo.example", "D-2026-000100", "eligible", "", at))
	}
	f.legal.Add(decided("carol@demo.example", "D-2026-000101", "eligible", "2026-11-22", at.Add(-24*time.Hour)))
	f.legal.Add(sealpost.Event{Time: f.now, Kind: sealpost.EventNoticeSent, Account: "carol@demo.example", Actor: "system",
		Detail: map[string]string{"demand": "D-2026-000101", "nondisclosure_until": "2026-11-22"}})
	if n, err := l.Sync(ctx); err != nil || n != 302 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	data, _ := f.log.Entry(ctx, 301)
	notice, _ := Parse(data)
	if len(notice.Reveals) != 1 || notice.Reveals[0].Index != 300 {
		t.Fatalf("notice reveals %+v, want entry 300", notice.Reveals)
	}
	covered, _ := f.log.Entry(ctx, 300)
	ce, _ := Parse(covered)
	if ce.Salt != "" || !Mine(ce, l.AccountSecret("carol@demo.example"), notice.Reveals[0].Salt) {
		t.Errorf("entry 300 %s is not carol's covered entry", covered)
	}
}

// BenchmarkLedgerSync measures events published per second end to end:
// entry built and blinded, appended durably, indexed.
func BenchmarkLedgerSync(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	lg, err := tlog.Open(filepath.Join(f.dir, "log"), f.skey, tlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer lg.Close()
	o := f.opts
	o.Log = lg
	l, err := OpenLedger(filepath.Join(f.dir, "index"), o)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < b.N; i++ {
		addr := "user" + strconv.Itoa(i%1000) + "@demo.example"
		f.legal.Add(decided(addr, "D-2026-"+strconv.Itoa(i/4), "eligible", "", f.now))
	}
	b.ResetTimer()
	if n, err := l.Sync(ctx); err != nil || n != b.N {
		b.Fatalf("Sync = %d, %v", n, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestLedgerOpensWithheld: a national-security request's entries are
// withheld while its order runs; the notice sent when it lapses is
// published in full and opens them, and anyone can check each opening
// against its commitment.
func TestLedgerOpensWithheld(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.open(t)
	ns := func(kind sealpost.EventKind, account string, at time.Time, more map[string]string) sealpost.Event {
		d := map[string]string{"demand": "D-2026-000042", "country": "US", "instrument": "national_security_request", "nondisclosure_until": "2027-01-01"}
		for k, v := range more {
			d[k] = v
		}
		return sealpost.Event{Time: at, Kind: kind, Account: account, Actor: "policy", Detail: d}
	}
	f.legal.Add(ns(sealpost.EventDemandFiled, "", f.now, map[string]string{"targets": "1"}))
	f.legal.Add(ns(sealpost.EventDemandDecided, "alice@demo.example", f.now, map[string]string{"decision": "needs_review"}))
	f.legal.Add(ns(sealpost.EventNoticeQueued, "alice@demo.example", f.now, nil))
	lapsed := time.Date(2027, 1, 2, 9, 0, 0, 0, time.UTC)
	f.legal.Add(ns(sealpost.EventNoticeSent, "alice@demo.example", lapsed, nil))
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var withheld []Entry
	for i := uint64(0); i < 3; i++ {
		data, _ := f.log.Entry(ctx, i)
		e, err := Parse(data)
		if err != nil || e.Kind != KindWithheld {
			t.Fatalf("entry %d: %s, %v; want withheld", i, data, err)
		}
		withheld = append(withheld, e)
	}
	data, _ := f.log.Entry(ctx, 3)
	notice, err := Parse(data)
	if err != nil || notice.Kind != sealpost.EventNoticeSent || len(notice.Opens) != 3 {
		t.Fatalf("the notice after the lapse: %s, %v", data, err)
	}
	alice := l.AccountSecret("alice@demo.example")
	for k, o := range notice.Opens {
		if o.Index != uint64(k) || !o.Check(withheld[k]) {
			t.Errorf("opening %d (index %d) does not open its commitment", k, o.Index)
		}
		full, _ := Parse([]byte(o.Entry))
		if full.Kind == sealpost.EventDemandDecided && !Mine(full, alice, o.Salt) {
			t.Error("the opened decision is not recognisable as alice's")
		}
		// A changed opening does not check.
		bad := o
		bad.Entry = strings.Replace(o.Entry, "national_security_request", "subpoena", 1)
		if bad.Check(withheld[k]) {
			t.Errorf("a forged opening of %d checks", k)
		}
	}
	if !Mine(notice, alice, "") {
		t.Error("the notice after the lapse is not alice's")
	}
	// Openings are made once.
	f.legal.Add(ns(sealpost.EventNoticeSent, "alice@demo.example", lapsed, nil))
	l.Sync(ctx)
	data, _ = f.log.Entry(ctx, 4)
	if again, _ := Parse(data); len(again.Opens) != 0 {
		t.Errorf("the openings were published twice: %s", data)
	}
}
