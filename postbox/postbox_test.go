package postbox_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/store/sqlite"
)

type env struct {
	svc   *postbox.Service
	store *sqlite.Store
	blobs *fs.Store
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, postbox.Options{Params: pwhash.TestParams})
}

// newEnvOpts is newEnv with options (the test Argon2id parameters set).
func newEnvOpts(t *testing.T, opts postbox.Options) *env {
	t.Helper()
	opts.Params = pwhash.TestParams
	return newEnvWith(t, opts)
}

// newEnvWith is a postbox with opts over fresh stores, with example.org.
func newEnvWith(t *testing.T, opts postbox.Options) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := postbox.New(store, blobs, opts)
	t.Cleanup(func() { svc.Close(); store.Close() })
	if err := svc.AddDomain(context.Background(), "example.org"); err != nil {
		t.Fatal(err)
	}
	return &env{svc, store, blobs, dir}
}

func (e *env) inbox(t *testing.T, sess *postbox.Session) []sealpost.Message {
	t.Helper()
	m, err := sess.Select(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Release(m)
	var out []sealpost.Message
	m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) { out = append(out, msgs...) })
	return out
}

func TestDeliverAndRead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateAccount(ctx, "Ann@Example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	raw := []byte("Subject: secret plans\r\n\r\nmeet at dawn\r\n")
	if err := e.svc.Deliver(ctx, postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}}, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox(t, sess)
	if len(msgs) != 1 || msgs[0].Size != int64(len(raw)) || msgs[0].UID != 1 {
		t.Fatalf("INBOX = %+v", msgs)
	}
	// The blob holds ciphertext, not the message.
	rc, err := e.blobs.Get(ctx, msgs[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	sealed.ReadFrom(rc)
	rc.Close()
	if bytes.Contains(sealed.Bytes(), []byte("secret plans")) || bytes.Contains(sealed.Bytes(), []byte("dawn")) {
		t.Fatal("blob contains plaintext")
	}
	got, err := sess.Body(ctx, msgs[0])
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Body = %q, %v", got, err)
	}
	// The first read cached the session key (asynchronously): after
	// Close flushes, the stored row has it, and reading with it works.
	e.svc.Close()
	stored, err := e.store.Messages(ctx, msgs[0].Mailbox, 0)
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].SessionKey == nil {
		t.Fatal("session key not cached after the first read")
	}
	got, err = sess.Body(ctx, stored[0])
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Body with cached key = %q, %v", got, err)
	}
	// A corrupted cache entry falls back to the private key.
	bad := stored[0]
	bad.SessionKey = bytes.Repeat([]byte{1}, len(bad.SessionKey))
	if got, err = sess.Body(ctx, bad); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Body with a bad cached key = %q, %v", got, err)
	}
}

func TestLoginFailures(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.CreateAccount(ctx, "ann@example.org", "ann-password")
	for _, c := range [][2]string{{"ann@example.org", "wrong-password"}, {"nobody@example.org", "ann-password"}} {
		if _, err := e.svc.Login(ctx, c[0], c[1]); !errors.Is(errors.Permission, err) {
			t.Errorf("Login(%s) = %v, want Permission", c[0], err)
		}
		if _, err := e.svc.Authenticate(ctx, c[0], c[1]); !errors.Is(errors.Permission, err) {
			t.Errorf("Authenticate(%s) = %v, want Permission", c[0], err)
		}
	}
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "other-password"); !errors.Is(errors.Exist, err) {
		t.Errorf("duplicate account: %v", err)
	}
	if _, err := e.svc.CreateAccount(ctx, "ann@elsewhere.example", "other-password"); !errors.Is(errors.NotExist, err) {
		t.Errorf("account in an unhosted domain: %v", err)
	}
	if _, err := e.svc.CreateAccount(ctx, "short@example.org", "short"); !errors.Is(errors.Invalid, err) {
		t.Errorf("short password: %v", err)
	}
}

