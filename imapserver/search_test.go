package imapserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// searchMessages are appended with the given flags and internal dates.
var searchMessages = []struct {
	raw   string
	flags []imap.Flag
	date  time.Time
}{
	{ // 1
		raw: "From: Friend <friend@remote.example>\r\nTo: alice@example.org\r\nSubject: Invoice 42\r\n" +
			"Date: Fri, 10 Jan 2020 23:30:00 -0500\r\nX-Custom: Blue Sky\r\n\r\nPlease pay the invoice.\r\n",
		flags: []imap.Flag{imap.FlagFlagged},
		date:  time.Date(2020, 1, 11, 8, 0, 0, 0, time.UTC),
	},
	{ // 2
		raw: "From: other@remote.example\r\nTo: alice@example.org\r\nCc: carol@remote.example\r\n" +
			"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\nDate: Wed, 15 Jan 2020 10:00:00 +0000\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"VGhlIHNlY3JldCB3b3JkIGlzIGhlcmUu\r\n", // "The secret word is here."
		flags: []imap.Flag{imap.FlagSeen, imap.FlagAnswered},
		date:  time.Date(2020, 1, 15, 12, 0, 0, 0, time.UTC),
	},
	{ // 3
		raw: "From: friend@remote.example\r\nTo: bob@example.org\r\nBcc: alice@example.org\r\nSubject: Coffee\r\n" +
			"Date: Mon, 20 Jan 2020 10:00:00 +0000\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"Un caf=C3=A9 au lait, s'il vous pla=\r\nit.\r\n",
		flags: []imap.Flag{"$Work", imap.FlagSeen},
		date:  time.Date(2020, 1, 20, 12, 0, 0, 0, time.UTC),
	},
	{ // 4
		raw: "From: list@remote.example\r\nTo: alice@example.org\r\nSubject: Attachment\r\n" +
			"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n" +
			"Meet me on Hauptstra\xdfe, the haystack.\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"bmVlZGxl\r\n--zz--\r\n", // "needle", in an attachment: not searched
		flags: []imap.Flag{imap.FlagDeleted, imap.FlagDraft},
		date:  time.Date(2020, 2, 1, 12, 0, 0, 0, time.UTC),
	},
	{ // 5
		raw:  "From: big@remote.example\r\nSubject: Big\r\n\r\n" + strings.Repeat("padding line with words\r\n", 400),
		date: time.Date(2020, 2, 2, 12, 0, 0, 0, time.UTC),
	},
}

