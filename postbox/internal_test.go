package postbox

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/seal"
)

// TestWindowOutlivesRetirementWhileInUse: a window that ends (by count or
// time, or at Close) while a delivery still seals in it is wiped only when
// that delivery is done, so no delivery fails at a window's boundary.
func TestWindowOutlivesRetirementWhileInUse(t *testing.T) {
	_, secret, err := seal.NewPassword("window test password", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := seal.Generate("ann@example.org", secret, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.ParseRecipient(gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ws := &windows{now: func() time.Time { return now }}

	held, err := ws.acquire(r) // a delivery that has its window, not yet sealed
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(windowLife + windowSweep) // the window ends meanwhile
	next, err := ws.acquire(r)
	if err != nil {
		t.Fatal(err)
	}
	if next == held || !held.retired {
		t.Fatal("an ended window was not replaced")
	}
	ws.wipe() // and the Service closes

	var out bytes.Buffer
	if _, err := held.w.SealFrom(&out, strings.NewReader("Subject: late\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("sealing in a retired window still in use: %v", err)
	}
	ws.release(held)
	ws.release(next)
	plain, _, err := gen.Unlocked.Open(out.Bytes(), nil)
	if err != nil || string(plain) != "Subject: late\r\n\r\nx\r\n" {
		t.Fatalf("open: %q %v", plain, err)
	}
	// Once released, both are wiped.
	for _, wd := range []*window{held, next} {
		if _, err := wd.w.SealFrom(io.Discard, strings.NewReader("x")); err == nil {
			t.Error("a retired, released window still seals")
		}
	}
}

// TestOrphanSubsBounded: a client deleting subscribed mailboxes in a loop
// leaves at most maxOrphanSubs names per account, the newest.
func TestOrphanSubsBounded(t *testing.T) {
	var o orphanSubs
	for i := range maxOrphanSubs + 10 {
		o.add(1, strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
	}
	got := o.list(1)
	if len(got) != maxOrphanSubs {
		t.Fatalf("%d names kept, want %d", len(got), maxOrphanSubs)
	}
	last := maxOrphanSubs + 9
	if want := strings.Repeat("x", last%7) + string(rune('a'+last%26)) + strings.Repeat("y", last/26); got[len(got)-1] != want {
		t.Errorf("newest name %q, want %q", got[len(got)-1], want)
	}
}