// TestPasswordLifecycle covers passwd, the administrator's reset (old mail
// stays sealed, and says so) and the recovery code (old mail opens again).
func TestPasswordLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	code, err := e.svc.CreateAccount(ctx, "ann@example.org", "first-password")
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("Subject: before\r\n\r\nold mail\r\n")
	e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"ann@example.org"}}, postbox.Bytes(old))

	if err := e.svc.ChangePassword(ctx, "ann@example.org", "wrong-password", "second-password"); !errors.Is(errors.Permission, err) {
		t.Fatalf("ChangePassword with a wrong old password: %v", err)
	}
	if err := e.svc.ChangePassword(ctx, "ann@example.org", "first-password", "second-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.org", "first-password"); err == nil {
		t.Fatal("old password still works")
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "second-password")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := sess.Body(ctx, e.inbox(t, sess)[0]); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("after passwd: %q, %v", b, err)
	}

	res, err := e.svc.ResetPassword(ctx, "ann@example.org", "admin-set-password")
	if err != nil {
		t.Fatal(err)
	}
	if res.SealedGenerations != 1 || res.RecoveryCode == "" {
		t.Fatalf("reset result %+v", res)
	}
	newer := []byte("Subject: after\r\n\r\nnew mail\r\n")
	e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"ann@example.org"}}, postbox.Bytes(newer))
	sess, err = e.svc.Login(ctx, "ann@example.org", "admin-set-password")
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox(t, sess)
	if _, err := sess.Body(ctx, msgs[0]); !errors.Is(errors.Sealed, err) {
		t.Fatalf("old mail after an admin reset: %v, want Sealed", err)
	}
	if b, err := sess.Body(ctx, msgs[1]); err != nil || !bytes.Equal(b, newer) {
		t.Fatalf("new mail after reset: %q, %v", b, err)
	}

	if _, err := e.svc.Recover(ctx, "ann@example.org", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", "third-password"); !errors.Is(errors.Permission, err) {
		t.Fatalf("Recover with a wrong code: %v", err)
	}
	if _, err := e.svc.Recover(ctx, "ann@example.org", code, "third-password"); err != nil {
		t.Fatal(err)
	}
	sess, err = e.svc.Login(ctx, "ann@example.org", "third-password")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := sess.Body(ctx, e.inbox(t, sess)[0]); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("old mail after recovery: %q, %v", b, err)
	}
}

func TestOwnKeyAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The user's own key pair; the server only ever sees the public half.
	verifier, secret, err := seal.NewPassword("users-own-passphrase", pwhash.TestParams)
	if err != nil || verifier == nil {
		t.Fatal(err)
	}
	gen, err := seal.Generate("own@example.org", secret, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CreateOwnKeyAccount(ctx, "own@example.org", "login-password", gen.PublicKey); err != nil {
		t.Fatal(err)
	}
	raw := []byte("Subject: for your eyes\r\n\r\nonly\r\n")
	if err := e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"own@example.org"}}, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "own@example.org", "login-password")
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox(t, sess)
	b, err := sess.Body(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("multipart/encrypted")) || !bytes.Contains(b, []byte("application/pgp-encrypted")) {
		t.Fatalf("own-key mail is not PGP/MIME: %.200q", b)
	}
	if bytes.Contains(b, []byte("for your eyes")) {
		t.Fatal("own-key mail leaks the subject")
	}
	if msgs[0].Size != int64(len(b)) {
		t.Errorf("Size %d != served length %d", msgs[0].Size, len(b))
	}
}

