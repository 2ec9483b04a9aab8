package imapserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// sortMsgs are delivered in this order for the SORT tests: sequence numbers
// 1 to 4 (and UIDs, in a fresh INBOX).
var sortMsgs = []string{
	"From: \"Zed\" <b@remote.example>\r\nTo: c@remote.example\r\nCc: z@remote.example\r\n" +
		"Subject: Re: Aardvark\r\nDate: Thu, 2 Jan 2020 10:00:00 +0000\r\nMessage-ID: <s1@x>\r\n\r\nbody one, longer than the others\r\n",
	"From: a@remote.example\r\nTo: \"Bea\" <b@remote.example>\r\n" +
		"Subject: apple\r\nDate: Wed, 1 Jan 2020 10:00:00 +0000\r\nMessage-ID: <s2@x>\r\n\r\nb\r\n",
	"From: =?UTF-8?Q?Anna?= <c@remote.example>\r\nTo: a@remote.example\r\n" +
		"Subject: [list]   Cherry\r\nMessage-ID: <s3@x>\r\n\r\nc\r\n",
	"From: d@remote.example\r\n" +
		"Subject: apple (fwd)\r\nDate: Wed, 1 Jan 2020 12:00:00 +0200\r\nMessage-ID: <s4@x>\r\nIn-Reply-To: <s2@x>\r\n\r\nd, also longer\r\n",
}

// TestSortWire: SORT and UID SORT (RFC 5256) with every key, REVERSE, and
// RFC 5957's DISPLAYFROM/DISPLAYTO, over sealed messages, with the exact
// responses; ESORT (RFC 5267); and the errors.
func TestSortWire(t *testing.T) {
	e := newEnv(t)
	for _, m := range sortMsgs {
		e.deliver(m)
	}
	r := e.rawTLS()
	r.login(alice)
	u := r.ok("CAPABILITY")
	for _, c := range []string{" SORT ", " SORT=DISPLAY ", " ESORT ", " THREAD=ORDEREDSUBJECT ", " THREAD=REFERENCES "} {
		if !strings.Contains(u[0], c) {
			t.Errorf("%s not advertised: %q", c, u[0])
		}
	}
	if _, tagged := r.cmd("SORT (DATE) UTF-8 ALL"); !strings.Contains(tagged, " BAD ") {
		t.Errorf("SORT before SELECT: %q", tagged)
	}
	r.ok("SELECT INBOX")

	// Sizes: 1 and 4 are the longest; 2 and 3 by their lengths.
	bySize := []int{1, 2, 3, 4}
	slices.SortStableFunc(bySize, func(a, b int) int { return len(sortMsgs[a-1]) - len(sortMsgs[b-1]) })
	sizeOrder := strings.Trim(fmt.Sprint(bySize), "[]")

	tests := []struct{ cmd, want string }{
		// 2 and 4 were sent at the same instant (4's +0200): mailbox
		// order; 3 has no Date: its internal date (now) is the latest.
		{"SORT (DATE) UTF-8 ALL", "* SORT 2 4 1 3"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 3 1 2 4"},
		{"SORT (ARRIVAL) US-ASCII ALL", "* SORT 1 2 3 4"},
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 1 2 4 3"},
		{"SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 1 2 4 3"},
		{"SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 3 2 4 1"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 1 3 4"},
		{"SORT (TO) UTF-8 ALL", "* SORT 4 3 2 1"},
		{"SORT (CC) UTF-8 ALL", "* SORT 2 3 4 1"},
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 2 3 4 1"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 4 3 2 1"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT " + sizeOrder},
		{"SORT (SUBJECT) UTF-8 SUBJECT apple", "* SORT 2 4"},
		{"SORT (DATE) UTF-8 NOT FROM d@remote.example 2:*", "* SORT 2 3"},
		{"UID SORT (REVERSE ARRIVAL) UTF-8 ALL", "* SORT 4 3 2 1"},
		{"SORT (DATE) UTF-8 BODY nothing-matches", "* SORT"},
		{"SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL", `* ESEARCH (TAG "T%d") MIN 1 MAX 3 COUNT 4`},
		{"SORT RETURN (ALL) (SUBJECT) UTF-8 ALL", `* ESEARCH (TAG "T%d") ALL 1:2,4,3`},
		{"UID SORT RETURN () (REVERSE DATE) UTF-8 ALL", `* ESEARCH (TAG "T%d") UID ALL 3,1:2,4`},
		{"SORT RETURN (COUNT MIN) (DATE) UTF-8 SUBJECT nothing", `* ESEARCH (TAG "T%d") COUNT 0`},
	}
	for _, tt := range tests {
		u := r.ok("%s", tt.cmd)
		want := tt.want
		if strings.Contains(want, "%d") {
			want = fmt.Sprintf(want, r.tag)
		}
		if len(u) != 1 || u[0] != want+"\r\n" {
			t.Errorf("%s: got %q, want %q", tt.cmd, u, want)
		}
	}

	bad := []struct{ cmd, want string }{
		{"SORT (BOGUS) UTF-8 ALL", " BAD "},
		{"SORT () UTF-8 ALL", " BAD "},
		{"SORT (REVERSE) UTF-8 ALL", " BAD "},
		{"SORT (DATE) UTF-8", " BAD "},
		{"SORT DATE UTF-8 ALL", " BAD "},
		{"SORT (DATE) KOI8-R ALL", " NO [BADCHARSET]"},
		{"SORT RETURN (SAVE) (DATE) UTF-8 ALL", " BAD "},
		{"SORT (DATE) UTF-8 ALL extra)", " BAD "},
	}
	for _, tt := range bad {
		u, tagged := r.cmd("%s", tt.cmd)
		if !strings.Contains(tagged, tt.want) || len(u) != 0 {
			t.Errorf("%s: %q %q", tt.cmd, u, tagged)
		}
	}
	r.ok("NOOP")
}

// TestThreadWire: THREAD and UID THREAD over sealed messages, exact.
func TestThreadWire(t *testing.T) {
	e := newEnv(t)
	msgs := []string{
		"Subject: Plans\r\nDate: Mon, 1 Jan 2024 09:00:00 +0000\r\nMessage-ID: <p1@x>\r\n\r\n.\r\n",
		"Subject: Re: Plans\r\nDate: Mon, 1 Jan 2024 11:00:00 +0000\r\nMessage-ID: <p2@x>\r\nReferences: <p1@x>\r\n\r\n.\r\n",
		"Subject: Other\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <o1@x>\r\n\r\n.\r\n",
		"Subject: Re: Plans\r\nDate: Mon, 1 Jan 2024 10:30:00 +0000\r\nMessage-ID: <p3@x>\r\nReferences: <p1@x>\r\n\r\n.\r\n",
		"Subject: Re: Plans\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\nMessage-ID: <p4@x>\r\nReferences: <p1@x> <p2@x>\r\n\r\n.\r\n",
		"Subject: Re: Lost\r\nDate: Mon, 1 Jan 2024 08:00:00 +0000\r\nMessage-ID: <l2@x>\r\nIn-Reply-To: <l1@x>\r\n\r\n.\r\n",
		"Subject: Re: Lost\r\nDate: Mon, 1 Jan 2024 08:30:00 +0000\r\nMessage-ID: <l3@x>\r\nIn-Reply-To: <l1@x>\r\n\r\n.\r\n",
	}
	for _, m := range msgs {
		e.deliver(m)
	}
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	r.ok("STORE 3 +FLAGS (\\Flagged)")
	tests := []struct{ cmd, want string }{
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD ((6)(7))(1 (4)(2 5))(3)"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (6 7)(1 (4)(2)(5))(3)"},
		{"UID THREAD REFERENCES UTF-8 ALL", "* THREAD ((6)(7))(1 (4)(2 5))(3)"},
		{"THREAD REFERENCES UTF-8 NOT FLAGGED 1:5", "* THREAD (1 (4)(2 5))"},
		{"THREAD REFERENCES UTF-8 FLAGGED", "* THREAD (3)"},
		{"THREAD REFERENCES US-ASCII SUBJECT nothing", "* THREAD"},
	}
	for _, tt := range tests {
		u := r.ok("%s", tt.cmd)
		if len(u) != 1 || u[0] != tt.want+"\r\n" {
			t.Errorf("%s: got %q, want %q", tt.cmd, u, tt.want)
		}
	}
	for _, cmd := range []string{"THREAD BOGUS UTF-8 ALL", "THREAD REFERENCES UTF-8", "THREAD", "THREAD REFERENCES X-UNKNOWN ALL"} {
		u, tagged := r.cmd("%s", cmd)
		if (!strings.Contains(tagged, " BAD ") && !strings.Contains(tagged, " NO [BADCHARSET]")) || len(u) != 0 {
			t.Errorf("%s: %q %q", cmd, u, tagged)
		}
	}
	// The go-imap client reads the response (lists without spaces).
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	threads, err := c.Thread(&threadOptionsAll).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(threads); got != "[{[] [{[6] []} {[7] []}]} {[1] [{[4] []} {[2 5] []}]} {[3] []}]" {
		t.Errorf("imapclient read %s", got)
	}
}

var threadOptionsAll = imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}

