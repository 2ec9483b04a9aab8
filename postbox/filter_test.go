package postbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
)

// deployment makes a deployment key pair, as server/queuekey.go does.
func deployment(t testing.TB) (*seal.Recipient, *seal.Unlocked) {
	t.Helper()
	_, secret, err := seal.NewPassword("deploy", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.ParseRecipient(gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return r, gen.Unlocked
}

// filterEnv is a postbox whose delivery can open filter keys, with ann.
func filterEnv(t *testing.T) (*env, *postbox.Session, string) {
	t.Helper()
	r, u := deployment(t)
	dir := t.TempDir()
	e := newEnvOpts(t, postbox.Options{QueueKey: r, DeploymentKey: func() (*seal.Unlocked, error) { return u, nil }})
	ctx := context.Background()
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	ss, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Close)
	return e, ss, dir
}

func boxOf(t *testing.T, ss *postbox.Session, name string) []sealpost.Message {
	t.Helper()
	m, err := ss.Select(context.Background(), name)
	if err != nil {
		t.Fatalf("select %s: %v", name, err)
	}
	defer ss.Release(m)
	var out []sealpost.Message
	m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) { out = append(out, msgs...) })
	return out
}

func deliverSubject(t *testing.T, e *env, rcpt, subject string) error {
	t.Helper()
	raw := fmt.Appendf(nil, "From: <x@y.example>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nbody\r\n", rcpt, subject)
	return e.svc.Deliver(context.Background(), postbox.Envelope{From: "x@y.example", Recipients: []string{rcpt}}, postbox.Bytes(raw))
}