func TestMailboxOperations(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.CreateAccount(ctx, "ann@example.org", "ann-password")
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.CreateMailbox(ctx, "Work/2026/Q4", sealpost.UseNone); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Work", "Work/2026", "Work/2026/Q4"} {
		if _, err := sess.Mailbox(ctx, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := sess.CreateMailbox(ctx, "Work", sealpost.UseNone); !errors.Is(errors.Exist, err) {
		t.Errorf("create existing: %v", err)
	}
	if err := sess.DeleteMailbox(ctx, "inbox"); !errors.Is(errors.Permission, err) {
		t.Errorf("delete INBOX: %v", err)
	}
	for _, bad := range []string{"", "a//b", "/x", "star*", "pct%"} {
		if err := sess.CreateMailbox(ctx, bad, sealpost.UseNone); !errors.Is(errors.Invalid, err) {
			t.Errorf("create %q: %v, want Invalid", bad, err)
		}
	}
	raw := []byte("Subject: m\r\n\r\nm\r\n")
	e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"ann@example.org"}}, postbox.Bytes(raw))
	// Renaming INBOX moves its messages and leaves it empty.
	if err := sess.RenameMailbox(ctx, "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.inbox(t, sess)); n != 0 {
		t.Errorf("INBOX after rename has %d messages", n)
	}
	st, err := sess.Stats(ctx, "Old")
	if err != nil || st.Messages != 1 || st.Unseen != 1 {
		t.Errorf("Old: %+v, %v", st, err)
	}
}

// TestSharedUnlock: parallel sessions of one account share one unlocking;
// a wrong password is still refused while a session is open; the keys are
// wiped when the last session closes.
func TestSharedUnlock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.CreateAccount(ctx, "ann@example.org", "ann-password")
	raw := []byte("Subject: s\r\n\r\nshared\r\n")
	e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"ann@example.org"}}, postbox.Bytes(raw))
	s1, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.org", "ann-passwore"); !errors.Is(errors.Permission, err) {
		t.Fatalf("wrong password while a session is open: %v", err)
	}
	s2, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	msg := e.inbox(t, s2)[0]
	s1.Close()
	if b, err := s2.Body(ctx, msg); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("second session after the first closed: %q, %v", b, err)
	}
	s2.Close()
	if _, err := s2.Body(ctx, msg); err == nil {
		t.Fatal("a closed session still opens mail")
	}
	// A fresh login derives again and works.
	s3, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if b, err := s3.Body(ctx, msg); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("fresh session: %q, %v", b, err)
	}
}

// A quarantined delivery (Envelope.Junk) goes to Junk; once the owner has
// deleted Junk, to INBOX. DeliverSealed files only into INBOX or Junk.
func TestDeliverJunk(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	count := func(sess *postbox.Session, mailbox string) int {
		t.Helper()
		m, err := sess.Select(ctx, mailbox)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Release(m)
		n := 0
		m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) { n = len(msgs) })
		return n
	}
	raw := []byte("Subject: dubious\r\n\r\nclick here\r\n")
	junk := postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}, Junk: true}
	if err := e.svc.Deliver(ctx, junk, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if j, in := count(sess, "Junk"), count(sess, "INBOX"); j != 1 || in != 0 {
		t.Fatalf("Junk %d, INBOX %d; want 1, 0", j, in)
	}

	rk, err := e.svc.RecipientKey(ctx, "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.ParseRecipient(rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, size, err := postbox.SealMessage(r, rk.OwnKey, raw, "x@y.example", rk.Address, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeliverSealed(ctx, "ann@example.org", rk.KeyID, bytes.NewReader(sealed), size, sealpost.UseJunk); err != nil {
		t.Fatal(err)
	}
	for _, use := range []sealpost.SpecialUse{sealpost.UseSent, sealpost.UseHeld, sealpost.UseTrash} {
		if err := e.svc.DeliverSealed(ctx, "ann@example.org", rk.KeyID, bytes.NewReader(sealed), size, use); !errors.Is(errors.Invalid, err) {
			t.Errorf("DeliverSealed into %s: %v, want Invalid", use, err)
		}
	}
	if j := count(sess, "Junk"); j != 2 {
		t.Fatalf("Junk has %d messages after DeliverSealed, want 2", j)
	}

	if err := sess.DeleteMailbox(ctx, "Junk"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Deliver(ctx, junk, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	if in := count(sess, "INBOX"); in != 1 {
		t.Fatalf("without Junk: INBOX has %d messages, want 1", in)
	}
}