func setupSearch(t *testing.T) (*testEnv, *imapclient.Client) {
	e := newEnv(t)
	c := e.client(alice, nil)
	for _, m := range searchMessages {
		cmd := c.Append("INBOX", int64(len(m.raw)), &imap.AppendOptions{Flags: m.flags, Time: m.date})
		cmd.Write([]byte(m.raw))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return e, c
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSearchCriteria(t *testing.T) {
	_, c := setupSearch(t)
	if len(searchMessages[3].raw) <= 300 || len(searchMessages[2].raw) >= 300 {
		t.Fatal("test messages changed size")
	}
	tests := []struct {
		name     string
		criteria imap.SearchCriteria
		want     []uint32
	}{
		{"all", imap.SearchCriteria{}, []uint32{1, 2, 3, 4, 5}},
		{"seq set", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 2, Stop: 3}}}}, []uint32{2, 3}},
		{"seq star", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 4, Stop: 0}}}}, []uint32{4, 5}},
		{"uid set", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(1, 5, 9)}}, []uint32{1, 5}},
		{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []uint32{2, 3}},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1, 4, 5}},
		{"flagged", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, []uint32{1}},
		{"answered", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagAnswered}}, []uint32{2}},
		{"deleted", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, []uint32{4}},
		{"undeleted", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, []uint32{1, 2, 3, 5}},
		{"draft", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDraft}}, []uint32{4}},
		{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"$work"}}, []uint32{3}},
		{"unkeyword", imap.SearchCriteria{NotFlag: []imap.Flag{"$Work"}}, []uint32{1, 2, 4, 5}},
		// All five are new to this session (RFC 3501 2.3.2): they came
		// before its SELECT.
		{"recent", imap.SearchCriteria{Flag: []imap.Flag{`\Recent`}}, []uint32{1, 2, 3, 4, 5}},
		{"old", imap.SearchCriteria{NotFlag: []imap.Flag{`\Recent`}}, nil},
		{"since", imap.SearchCriteria{Since: day(2020, 1, 15)}, []uint32{2, 3, 4, 5}},
		{"before", imap.SearchCriteria{Before: day(2020, 1, 20)}, []uint32{1, 2}},
		{"on", imap.SearchCriteria{Since: day(2020, 1, 20), Before: day(2020, 1, 21)}, []uint32{3}},
		// Sent dates use the Date field's own zone: message 1 was sent
		// on the 10th at 23:30 -0500.
		{"senton", imap.SearchCriteria{SentSince: day(2020, 1, 10), SentBefore: day(2020, 1, 11)}, []uint32{1}},
		{"sentbefore", imap.SearchCriteria{SentBefore: day(2020, 1, 16)}, []uint32{1, 2}},
		{"sentsince", imap.SearchCriteria{SentSince: day(2020, 1, 16)}, []uint32{3}},
		{"larger", imap.SearchCriteria{Larger: 5000}, []uint32{5}},
		{"smaller", imap.SearchCriteria{Smaller: 200}, []uint32{1}},
		{"from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "FRIEND"}}}, []uint32{1, 3}},
		{"to", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: "bob@"}}}, []uint32{3}},
		{"cc", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Cc", Value: "carol"}}}, []uint32{2}},
		{"bcc", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Bcc", Value: "alice"}}}, []uint32{3}},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "invoice"}}}, []uint32{1}},
		{"subject encoded word", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "grüße"}}}, []uint32{2}},
		{"header", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "x-custom", Value: "blue sky"}}}, []uint32{1}},
		{"header exists", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Content-Type"}}}, []uint32{2, 3, 4}},
		{"body", imap.SearchCriteria{Body: []string{"invoice"}}, []uint32{1}},
		{"body base64", imap.SearchCriteria{Body: []string{"SECRET word"}}, []uint32{2}},
		{"body quoted-printable", imap.SearchCriteria{Body: []string{"café au lait, s'il vous plait"}}, []uint32{3}},
		{"body latin1", imap.SearchCriteria{Body: []string{"hauptstraße"}}, []uint32{4}},
		{"body not in attachment", imap.SearchCriteria{Body: []string{"needle"}}, nil},
		{"body not header", imap.SearchCriteria{Body: []string{"Coffee"}}, nil},
		{"text header", imap.SearchCriteria{Text: []string{"coffee"}}, []uint32{3}},
		{"text body", imap.SearchCriteria{Text: []string{"haystack"}}, []uint32{4}},
		{"two bodies", imap.SearchCriteria{Body: []string{"padding", "words"}}, []uint32{5}},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}, []uint32{1, 4, 5}},
		{"not body", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"the"}}}}, []uint32{3, 5}},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagFlagged}}, {Body: []string{"haystack"}}}}}, []uint32{1, 4}},
		{"and of metadata and body", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}, Body: []string{"the"}}, []uint32{1, 2}},
		{"nested", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{
			{Not: []imap.SearchCriteria{{SeqNum: []imap.SeqSet{imap.SeqSetNum(1, 2, 3)}, Body: []string{"secret"}}}, Smaller: 300},
			{UID: []imap.UIDSet{imap.UIDSetNum(5)}},
		}}}, []uint32{1, 3, 5}}, // 4 is larger than 300 bytes
	}
	for _, tc := range tests {
		for _, uid := range []bool{false, true} {
			var data *imap.SearchData
			var err error
			if uid {
				data, err = c.UIDSearch(&tc.criteria, nil).Wait()
			} else {
				data, err = c.Search(&tc.criteria, nil).Wait()
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			var got []uint32
			if uid {
				uids := data.AllUIDs()
				for _, u := range uids {
					got = append(got, uint32(u))
				}
			} else {
				got = data.AllSeqNums()
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s (uid %v): got %v, want %v", tc.name, uid, got, tc.want)
			}
		}
	}
}