// TestSieveAtDelivery: an active script files, flags and refuses at
// delivery; scripts are sealed (no text on disk); a compile error is
// refused with its line; the active script cannot be deleted.
func TestSieveAtDelivery(t *testing.T) {
	ctx := context.Background()
	e, ss, _ := filterEnv(t)
	const marker = "zebra-sieve-marker"
	script := `require ["fileinto", "mailbox", "imap4flags", "reject"];
if header :contains "subject" "` + marker + `" { addflag "\\Flagged"; fileinto :create "Zoo"; stop; }
if header :contains "subject" "refuse" { reject "not here"; }
`
	if err := ss.PutScript(ctx, "main", []byte(script)); err != nil {
		t.Fatal(err)
	}
	if err := deliverSubject(t, e, "ann@example.org", "before activation "+marker); err != nil {
		t.Fatal(err)
	}
	if len(boxOf(t, ss, "INBOX")) != 1 {
		t.Fatal("an inactive script ran")
	}
	if err := ss.SetActiveScript(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if err := deliverSubject(t, e, "ann@example.org", "about "+marker); err != nil {
		t.Fatal(err)
	}
	zoo := boxOf(t, ss, "Zoo")
	if len(zoo) != 1 || !sealpost.HasFlag(zoo[0].Flags, `\Flagged`) {
		t.Fatalf("Zoo holds %+v, want one flagged message", zoo)
	}
	err := deliverSubject(t, e, "ann@example.org", "please refuse")
	var ref *postbox.Refusal
	if !errors.As(err, &ref) || ref.ReplyText() != "not here" {
		t.Fatalf("reject: %v, want a Refusal with the script's reason", err)
	}
	if len(boxOf(t, ss, "INBOX")) != 1 {
		t.Fatal("a refused message was filed")
	}

	err = ss.PutScript(ctx, "bad", []byte("require \"fileinto\";\nfileinto \"x\"\nkeep;\n"))
	if !errors.Is(errors.Invalid, err) {
		t.Fatalf("bad script: %v, want Invalid", err)
	}
	if err := ss.DeleteScript(ctx, "main"); !errors.Is(errors.Permission, err) {
		t.Fatalf("deleting the active script: %v, want Permission", err)
	}
	got, err := ss.GetScript(ctx, "main")
	if err != nil || string(got) != script {
		t.Fatalf("GetScript: %v %q", err, got)
	}
	list, _ := ss.Scripts(ctx)
	if len(list) != 1 || list[0] != (postbox.ScriptInfo{Name: "main", Active: true}) {
		t.Fatalf("Scripts = %+v", list)
	}

	// The strictest mode: no script runs; activating is refused.
	if err := ss.SetNoServerFilter(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := deliverSubject(t, e, "ann@example.org", "strict "+marker); err != nil {
		t.Fatal(err)
	}
	if n := len(boxOf(t, ss, "Zoo")); n != 1 {
		t.Fatalf("a script ran in the strictest mode (Zoo has %d)", n)
	}
	if err := ss.SetActiveScript(ctx, "main"); !errors.Is(errors.Invalid, err) {
		t.Fatalf("activating in the strictest mode: %v", err)
	}
	if _, err := e.store.Object(ctx, mustAccount(t, e).ID, sealpost.ObjectFilterKey, sealpost.FilterKeyDelivery); !errors.Is(errors.NotExist, err) {
		t.Fatalf("the delivery wrap survives the strictest mode: %v", err)
	}
	// The owner still reads the script through their own wrap; turning
	// the mode off makes delivery run it again.
	if got, err := ss.GetScript(ctx, "main"); err != nil || string(got) != script {
		t.Fatalf("GetScript in the strictest mode: %v", err)
	}
	if err := ss.SetNoServerFilter(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := deliverSubject(t, e, "ann@example.org", "again "+marker); err != nil {
		t.Fatal(err)
	}
	if n := len(boxOf(t, ss, "Zoo")); n != 2 {
		t.Fatalf("Zoo has %d after the mode was turned off, want 2", n)
	}
}

func mustAccount(t *testing.T, e *env) sealpost.Account {
	t.Helper()
	a, err := e.store.Account(context.Background(), "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLearnFromMoves: moving messages into Junk and out of it trains the
// account's classifier once per message (the keywords record it), and the
// model on disk holds no token of the messages.
func TestLearnFromMoves(t *testing.T) {
	ctx := context.Background()
	e, ss, _ := filterEnv(t)
	const spamWord, hamWord = "viagrazebra", "quarterlyzebra"
	for i := range 25 {
		if _, _, err := ss.Append(ctx, "INBOX", postbox.Bytes(fmt.Appendf(nil, "Subject: cheap %s %d\r\n\r\nbuy %s now\r\n", spamWord, i, spamWord)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ss.Append(ctx, "Junk", postbox.Bytes(fmt.Appendf(nil, "Subject: the %s report %d\r\n\r\nnumbers for %s\r\n", hamWord, i, hamWord)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	move := func(from, to string) {
		m, err := ss.Select(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		var uids []sealpost.UID
		m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) {
			for _, x := range msgs {
				uids = append(uids, x.UID)
			}
		})
		if _, _, err := ss.Move(ctx, m, uids, to); err != nil {
			t.Fatal(err)
		}
		ss.Release(m)
	}
	move("INBOX", "Junk") // 25 spam... and the 25 ham already in Junk stay
	move("Junk", "Archive")
	// Everything left Junk: 25 spam taught as spam, then all 50 as ham
	// (the spam untaught first).
	st, err := e.svc.FilterStatus(ctx, "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if st.Ham != 50 || st.Spam != 0 {
		t.Fatalf("after moving everything out of Junk: ham %d spam %d, want 50 and 0", st.Ham, st.Spam)
	}
	for _, m := range boxOf(t, ss, "Archive") {
		if !sealpost.HasFlag(m.Flags, postbox.KeywordNotJunk) || sealpost.HasFlag(m.Flags, postbox.KeywordJunk) {
			t.Fatalf("flags %v, want $NotJunk only", m.Flags)
		}
	}
	walkNoMarker(t, e.dir, spamWord, hamWord)
}

// walkNoMarker fails if any file under dir holds one of the words.
func walkNoMarker(t *testing.T, dir string, words ...string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, _ := os.ReadFile(path)
		for _, w := range words {
			if bytes.Contains(b, []byte(w)) {
				t.Errorf("%s found in the clear in %s", w, path)
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no files walked")
	}
}

// casinoEngine is a SpamEngine that refuses any message naming a casino:
// a stand-in for rspamd at the interface, to test what the postbox does
// with a verdict (rspamd itself is tested in package rspamd and e2e).
type casinoEngine struct{}

func (casinoEngine) Score(_ context.Context, _ sealpost.Account, _ postbox.Envelope, msg []byte) (postbox.SpamResult, error) {
	if bytes.Contains(msg, []byte("casino")) {
		return postbox.SpamResult{Engine: "test", Score: 20, Verdict: postbox.SpamReject}, nil
	}
	return postbox.SpamResult{Engine: "test", Verdict: postbox.SpamHam}, nil
}

// TestRefusalsAmongSeveral: a message some recipients refuse and others
// take is filed for those who take it (bea, in the strictest mode, is not
// judged); ann's Sieve reject sends the sender a delivery status
// notification; spam "far above" the threshold is filed in cid's Junk,
// never dropped; when every recipient refuses, Deliver refuses with the
// reason and files nothing; our own users' mail is not judged.
func TestRefusalsAmongSeveral(t *testing.T) {
	ctx := context.Background()
	r, u := deployment(t)
	e := newEnvOpts(t, postbox.Options{QueueKey: r, DeploymentKey: func() (*seal.Unlocked, error) { return u, nil }, Spam: casinoEngine{}})
	for _, a := range []string{"ann", "bea", "cid", "sender"} {
		if _, err := e.svc.CreateAccount(ctx, a+"@example.org", a+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	session := func(a string) *postbox.Session {
		ss, err := e.svc.Login(ctx, a+"@example.org", a+"-password")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ss.Close)
		return ss
	}
	ann, bea, cid, sender := session("ann"), session("bea"), session("cid"), session("sender")
	if err := ann.PutScript(ctx, "r", []byte(`require "reject"; reject "ann takes none of this";`)); err != nil {
		t.Fatal(err)
	}
	if err := ann.SetActiveScript(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	// bea chose the strictest mode: her mail is not judged.
	if err := bea.SetNoServerFilter(ctx, true); err != nil {
		t.Fatal(err)
	}
	mx := postbox.Envelope{From: "sender@example.org", Recipients: []string{"ann@example.org", "bea@example.org", "cid@example.org"},
		Client: netip.MustParseAddr("192.0.2.7")}
	raw := []byte("From: <sender@example.org>\r\nSubject: hello all\r\n\r\nwin at the casino\r\n")
	if err := e.svc.Deliver(ctx, mx, postbox.Bytes(raw)); err != nil {
		t.Fatalf("mixed verdicts: %v, want the message taken", err)
	}
	if n := len(boxOf(t, ann, "INBOX")); n != 0 {
		t.Errorf("ann, who rejects it, has %d messages", n)
	}
	if n := len(boxOf(t, bea, "INBOX")); n != 1 {
		t.Errorf("bea has %d messages, want 1", n)
	}
	if n := len(boxOf(t, cid, "Junk")); n != 1 {
		t.Errorf("cid's Junk has %d messages, want 1 (far above the threshold, but others took it)", n)
	}
	dsn := boxOf(t, sender, "INBOX")
	if len(dsn) != 1 {
		t.Fatalf("the sender has %d messages, want the rejection notice", len(dsn))
	}
	body, err := sender.Body(ctx, dsn[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"report-type=delivery-status", "Final-Recipient: rfc822; ann@example.org", "Status: 5.7.1", "ann takes none of this", "Subject: hello all"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the notice lacks %q:\n%s", want, body)
		}
	}

	// Everyone refuses: refused with the first reason, nothing filed.
	mx.Recipients = []string{"ann@example.org", "cid@example.org"}
	err = e.svc.Deliver(ctx, mx, postbox.Bytes(raw))
	var ref *postbox.Refusal
	if !errors.As(err, &ref) || ref.ReplyText() != "ann takes none of this" {
		t.Fatalf("every recipient refusing: %v, want a Refusal", err)
	}
	if n := len(boxOf(t, cid, "Junk")); n != 1 {
		t.Errorf("cid's Junk has %d messages after a refusal, want still 1", n)
	}
	// Submission (no client address) is not judged.
	if err := e.svc.Deliver(ctx, postbox.Envelope{From: "sender@example.org", Recipients: []string{"cid@example.org"}}, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	if n := len(boxOf(t, cid, "INBOX")); n != 1 {
		t.Errorf("our own users' mail was judged: cid's INBOX has %d", n)
	}
}

// streamed is a Message that is not held in memory (postbox.Bytes is
// read without a reader; this goes through NewReader).
type streamed []byte

func (m streamed) Size() int64          { return int64(len(m)) }
func (m streamed) NewReader() io.Reader { return io.MultiReader(bytes.NewReader(m)) }

// TestSieveSeesSpamScore: with the account's classifier trained, a script
// sees the X-Spam-Score field delivery puts before the message's header
// (as a field of the header, three decimals and the engine), for a message
// held in memory and one read from a stream alike, and the filed copy
// starts with that field.
func TestSieveSeesSpamScore(t *testing.T) {
	ctx := context.Background()
	e, ss, _ := filterEnv(t)
	for i := range 5 {
		if _, _, err := ss.Append(ctx, "INBOX", postbox.Bytes(fmt.Appendf(nil, "Subject: report %d\r\n\r\nthe quarterly numbers %d\r\n", i, i)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := ss.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Learn(ctx, inbox, boxOf(t, ss, "INBOX"), false); err != nil {
		t.Fatal(err)
	}
	script := `require ["fileinto", "mailbox"];
if header :matches "x-spam-score" "?.??? (bayes)" { fileinto :create "Scored"; stop; }
fileinto :create "Unscored";
`
	if err := ss.PutScript(ctx, "main", []byte(script)); err != nil {
		t.Fatal(err)
	}
	if err := ss.SetActiveScript(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	env := postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}, Client: netip.MustParseAddr("192.0.2.1")}
	raw := []byte("From: <x@y.example>\r\nTo: <ann@example.org>\r\nSubject: the report\r\n\r\nthe quarterly numbers\r\n")
	for _, m := range []postbox.Message{postbox.Bytes(raw), streamed(raw)} {
		if err := e.svc.Deliver(ctx, env, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ss.Mailbox(ctx, "Unscored"); !errors.Is(errors.NotExist, err) {
		t.Fatalf("a message was filed unscored (%v)", err)
	}
	got := boxOf(t, ss, "Scored")
	if len(got) != 2 {
		t.Fatalf("Scored holds %d messages, want 2", len(got))
	}
	for _, m := range got {
		body, err := ss.Body(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		head, rest, _ := bytes.Cut(body, []byte("\r\n"))
		if !regexp.MustCompile(`^X-Spam-Score: \d\.\d{3} \(bayes\)$`).Match(head) || !bytes.Equal(rest, raw) {
			t.Fatalf("filed copy %q", body)
		}
	}
}
