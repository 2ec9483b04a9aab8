package rspamd_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/rspamd"
)

const hamMsg = "From: Alice Example <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Minutes of Tuesday's design review\r\n" +
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
	"Message-ID: <review-42@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hi Bob,\r\n\r\nAttached below are the notes from Tuesday. We agreed to move the parser\r\n" +
	"changes to the next release and to write more tests first.\r\n\r\nAlice\r\n"

// spamMsg is built to match rspamd's stock regexp rules: no Date, no
// Message-ID, an invisible recipient list, a shouting subject, HTML only
// with a mismatched link, and the usual vocabulary.
const spamMsg = "From: \"BEST OFFER\" <offers@bulk.example>\r\n" +
	"To: undisclosed-recipients:;\r\n" +
	"Subject: =?utf-8?b?RlJFRSBWSUFHUkEgISEhIENMSUNLIE5PVyAhISE=?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/html; charset=us-ascii\r\n" +
	"X-Mailer: The Bat! (v1.52f) Business\r\n" +
	"\r\n" +
	"<html><body><p>Buy cheap VIAGRA and CIALIS now!!! 100% GUARANTEED, no prescription.</p>" +
	"<a href=\"http://203.0.113.7/click.php?id=1\">http://www.paypal.com/login</a>" +
	"<p>You are receiving this because you signed up. To unsubscribe click here. Act now, limited time offer! " +
	"Earn $$$ from home, lose weight, refinance your mortgage.</p></body></html>\r\n"

func check(t *testing.T, c *rspamd.Client, msg string, env rspamd.Envelope) rspamd.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.Check(ctx, strings.NewReader(msg), env)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheck(t *testing.T) {
	c := &rspamd.Client{URL: testenv.Rspamd(t)}
	env := rspamd.Envelope{From: "alice@example.org", Rcpts: []string{"bob@example.net"},
		IP: netip.MustParseAddr("192.0.2.10"), Helo: "mail.example.org", Hostname: "mail.example.org"}
	ham := check(t, c, hamMsg, env)
	env.From, env.Helo, env.Hostname = "offers@bulk.example", "[203.0.113.9]", ""
	env.Rcpts = []string{"bob@example.net", "carol@example.net", "dave@example.net"}
	env.IP = netip.MustParseAddr("203.0.113.9")
	spam := check(t, c, spamMsg, env)
	t.Logf("ham: %.2f/%.2f %v %v", ham.Score, ham.Required, ham.Action, ham.Symbols)
	t.Logf("spam: %.2f/%.2f %v %v", spam.Score, spam.Required, spam.Action, spam.Symbols)
	if ham.Required <= 0 || ham.Required != spam.Required {
		t.Errorf("required scores %v and %v", ham.Required, spam.Required)
	}
	if !(spam.Score > ham.Score+3) {
		t.Errorf("spam scored %.2f, ham %.2f: want spam well above", spam.Score, ham.Score)
	}
	if ham.Action != rspamd.NoAction {
		t.Errorf("ham action %v", ham.Action)
	}
	// The envelope reached rspamd: its From and Rcpt headers match the
	// message's.
	for _, sym := range []string{"FROM_EQ_ENVFROM", "TO_MATCH_ENVRCPT_ALL"} {
		if !slices.Contains(ham.Symbols, sym) {
			t.Errorf("ham symbols %v lack %s", ham.Symbols, sym)
		}
	}
	if spam.Action < rspamd.AddHeader || !slices.Contains(spam.Symbols, "MISSING_MID") {
		t.Errorf("spam action %v, symbols %v", spam.Action, spam.Symbols)
	}
	// Unreachable rspamd: Unavailable.
	bad := &rspamd.Client{URL: "http://127.0.0.1:1", Timeout: 2 * time.Second}
	if _, err := bad.Check(context.Background(), strings.NewReader(hamMsg), env); errors.KindOf(err) != errors.Unavailable {
		t.Errorf("closed port: %v, want unavailable", err)
	}
	// A wrong path is refused: Invalid, not a result.
	wrong := &rspamd.Client{URL: c.URL + "/nothing"}
	if _, err := wrong.Check(context.Background(), strings.NewReader(hamMsg), env); err == nil {
		t.Error("a wrong URL gave a result")
	}
}

// TestCheckCorpus scores a few messages of the SpamAssassin corpus (its
// training groups only: easy-ham-2 and spam-2 are held out) when
// scripts/spamcorpus.sh has fetched it: spam must average higher.
func TestCheckCorpus(t *testing.T) {
	dir := os.Getenv("SEALPOST_SPAM_CORPUS")
	if dir == "" {
		cache, _ := os.UserCacheDir()
		dir = filepath.Join(cache, "sealpost", "spam-assassin")
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Skip("spam corpus not found: run scripts/spamcorpus.sh")
	}
	c := &rspamd.Client{URL: testenv.Rspamd(t)}
	avg := func(group string) float64 {
		names, _ := filepath.Glob(filepath.Join(dir, group, "*.txt"))
		if len(names) < 10 {
			t.Fatalf("%s: %d messages", group, len(names))
		}
		var sum float64
		for _, n := range names[:10] {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			sum += check(t, c, string(b), rspamd.Envelope{IP: netip.MustParseAddr("198.51.100.1")}).Score
		}
		return sum / 10
	}
	ham, spam := avg("easy-ham-1"), avg("spam-1")
	t.Logf("average score: easy-ham-1 %.2f, spam-1 %.2f", ham, spam)
	if spam <= ham {
		t.Errorf("spam averaged %.2f, ham %.2f", spam, ham)
	}
}

func TestParseAction(t *testing.T) {
	for a := rspamd.NoAction; a <= rspamd.Reject; a++ {
		if got, err := rspamd.ParseAction(a.String()); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := rspamd.ParseAction("discard"); errors.KindOf(err) != errors.Invalid {
		t.Errorf("unknown action: %v", err)
	}
}