func TestSearchExtended(t *testing.T) {
	e, _ := setupSearch(t)
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	u := r.ok("SEARCH RETURN (MIN MAX COUNT ALL) BODY the")
	if len(u) != 1 || u[0] != "* ESEARCH (TAG \"T3\") ALL 1:2,4 MIN 1 MAX 4 COUNT 3\r\n" {
		t.Errorf("ESEARCH: %q", u)
	}
	u = r.ok("UID SEARCH RETURN (COUNT) UNSEEN")
	if len(u) != 1 || u[0] != "* ESEARCH (TAG \"T4\") UID COUNT 3\r\n" {
		t.Errorf("UID ESEARCH: %q", u)
	}
	u = r.ok("SEARCH CHARSET UTF-8 SUBJECT \"grüße\"")
	if len(u) != 1 || u[0] != "* SEARCH 2\r\n" {
		t.Errorf("SEARCH CHARSET: %q", u)
	}
	_, tagged := r.cmd("SEARCH CHARSET KOI8-R ALL")
	if !strings.Contains(tagged, "NO [BADCHARSET]") {
		t.Errorf("unknown charset: %q", tagged)
	}
	u = r.ok("SEARCH OR (FLAGGED) (SUBJECT coffee) NOT 5")
	if len(u) != 1 || u[0] != "* SEARCH 1 3\r\n" {
		t.Errorf("parenthesized: %q", u)
	}
	// SEARCHRES: save, then use "$" in FETCH, STORE and SEARCH.
	r.ok("SEARCH RETURN (SAVE) FROM friend")
	u = r.ok("FETCH $ (UID)")
	if len(u) != 2 || !strings.HasPrefix(u[0], "* 1 FETCH (UID 1)") || !strings.HasPrefix(u[1], "* 3 FETCH (UID 3)") {
		t.Errorf("FETCH $: %q", u)
	}
	u = r.ok("UID SEARCH $ SEEN")
	if len(u) != 1 || u[0] != "* SEARCH 3\r\n" {
		t.Errorf("SEARCH $: %q", u)
	}
	r.ok("SEARCH RETURN (SAVE MIN) FROM friend")
	u = r.ok("UID FETCH $ (FLAGS)")
	if len(u) != 1 || !strings.Contains(u[0], "UID 1") {
		t.Errorf("saved MIN: %q", u)
	}
	// No match: an empty SEARCH, an ESEARCH without ALL.
	u = r.ok("SEARCH BODY nothing-matches-this")
	if len(u) != 1 || u[0] != "* SEARCH\r\n" {
		t.Errorf("empty SEARCH: %q", u)
	}
}

// TestSearchSealed: body search decrypts through the session; a message
// sealed to a key the session lacks is searched as its placeholder.
func TestSearchSealed(t *testing.T) {
	e := newEnv(t)
	e.deliver("Subject: old\r\n\r\nancient secret\r\n")
	if _, err := e.svc.ResetPassword(t.Context(), alice, password); err != nil {
		t.Fatal(err)
	}
	e.deliver("Subject: new\r\n\r\nfresh secret\r\n")
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string][]uint32{"secret": {2}, "fresh": {2}, "ancient": nil, "recovery code": {1}} {
		data, err := c.Search(&imap.SearchCriteria{Body: []string{body}}, nil).Wait()
		if err != nil || !slices.Equal(data.AllSeqNums(), want) {
			t.Errorf("BODY %q: %v %v, want %v", body, err, data.AllSeqNums(), want)
		}
	}
}
