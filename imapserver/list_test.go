package imapserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// addMailboxes creates n mailboxes for alice, directly in the postbox.
func addMailboxes(t testing.TB, e *testEnv, n int) {
	t.Helper()
	ctx := context.Background()
	ps, err := e.svc.Login(ctx, alice, password)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	for _, name := range pathologicalNames(n) {
		if err := ps.CreateMailbox(ctx, name, sealpost.UseNone); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListPathological is the attack of issue 12: 30-wildcard patterns over
// 5,000 mailboxes, which with go-imap's matcher kept a core busy for
// minutes. With ours each LIST answers; the connection's deadline (10 s)
// is the bound, far above what it takes (BenchmarkListPathological).
func TestListPathological(t *testing.T) {
	e := newEnv(t)
	addMailboxes(t, e, 5000)
	r := e.rawTLS()
	r.login(alice)
	r.conn.SetDeadline(time.Now().Add(10 * time.Second))
	for _, pat := range pathologicalPatterns {
		u := r.ok(`LIST "" %q`, pat)
		if len(u) != 0 {
			t.Errorf("LIST %q: %d names, want none", pat, len(u))
		}
	}
	// The same patterns, matching: every name ends in a digit.
	u := r.ok(`LIST "" %q`, strings.Repeat("*", 30)+"7")
	if len(u) != 500 {
		t.Errorf("LIST ***...7: %d names, want 500", len(u))
	}
	u = r.ok(`LSUB "" %q`, strings.Repeat("*%", 15)+"/0000%")
	if len(u) != 10 {
		t.Errorf("LSUB */0000%%: %d names, want 10", len(u))
	}
}

// TestListBounds: a pattern longer than any name could need is refused
// with a BAD that says why, and the session goes on.
func TestListBounds(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	long := strings.Repeat("*", maxPatternBytes+1)
	_, tagged := r.cmd(`LIST "" {%d+}`+"\r\n%s", len(long), long)
	if !strings.Contains(tagged, "BAD [CLIENTBUG] LIST reference and patterns are limited") {
		t.Errorf("long pattern: %q", tagged)
	}
	var pats []string
	for i := range maxPatterns + 1 {
		pats = append(pats, fmt.Sprintf("p%d", i))
	}
	_, tagged = r.cmd(`LIST "" (%s)`, strings.Join(pats, " "))
	if !strings.Contains(tagged, "BAD [CLIENTBUG]") {
		t.Errorf("%d patterns: %q", len(pats), tagged)
	}
	u := r.ok(`LIST "" (inbox sent)`)
	if len(u) != 1 || !strings.HasSuffix(u[0], " INBOX\r\n") {
		t.Errorf("after the refusals: %q", u)
	}
}

// BenchmarkListPathological measures one LIST of a 30-wildcard pattern
// over 5,000 mailboxes, end to end over a connection.
func BenchmarkListPathological(b *testing.B) {
	e := newEnv(b)
	addMailboxes(b, e, 5000)
	r := e.rawTLS()
	r.login(alice)
	pat := strings.Repeat("*", 30) + "z"
	for b.Loop() {
		r.conn.SetDeadline(time.Now().Add(time.Minute))
		r.ok(`LIST "" %q`, pat)
	}
}
