package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"github.com/sealpost/sealpost/internal/testenv"
)

// appendTo appends msgs to a mailbox, each with flags.
func appendTo(t testing.TB, c *imapclient.Client, mailbox string, msgs [][]byte) {
	t.Helper()
	for _, m := range msgs {
		ac := c.Append(mailbox, int64(len(m)), nil)
		ac.Write(m)
		ac.Close()
		if _, err := ac.Wait(); err != nil {
			t.Fatalf("append to %s: %v", mailbox, err)
		}
	}
}

// TestSpamTrainedByMoves trains alice's classifier as a user would, over
// IMAP: spam moved from INBOX into Junk, ham marked $NotJunk; then it
// delivers the other messages of the corpus through the MX and counts
// where each lands: refused at DATA, in Junk, or in INBOX. The corpus is
// the SpamAssassin public corpus's easy-ham-1, hard-ham-1 and spam-1
// (70% of each, chosen by a hash of the file name, to train; the rest to
// test); easy-ham-2 and spam-2 are never read (testenv.SpamCorpus).
func TestSpamTrainedByMoves(t *testing.T) {
	corpus := testenv.SpamCorpus(t)
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	c := login(t, d.Addrs["imaps"], alice, alicePass)

	var trainHam, trainSpam [][]byte
	type probe struct {
		id   string
		spam bool
	}
	var test []probe
	var testMsgs [][]byte
	for i, m := range corpus {
		raw := crlf(m.Data)
		switch {
		case m.Train && m.Spam:
			trainSpam = append(trainSpam, raw)
		case m.Train:
			trainHam = append(trainHam, raw)
		default:
			id := fmt.Sprintf("probe-%d", i)
			test = append(test, probe{id, m.Spam})
			testMsgs = append(testMsgs, append([]byte("X-Probe: "+id+"\r\n"), raw...))
		}
	}

	// Spam: into INBOX, then moved to Junk, as a user does.
	appendTo(t, c, "INBOX", trainSpam)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if _, err := c.Move(all, "Junk").Wait(); err != nil {
		t.Fatalf("move to Junk: %v", err)
	}
	// Ham: marked "not junk" ($NotJunk), as Thunderbird's button does.
	appendTo(t, c, "INBOX", trainHam)
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{"$NotJunk"}}, nil).Close(); err != nil {
		t.Fatalf("store $NotJunk: %v", err)
	}
	// The owner's page sees the training.
	t.Logf("trained through IMAP: %d spam moved to Junk, %d ham marked $NotJunk", len(trainSpam), len(trainHam))

	// Deliver the test split through the MX, one connection.
	dial := func() *smtp.Client {
		sc, err := smtp.Dial(d.Addrs["smtp"])
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sc := dial()
	refused, tooLong := map[string]bool{}, map[string]bool{}
	for i, raw := range testMsgs {
		if longestLine(raw) > 998 {
			// A few corpus messages have lines over RFC 5321's 1,000
			// octets (4.5.3.1.6), which the MX refuses before any
			// filter sees them: not counted.
			tooLong[test[i].id] = true
			continue
		}
		err := sc.SendMail("sender@example.org", []string{alice}, bytes.NewReader(raw))
		var se *smtp.SMTPError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code == 550 && se.EnhancedCode == (smtp.EnhancedCode{5, 7, 1}):
			refused[test[i].id] = true
			sc.Reset()
		default:
			t.Fatalf("delivering %s: %v", test[i].id, err)
		}
	}
	sc.Quit()
	t.Logf("%d test messages refused for lines over 1,000 octets, not counted", len(tooLong))

	inJunk := probesIn(t, c, "Junk")
	inInbox := probesIn(t, c, "INBOX")
	var spam, spamCaught, spamRefused, ham, hamMisfiled, lost int
	for _, p := range test {
		if tooLong[p.id] {
			continue
		}
		caught := refused[p.id] || inJunk[p.id]
		if !caught && !inInbox[p.id] {
			lost++
			t.Errorf("%s is nowhere (not refused, not in INBOX or Junk)", p.id)
		}
		if p.spam {
			spam++
			if caught {
				spamCaught++
			}
			if refused[p.id] {
				spamRefused++
			}
		} else {
			ham++
			if caught {
				hamMisfiled++
			}
		}
	}
	caughtRate := float64(spamCaught) / float64(spam)
	misfiledRate := float64(hamMisfiled) / float64(ham)
	t.Logf("held back from training: %d spam, %d ham; spam caught %d (%.1f%%; %d refused at DATA), ham misfiled %d (%.2f%%)",
		spam, ham, spamCaught, 100*caughtRate, spamRefused, hamMisfiled, 100*misfiledRate)
	// The aims: at least 90% of spam caught, under 1% of ham
	// misfiled.
	if caughtRate < 0.90 {
		t.Errorf("spam caught %.1f%%, want at least 90%%", 100*caughtRate)
	}
	if misfiledRate >= 0.01 {
		t.Errorf("ham misfiled %.2f%%, want under 1%%", 100*misfiledRate)
	}
}

