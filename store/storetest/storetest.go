// Package storetest is the conformance suite for sealpost.Store. Every
// implementation (store/sqlite, store/postgres, and store/guard over
// either) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: ..., Reopen: ...})
//	}
//
// The suite uses only the interface and the error kinds (errors.Is) its doc
// comments promise; it assumes no particular database. Where the contract is
// silent (say, Keys of an unknown account) the suite accepts any sensible
// answer and says so. Times are compared at one-second precision, so an
// implementation may store them as coarsely as IMAP needs.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Harness is what the suite needs of an implementation beyond the
// interface. Only Open is required; the tests that need a hook that is not
// set do not run (an implementation over another store, such as the guard,
// leaves them to the store it wraps).
type Harness struct {
	// Open returns a new, empty store. It is called once per subtest
	// (twice by those that move an account from one store to another) and
	// should close the store with t.Cleanup.
	Open func(t *testing.T) sealpost.Store
	// Reopen closes s and opens its storage again, as the next process
	// would. The persistence tests need it.
	Reopen func(t *testing.T, s sealpost.Store) sealpost.Store
	// Orphan writes into s, behind its back (as a hand edit with foreign
	// keys off would), rows that belong to no account: mailbox 700
	// ("INBOX", \Inbox, UIDVALIDITY 5, UIDNEXT 2, HIGHESTMODSEQ 2) and key
	// 400 (active) and Sieve script "lost" (active) of the missing account
	// 3; message 900 (UID 1, blob
	// "lost-blob", key 0) in the missing mailbox 2000; message 901 (UID 1,
	// blob "stray-blob", key 400) in mailbox 700. The orphans test needs it.
	Orphan func(t *testing.T, s sealpost.Store)
}

// ByName is the Harness of a store opened by a name (a file path, a DSN):
// open makes a new store (closed with t.Cleanup) and returns its name,
// reopen opens the named storage again, and orphan, if not nil, writes the
// orphans test's rows into the named storage behind the store's back.
func ByName(open func(t *testing.T) (sealpost.Store, string), reopen func(name string) (sealpost.Store, error),
	orphan func(t *testing.T, name string)) Harness {
	var mu sync.Mutex
	names := map[sealpost.Store]string{}
	name := func(s sealpost.Store) string {
		mu.Lock()
		defer mu.Unlock()
		return names[s]
	}
	h := Harness{
		Open: func(t *testing.T) sealpost.Store {
			s, n := open(t)
			mu.Lock()
			names[s] = n
			mu.Unlock()
			return s
		},
		Reopen: func(t *testing.T, s sealpost.Store) sealpost.Store {
			n := name(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := reopen(n)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			return s2
		},
	}
	if orphan != nil {
		h.Orphan = func(t *testing.T, s sealpost.Store) { orphan(t, name(s)) }
	}
	return h
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests},
		{"Mailboxes", mailboxTests},
		{"Messages", messageTests},
		{"Vanished", vanishedTests},
		{"Queue", queueTests},
		{"Region", regionTests},
		{"Quota", quotaTests},
		{"Objects", objectTests(h)},
		{"Persistence", persistenceTests(h)},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.fn(t, &env{t: t, s: h.Open(t), h: h})
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, e *env)
}

// env is one subtest's store with helpers that fail the test on error.
type env struct {
	t *testing.T
	s sealpost.Store
	h Harness
}

// another returns an env on a second new, empty store, for the subtests
// that move an account between stores (regions).
func (e *env) another() *env {
	e.t.Helper()
	return &env{t: e.t, s: e.h.Open(e.t), h: e.h}
}

var ctx = context.Background()

// blobSeq numbers fake blob refs; refs look like blob/fs's.
var blobSeq atomic.Int64

func newBlob() sealpost.BlobRef {
	return sealpost.BlobRef(fmt.Sprintf("%032x", blobSeq.Add(1)))
}

// date is a fixed internal date with whole seconds.
var date = time.Date(2025, time.March, 4, 5, 6, 7, 0, time.UTC)

// wantKind fails the test unless err is of the given kind.
func wantKind(t *testing.T, err error, kind errors.Kind, what string) {
	t.Helper()
	if !errors.Is(kind, err) {
		t.Fatalf("%s: got error %v, want kind %q", what, err, kind)
	}
}

// wantNotExistOrEmpty accepts either answer to a listing of something gone,
// where the contract does not choose.
func wantNotExistOrEmpty[T any](t *testing.T, list []T, err error, what string) {
	t.Helper()
	if err != nil && !errors.Is(errors.NotExist, err) {
		t.Fatalf("%s: got error %v, want none or NotExist", what, err)
	}
	if err == nil && len(list) != 0 {
		t.Fatalf("%s: got %d items, want none", what, len(list))
	}
}

func (e *env) domain(d string) {
	e.t.Helper()
	if err := e.s.AddDomain(ctx, d); err != nil && !errors.Is(errors.Exist, err) {
		e.t.Fatalf("AddDomain(%s): %v", d, err)
	}
}

func testKey(tag string) sealpost.Key {
	return sealpost.Key{
		PublicKey:         []byte("public " + tag),
		WrappedByPassword: []byte("wrapped by password " + tag),
		WrappedByRecovery: []byte("wrapped by recovery " + tag),
		Active:            true,
	}
}