// TestSortAddressForms: the first address as ENVELOPE gives it decides
// the order: a group's start counts, its name as both the SORT and the
// DISPLAY key, and an address without a host sorts by its mailbox alone
// (the cases of imaptest's sort-addresses and sort-display-* scripts,
// where Dovecot passes).
func TestSortAddressForms(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{
		"To: foo bar <a@b.c>\r\nCc: user2@domain2.org (foo bar)",
		"To: b@c.d\r\nCc: user2: blah@domain1.org;",
		"To: d\r\nCc: user1@domain1.org",
		"To: =?iso-8859-1?q?foo_aar?= <e@f.g>",
		"To: a: xx@xx.org, yy@yy.org;",
		"To: z: aa@aa.org, bb@bb.org;",
		"To: empty:;",
	} {
		e.deliver(h + "\r\nSubject: s\r\n\r\nbody\r\n")
	}
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	for _, c := range []struct{ cmd, want string }{
		// Cc: 3 "user1"; 1 and 2 (the group "user2") tie, in mailbox
		// order; the rest have none and sort first.
		{"SORT (CC) US-ASCII ALL", "* SORT 4 5 6 7 3 1 2"},
		{"SORT (REVERSE CC) US-ASCII ALL", "* SORT 1 2 3 4 5 6 7"},
		// a, b@c.d, d, empty, foo aar, foo bar, z.
		{"SORT (DISPLAYTO) US-ASCII ALL", "* SORT 5 2 3 7 4 1 6"},
		{"SORT (TO) US-ASCII ALL", "* SORT 1 5 2 3 4 7 6"}, // 1 and 5 tie on "a"
	} {
		if u := r.ok("%s", c.cmd); len(u) != 1 || strings.TrimSuffix(u[0], "\r\n") != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, u, c.want)
		}
	}
}
