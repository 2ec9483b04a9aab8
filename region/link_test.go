package region_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/seal"
)

// serveRegion serves svc's internal API over TLS and returns a maker of
// links to it, closed when the test ends.
func serveRegion(t *testing.T, svc *postbox.Service) func() *region.Link {
	srv := httptest.NewTLSServer(region.Handler(svc, t.TempDir(), nil))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return func() *region.Link {
		l := region.NewLink("us", strings.TrimPrefix(srv.URL, "https://"), &tls.Config{RootCAs: pool})
		t.Cleanup(l.Close)
		return l
	}
}

// A Link seals in the sender's memory and hands the ciphertext to the home
// region's internal API; when the home region has made a new key
// generation active meanwhile, the stale seal is refused and the link
// reseals to the new key.
func TestLinkHandsOverSealed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	us := w.regions["us"]
	newLink := serveRegion(t, us.svc)
	link := newLink()

	from := postbox.Envelope{From: "x@example.org"}
	raw := []byte("From: x@example.org\r\nSubject: one\r\n\r\nfirst\r\n")
	if err := link.Deliver(ctx, from, "bob@demo.example", postbox.Bytes(raw), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, _, got := bodies(t, w, "bob@demo.example")
	if len(got) != 1 || got[0] != "first\r\n" {
		t.Fatalf("bob's inbox: %q", got)
	}

	// An admin reset makes a new key generation; the link's cached key is
	// now stale.
	if _, err := us.svc.ResetPassword(ctx, "bob@demo.example", "bob@demo.example-pass"); err != nil {
		t.Fatal(err)
	}
	raw2 := []byte("From: x@example.org\r\nSubject: two\r\n\r\nsecond\r\n")
	if err := link.Deliver(ctx, from, "bob@demo.example", postbox.Bytes(raw2), time.Now()); err != nil {
		t.Fatalf("delivery after a key change: %v", err)
	}
	_, _, got = bodies(t, w, "bob@demo.example")
	if len(got) != 2 || got[0] != "<sealed>" || got[1] != "second\r\n" {
		t.Fatalf("bob's inbox after the key change: %q", got)
	}

	// A stale key ID is refused outright by the home region.
	rk, _, err := link.RecipientKey(ctx, "bob@demo.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := link.DeliverSealed(ctx, "bob@demo.example", rk.KeyID-1, strings.NewReader("x"), 1, sealpost.UseInbox); !errors.Is(errors.Invalid, err) {
		t.Errorf("stale key id: %v", err)
	}
	// The us node serves only accounts homed in us.
	if err := link.Deliver(ctx, from, "alice@demo.example", postbox.Bytes(raw), time.Now()); !errors.Is(errors.WrongRegion, err) {
		t.Errorf("delivery for alice through us: %v, want WrongRegion", err)
	}
	if err := link.Deliver(ctx, from, "nobody@demo.example", postbox.Bytes(raw), time.Now()); !errors.Is(errors.NotExist, err) {
		t.Errorf("delivery for an unknown address: %v, want NotExist", err)
	}
	// A quarantined message goes to bob's Junk, over the link too; no
	// other mailbox can be named.
	junk := []byte("From: x@example.org\r\nSubject: three\r\n\r\nquarantined\r\n")
	if err := link.Deliver(ctx, postbox.Envelope{From: "x@example.org", Junk: true}, "bob@demo.example", postbox.Bytes(junk), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, got := mailboxBodies(t, w, "bob@demo.example", "Junk"); len(got) != 1 || got[0] != "quarantined\r\n" {
		t.Errorf("bob's Junk: %q", got)
	}
	if err := link.DeliverSealed(ctx, "bob@demo.example", rk.KeyID, strings.NewReader("x"), 1, sealpost.UseSent); err == nil {
		t.Error("a delivery into Sent was accepted")
	}
	if _, _, got := bodies(t, w, "bob@demo.example"); len(got) != 2 {
		t.Errorf("bob's inbox after the Junk deliveries: %q", got)
	}
	// Nothing of bob's reached ie.
	inv, err := w.regions["ie"].inner.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range inv.Blobs {
		if owner == "bob@demo.example" {
			t.Error("a blob of bob's is in ie")
		}
	}
}

// Mail for an account whose home region filters it crosses as it arrived
// and is filtered there, as the home region's own MX would: the Sieve
// script files it, and a refusal comes back with its reason. Mail for an
// account with nothing to run still crosses sealed.
func TestLinkFiltersAtHome(t *testing.T) {
	// The deployment key, which delivery uses to open filter keys.
	_, secret, err := seal.NewPassword("deploy", pwhash.TestParams)
	testkit.Must(t, err)
	gen, err := seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
	testkit.Must(t, err)
	qk, err := seal.ParseRecipient(gen.PublicKey)
	testkit.Must(t, err)
	w := newWorld(t, func(o *postbox.Options) {
		o.QueueKey = qk
		o.DeploymentKey = func() (*seal.Unlocked, error) { return gen.Unlocked, nil }
	})
	ctx := context.Background()
	us := w.regions["us"]
	newLink := serveRegion(t, us.svc)
	link := newLink()

	if rk, _, err := link.RecipientKey(ctx, "bob@demo.example"); err != nil || rk.Filters {
		t.Fatalf("bob without a script: filters %v, %v", rk.Filters, err)
	}
	var sess *postbox.Session
	sess, err = w.router.Login(ctx, "bob@demo.example", "bob@demo.example-pass")
	if err != nil {
		t.Fatal(err)
	}
	script := `require ["fileinto", "mailbox", "reject"];
if header :contains "subject" "news" { fileinto :create "Lists"; stop; }
if header :contains "subject" "offer" { reject "no offers, thanks"; }
`
	if err := sess.PutScript(ctx, "rules", []byte(script)); err != nil {
		t.Fatal(err)
	}
	if err := sess.SetActiveScript(ctx, "rules"); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	// A new link asks afresh; the first one keeps bob's key (and its
	// filters flag) for keyTTL, and its first delivery below, sealed, is
	// refused by the home region, after which it asks again.
	rk, _, err := newLink().RecipientKey(ctx, "bob@demo.example")
	if err != nil || !rk.Filters {
		t.Fatalf("bob with an active script: filters %v, %v", rk.Filters, err)
	}
	if rk, _, _ := link.RecipientKey(ctx, "bob@demo.example"); rk.Filters {
		t.Fatal("the first link's cached key already says filters: the test would not test the refusal")
	}

	env := postbox.Envelope{From: "x@example.org", Client: netip.MustParseAddr("192.0.2.7"), Helo: "mx.example.net"}
	news := []byte("From: x@example.org\r\nSubject: weekly news\r\n\r\nthe news\r\n")
	if err := link.Deliver(ctx, env, "bob@demo.example", postbox.Bytes(news), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, got := mailboxBodies(t, w, "bob@demo.example", "Lists"); len(got) != 1 || got[0] != "the news\r\n" {
		t.Errorf("bob's Lists: %q", got)
	}
	if _, _, got := bodies(t, w, "bob@demo.example"); len(got) != 0 {
		t.Errorf("bob's INBOX: %q", got)
	}
	offer := []byte("From: x@example.org\r\nSubject: an offer\r\n\r\nbuy\r\n")
	err = link.Deliver(ctx, env, "bob@demo.example", postbox.Bytes(offer), time.Now())
	var ref *postbox.Refusal
	if !errors.As(err, &ref) || ref.Reason != "no offers, thanks" {
		t.Fatalf("refused offer: %v", err)
	}
	// The plain hand-off is bounded: a body that is not the size it
	// announced files nothing.
	if err := link.DeliverPlain(ctx, env, "bob@demo.example", shortMessage{news}); err == nil {
		t.Error("a body shorter than its size was accepted")
	}
	if _, _, got := mailboxBodies(t, w, "bob@demo.example", "Lists"); len(got) != 1 {
		t.Errorf("bob's Lists after a cut body: %q", got)
	}
}

// shortMessage claims a size larger than its body.
type shortMessage struct{ b []byte }

func (m shortMessage) Size() int64          { return int64(len(m.b)) + 10 }
func (m shortMessage) NewReader() io.Reader { return bytes.NewReader(m.b) }