// account creates an account (and its domain if needed).
func (e *env) account(addr string) sealpost.Account {
	e.t.Helper()
	e.domain(sealpost.DomainOf(addr))
	a, err := e.s.CreateAccount(ctx, sealpost.Account{Address: addr, PasswordVerifier: []byte("verifier " + addr)}, testKey(addr))
	if err != nil {
		e.t.Fatalf("CreateAccount(%s): %v", addr, err)
	}
	return a
}

func (e *env) mailbox(acct sealpost.AccountID, name string) sealpost.Mailbox {
	e.t.Helper()
	m, err := e.s.MailboxByName(ctx, acct, name)
	if err != nil {
		e.t.Fatalf("MailboxByName(%d, %q): %v", acct, name, err)
	}
	return m
}

func (e *env) create(acct sealpost.AccountID, name string) sealpost.Mailbox {
	e.t.Helper()
	m, err := e.s.CreateMailbox(ctx, acct, name, sealpost.UseNone, 0)
	if err != nil {
		e.t.Fatalf("CreateMailbox(%d, %q): %v", acct, name, err)
	}
	return m
}

// newMsg is a message for mb with a fresh blob.
func newMsg(mb sealpost.MailboxID, flags ...sealpost.Flag) sealpost.NewMessage {
	return sealpost.NewMessage{
		Mailbox:      mb,
		Flags:        flags,
		InternalDate: date,
		Size:         1234,
		Blob:         newBlob(),
		Key:          1,
	}
}

func (e *env) add(msgs ...sealpost.NewMessage) []sealpost.Message {
	e.t.Helper()
	out, err := e.s.AddMessages(ctx, msgs)
	if err != nil {
		e.t.Fatalf("AddMessages: %v", err)
	}
	if len(out) != len(msgs) {
		e.t.Fatalf("AddMessages returned %d messages for %d", len(out), len(msgs))
	}
	return out
}

func (e *env) messages(mb sealpost.MailboxID) []sealpost.Message {
	e.t.Helper()
	out, err := e.s.Messages(ctx, mb, 0)
	if err != nil {
		e.t.Fatalf("Messages(%d): %v", mb, err)
	}
	return out
}

// gone returns the ID of a mailbox that existed and no longer does.
func (e *env) goneMailbox(acct sealpost.AccountID) sealpost.MailboxID {
	e.t.Helper()
	m := e.create(acct, fmt.Sprintf("gone-%d", blobSeq.Add(1)))
	if _, err := e.s.DeleteMailbox(ctx, m.ID); err != nil {
		e.t.Fatalf("DeleteMailbox: %v", err)
	}
	return m.ID
}

func uids(msgs []sealpost.Message) []sealpost.UID {
	out := make([]sealpost.UID, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	return out
}

// sameMessage reports how got differs from want, or "".
func sameMessage(got, want sealpost.Message) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID %d, want %d", got.ID, want.ID)
	case got.Mailbox != want.Mailbox:
		return fmt.Sprintf("Mailbox %d, want %d", got.Mailbox, want.Mailbox)
	case got.UID != want.UID:
		return fmt.Sprintf("UID %d, want %d", got.UID, want.UID)
	case !slices.Equal(got.Flags, want.Flags):
		return fmt.Sprintf("Flags %q, want %q", got.Flags, want.Flags)
	case !got.InternalDate.Equal(want.InternalDate):
		return fmt.Sprintf("InternalDate %v, want %v", got.InternalDate, want.InternalDate)
	case got.Size != want.Size:
		return fmt.Sprintf("Size %d, want %d", got.Size, want.Size)
	case got.ModSeq != want.ModSeq:
		return fmt.Sprintf("ModSeq %d, want %d", got.ModSeq, want.ModSeq)
	case got.Blob != want.Blob:
		return fmt.Sprintf("Blob %q, want %q", got.Blob, want.Blob)
	case got.Key != want.Key:
		return fmt.Sprintf("Key %d, want %d", got.Key, want.Key)
	case !bytes.Equal(got.SessionKey, want.SessionKey):
		return fmt.Sprintf("SessionKey %q, want %q", got.SessionKey, want.SessionKey)
	case !got.SaveDate.Equal(want.SaveDate):
		return fmt.Sprintf("SaveDate %v, want %v", got.SaveDate, want.SaveDate)
	}
	return ""
}

func wantMessages(t *testing.T, got, want []sealpost.Message, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages (UIDs %v), want %d (UIDs %v)", what, len(got), uids(got), len(want), uids(want))
	}
	for i := range got {
		if d := sameMessage(got[i], want[i]); d != "" {
			t.Fatalf("%s: message %d: %s", what, i, d)
		}
	}
}

// sameRefs reports whether a and b hold the same refs, in any order.
func sameRefs(a, b []sealpost.BlobRef) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func wantRefs(t *testing.T, got []sealpost.BlobRef, what string, want ...sealpost.BlobRef) {
	t.Helper()
	if !sameRefs(got, want) {
		t.Fatalf("%s: got blobs %q, want %q", what, got, want)
	}
}