// probesIn returns the X-Probe ids of the messages in a mailbox.
func probesIn(t testing.TB, c *imapclient.Client, mailbox string) map[string]bool {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	if sel.NumMessages == 0 {
		return out
	}
	var all imap.SeqSet
	all.AddRange(1, sel.NumMessages)
	sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"X-Probe"}, Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		for _, b := range m.BodySection {
			if v := strings.TrimSpace(strings.TrimPrefix(string(b.Bytes), "X-Probe:")); v != "" {
				out[strings.TrimSpace(strings.SplitN(v, "\r\n", 2)[0])] = true
			}
		}
	}
	return out
}

// longestLine is the length of raw's longest line, without its CRLF.
func longestLine(raw []byte) int {
	n := 0
	for _, l := range bytes.Split(raw, []byte("\r\n")) {
		n = max(n, len(l))
	}
	return n
}

// gtube is the Generic Test for Unsolicited Bulk Email, which rspamd
// answers with "reject".
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// TestRspamdAtMX runs the demo with Debian's rspamd on loopback as the
// deployment's engine: GTUBE is refused at DATA (550 5.7.1), a plain
// message is filed with rspamd's score in X-Spam-Score; and the same
// corpus split as
// TestSpamTrainedByMoves is scored by rspamd alone (an untrained account)
// to report what it catches without its network rules.
func TestRspamdAtMX(t *testing.T) {
	url := testenv.Rspamd(t)
	dir := t.TempDir()
	d := testenv.StartDemoArgs(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"),
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--submissions", "127.0.0.1:0",
		"--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0", "--web", "127.0.0.1:0", "--rspamd", url)
	mx := d.Addrs["smtp"]
	err := sendMX(t, mx, "sender@example.org", alice, message("sender@example.org", alice, "test", gtube))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("GTUBE: %v, want 550 5.7.1", err)
	}
	if err := sendMX(t, mx, "sender@example.org", alice, message("sender@example.org", alice, "lunch", "shall we meet at noon?")); err != nil {
		t.Fatal(err)
	}
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	_, inbox := fetchAll(t, c, "INBOX")
	if len(inbox) != 1 {
		t.Fatalf("INBOX has %d messages, want 1", len(inbox))
	}
	for _, raw := range inbox {
		if !bytes.Contains(raw, []byte("(rspamd)")) || !bytes.HasPrefix(raw, []byte("X-Spam-Score: ")) {
			t.Errorf("the filed message carries no rspamd score:\n%.300s", raw)
		}
	}

	// The corpus's test split, scored by rspamd only.
	corpus := testenv.SpamCorpus(t)
	var spam, spamRefused, ham, hamRefused int
	isSpam := map[string]bool{}
	sc, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for i, m := range corpus {
		raw := crlf(m.Data)
		if m.Train || longestLine(raw) > 998 {
			continue
		}
		id := fmt.Sprintf("probe-%d", i)
		isSpam[id] = m.Spam
		err := sc.SendMail("sender@example.org", []string{bob}, bytes.NewReader(append([]byte("X-Probe: "+id+"\r\n"), raw...)))
		refused := errors.As(err, &se) && se.Code == 550
		if err != nil && !refused {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if refused {
			sc.Reset()
		}
		if m.Spam {
			spam++
			if refused {
				spamRefused++
			}
		} else {
			ham++
			if refused {
				hamRefused++
			}
		}
	}
	bc := login(t, d.Addrs["imaps"], bob, bobPass)
	var spamJunk, hamJunk int
	for id := range probesIn(t, bc, "Junk") {
		if isSpam[id] {
			spamJunk++
		} else {
			hamJunk++
		}
	}
	t.Logf("rspamd alone (no bayes, fuzzy or DNS rules): spam %d: %d refused, %d in Junk (%.1f%% caught); ham %d: %d refused, %d in Junk (%.1f%% misfiled)",
		spam, spamRefused, spamJunk, 100*float64(spamRefused+spamJunk)/float64(spam),
		ham, hamRefused, hamJunk, 100*float64(hamRefused+hamJunk)/float64(ham))
	if hamRefused > 0 {
		t.Errorf("rspamd refused %d of %d ham", hamRefused, ham)
	}
}
