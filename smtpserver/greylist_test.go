package smtpserver

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
)

// Greylisting (greylist.go) on a real SQLite store, driven over raw SMTP
// with a clock the test moves.

var greyKey = bytes.Repeat([]byte{7}, 32)

func openGrey(t *testing.T, path string, key []byte, o GreylistOptions) *Greylist {
	t.Helper()
	g, err := OpenGreylist(path, key, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// rcptFrom runs EHLO, MAIL and RCPT from local and returns RCPT's reply.
func rcptFrom(t *testing.T, addr, local, from, to string) (int, string) {
	t.Helper()
	rc := dialFrom(t, addr, local)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<"+from+">", 250, "")
	rc.send("RCPT TO:<" + to + ">\r\n")
	code, text := rc.reply()
	rc.cmd("QUIT", 221, "")
	return code, text
}

// TestGreylistCycle: a first attempt gets 451 4.7.1 with the wait, a
// retry before the delay the rest of it, one after it delivers, and the
// next message of the triplet is accepted at once; another recipient is
// another triplet; another address of the client's /24 is the same
// client. The store survives a restart, and is useless under another key.
func TestGreylistCycle(t *testing.T) {
	e := newEnv(t)
	clock := testkit.NewClock(testNow)
	path := filepath.Join(t.TempDir(), "greylist.db")
	g := openGrey(t, path, greyKey, GreylistOptions{})
	srv, addr := e.serve(Options{Mode: MX, Now: clock.Now, Greylist: g}, nil)
	const carol = "carol@elsewhere.example"

	if code, text := rcptFrom(t, addr, "127.0.0.1", carol, bob); code != 451 || text != "4.7.1 Greylisted, try again in 300 seconds" {
		t.Fatalf("first attempt: %d %s", code, text)
	}
	clock.Add(2 * time.Minute)
	if code, text := rcptFrom(t, addr, "127.0.0.1", carol, bob); code != 451 || text != "4.7.1 Greylisted, try again in 180 seconds" {
		t.Fatalf("early retry: %d %s", code, text)
	}
	clock.Add(3*time.Minute + time.Second)
	if code, text := deliverFrom(t, addr, "127.0.0.2", bob); code != 250 { // same /24
		t.Fatalf("retry after the delay: %d %s", code, text)
	}
	clock.Add(time.Minute)
	if code, text := deliverFrom(t, addr, "127.0.0.1", bob); code != 250 {
		t.Fatalf("next message: %d %s", code, text)
	}
	if n := e.count(bob, sealpost.UseInbox); n != 2 {
		t.Errorf("bob has %d messages, want 2", n)
	}
	if code, _ := rcptFrom(t, addr, "127.0.0.1", carol, alice); code != 451 {
		t.Errorf("another recipient: %d, want 451", code)
	}
	if code, _ := rcptFrom(t, addr, "127.0.0.1", "dave@elsewhere.example", bob); code != 451 {
		t.Errorf("another sender: %d, want 451", code)
	}

	// A restart: the same file and key remember the pass.
	srv.Close()
	g.Close()
	g = openGrey(t, path, greyKey, GreylistOptions{})
	_, addr = e.serve(Options{Mode: MX, Now: clock.Now, Greylist: g}, nil)
	if code, text := rcptFrom(t, addr, "127.0.0.1", carol, bob); code != 250 {
		t.Errorf("after a restart: %d %s", code, text)
	}
	if g.Len() != 3 { // carol→bob, carol→alice, dave→bob, none twice
		t.Errorf("store holds %d triplets, want 3", g.Len())
	}
	g.Close()
	other := openGrey(t, path, bytes.Repeat([]byte{8}, 32), GreylistOptions{})
	if wait, err := other.Check(context.Background(), netip.MustParseAddr("127.0.0.1"), carol, bob, clock.Now()); err != nil || wait == 0 {
		t.Errorf("under another key: wait %v, %v; want greylisted", wait, err)
	}
}

// TestGreylistNoAddressesOnDisk: the store's files (database, WAL, shared
// memory) hold no address, network or name of the triplets.
func TestGreylistNoAddressesOnDisk(t *testing.T) {
	dir := t.TempDir()
	g := openGrey(t, filepath.Join(dir, "greylist.db"), greyKey, GreylistOptions{})
	ctx := context.Background()
	ip := netip.MustParseAddr("198.51.100.23")
	if _, err := g.Check(ctx, ip, "Carol.Sender@Elsewhere.Example", "bob@example.test", testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Check(ctx, netip.MustParseAddr("2001:db8:1:2::99"), "", "alice@example.test", testNow); err != nil {
		t.Fatal(err)
	}
	var all []byte
	files, _ := filepath.Glob(filepath.Join(dir, "greylist.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, bytes.ToLower(b)...)
	}
	if len(files) < 2 || len(all) == 0 {
		t.Fatalf("store files %v", files)
	}
	for _, bad := range []string{"carol", "elsewhere", "example", "bob", "alice", "198.51.100", "2001:db8", "\xc6\x33\x64"} {
		if bytes.Contains(all, []byte(bad)) {
			t.Errorf("the store holds %q", bad)
		}
	}
}

// TestGreylistWindows: a retry after Expire starts again; a passed
// triplet is forgotten Keep after its last message; the wait counts from
// the first attempt.
func TestGreylistWindows(t *testing.T) {
	g := openGrey(t, filepath.Join(t.TempDir(), "g.db"), greyKey,
		GreylistOptions{Delay: time.Minute, Expire: time.Hour, Keep: 24 * time.Hour})
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	now := testNow
	check := func(step string, advance, want time.Duration) {
		t.Helper()
		now = now.Add(advance)
		got, err := g.Check(ctx, ip, "a@x.test", "bob@example.test", now)
		if err != nil || got != want {
			t.Errorf("%s: wait %v, %v; want %v", step, got, err, want)
		}
	}
	check("first", 0, time.Minute)
	check("too late", time.Hour+time.Second, time.Minute)
	check("early", 20*time.Second, 40*time.Second)
	check("in the window", 40*time.Second, 0)
	check("kept", 23*time.Hour, 0)
	check("kept from the last message", 23*time.Hour, 0)
	check("forgotten", 24*time.Hour, time.Minute)
	check("clock went back", -48*time.Hour, time.Minute)
}

// TestGreylistBounded: the store never holds more than MaxEntries
// triplets; the least recently seen go first.
func TestGreylistBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	g := openGrey(t, path, greyKey, GreylistOptions{Delay: time.Minute, MaxEntries: 20})
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	now := testNow
	for i := range 100 {
		now = now.Add(time.Second)
		if _, err := g.Check(ctx, ip, fmt.Sprintf("s%d@x.test", i), "bob@example.test", now); err != nil {
			t.Fatal(err)
		}
		if g.Len() > 20 {
			t.Fatalf("after %d triplets the store holds %d", i+1, g.Len())
		}
	}
	g.Close()
	g = openGrey(t, path, greyKey, GreylistOptions{Delay: time.Minute, MaxEntries: 20})
	if n := g.Len(); n < 10 || n > 20 {
		t.Errorf("reopened store holds %d triplets", n)
	}
	now = now.Add(time.Minute)
	if w, _ := g.Check(ctx, ip, "s99@x.test", "bob@example.test", now); w != 0 {
		t.Errorf("newest triplet: wait %v, want it kept", w)
	}
	if w, _ := g.Check(ctx, ip, "s0@x.test", "bob@example.test", now); w != time.Minute {
		t.Errorf("oldest triplet: wait %v, want it evicted", w)
	}
}

// TestGreylistExempt: trusted relays are not greylisted; a client a DNSBL
// lists is refused at MAIL before greylisting sees it.
func TestGreylistExempt(t *testing.T) {
	e := newEnv(t)
	e.dns.Add(t, listed127...)
	g := openGrey(t, filepath.Join(t.TempDir(), "g.db"), greyKey, GreylistOptions{})
	var buf testkit.Buffer
	o := e.dnsblOpts(&buf, 0, zone)
	o.Greylist = g
	o.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}
	_, addr := e.serve(o, nil)
	mailFrom(t, addr, "127.0.0.1", 554)
	if code, text := rcptFrom(t, addr, "127.0.0.3", "carol@elsewhere.example", bob); code != 250 {
		t.Errorf("trusted relay: %d %s", code, text)
	}
	if g.Len() != 0 {
		t.Errorf("store holds %d triplets, want none", g.Len())
	}
	// An unknown user gets its 550, and nothing is stored for it.
	if code, _ := rcptFrom(t, addr, "127.0.0.2", "carol@elsewhere.example", "nobody@example.test"); code != 550 {
		t.Errorf("unknown user: %d, want 550", code)
	}
	if code, text := rcptFrom(t, addr, "127.0.0.2", "", bob); code != 451 || !strings.HasPrefix(text, "4.7.1 Greylisted") {
		t.Errorf("null sender: %d %s, want greylisted", code, text)
	}
	if g.Len() != 1 {
		t.Errorf("store holds %d triplets, want 1", g.Len())
	}
}
