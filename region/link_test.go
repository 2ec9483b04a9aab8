package region_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
)

// A Link seals in the sender's memory and hands the ciphertext to the home
// region's internal API; when the home region has made a new key
// generation active meanwhile, the stale seal is refused and the link
// reseals to the new key.
func TestLinkHandsOverSealed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	us := w.regions["us"]
	srv := httptest.NewTLSServer(region.Handler(us.svc, nil))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	link := region.NewLink("us", strings.TrimPrefix(srv.URL, "https://"), &tls.Config{RootCAs: pool})
	defer link.Close()

	raw := []byte("From: x@example.org\r\nSubject: one\r\n\r\nfirst\r\n")
	if err := link.Deliver(ctx, "x@example.org", "bob@demo.example", sealpost.UseInbox, postbox.Bytes(raw), time.Now()); err != nil {
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
	if err := link.Deliver(ctx, "x@example.org", "bob@demo.example", sealpost.UseInbox, postbox.Bytes(raw2), time.Now()); err != nil {
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
	if err := link.Deliver(ctx, "x@example.org", "alice@demo.example", sealpost.UseInbox, postbox.Bytes(raw), time.Now()); !errors.Is(errors.WrongRegion, err) {
		t.Errorf("delivery for alice through us: %v, want WrongRegion", err)
	}
	if err := link.Deliver(ctx, "x@example.org", "nobody@demo.example", sealpost.UseInbox, postbox.Bytes(raw), time.Now()); !errors.Is(errors.NotExist, err) {
		t.Errorf("delivery for an unknown address: %v, want NotExist", err)
	}
	// A quarantined message goes to bob's Junk, over the link too; no
	// other mailbox can be named.
	junk := []byte("From: x@example.org\r\nSubject: three\r\n\r\nquarantined\r\n")
	if err := link.Deliver(ctx, "x@example.org", "bob@demo.example", sealpost.UseJunk, postbox.Bytes(junk), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, got := mailboxBodies(t, w, "bob@demo.example", "Junk"); len(got) != 1 || got[0] != "quarantined\r\n" {
		t.Errorf("bob's Junk: %q", got)
	}
	if err := link.Deliver(ctx, "x@example.org", "bob@demo.example", sealpost.UseSent, postbox.Bytes(junk), time.Now()); err == nil {
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
