package storetest

import (
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// testSaveDate: every insertion sets the message's save date to the time it
// was stored (RFC 8514), whatever its internal date: a copy gets its own,
// and the date reads back as it was returned.
func testSaveDate(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox, archive := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Archive")
	before := time.Now()
	nm := newMsg(inbox.ID)
	nm.InternalDate = date // long ago
	src := e.add(nm)
	after := time.Now()
	if s := src[0].SaveDate; s.Before(before.Truncate(time.Microsecond)) || s.After(after) {
		t.Fatalf("SaveDate %v, want between %v and %v", s, before, after)
	}
	wantMessages(t, e.messages(inbox.ID), src, "INBOX after add")

	time.Sleep(2 * time.Millisecond)
	copies, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{src[0].UID}, archive.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 1 || !copies[0].SaveDate.After(src[0].SaveDate) || !copies[0].InternalDate.Equal(date) {
		t.Fatalf("copy: %+v of %+v", copies, src)
	}
	wantMessages(t, e.messages(archive.ID), copies, "Archive after copy")
}
