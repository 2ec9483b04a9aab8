package imapserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

var multipartMsg = strings.Join([]string{
	"From: Multi Sender <multi@remote.example>",
	"To: alice@example.org, \"Bob B.\" <bob@example.org>",
	"Cc: Team: carol@remote.example, dave@remote.example;",
	"Subject: =?utf-8?q?Caf=C3=A9?= multi",
	"Date: Tue, 03 Jan 2006 10:00:00 +0100",
	"Message-ID: <multi@remote.example>",
	"In-Reply-To: <m1@remote.example>",
	"MIME-Version: 1.0",
	`Content-Type: multipart/mixed; boundary="XYZ"`,
	"",
	"preamble",
	"--XYZ",
	"Content-Type: text/plain; charset=utf-8",
	"",
	"Part one text.",
	"--XYZ",
	"Content-Type: application/octet-stream",
	"Content-Transfer-Encoding: base64",
	`Content-Disposition: attachment; filename="a.bin"`,
	"",
	"AAECAw==",
	"--XYZ",
	"Content-Type: message/rfc822",
	"",
	"From: inner@remote.example",
	"Subject: Inner",
	"",
	"Inner body.",
	"--XYZ--",
	"epilogue",
	"",
}, "\r\n")

// between returns the text of s after the first occurrence of from and
// before the next occurrence of to: expected sections are computed from the
// message text, independently of the server's parser.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		panic("no " + from)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		panic("no " + to)
	}
	return s[:j]
}

func TestFetchItems(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	e.deliver(multipartMsg)
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	sec := func(s imap.FetchItemBodySection) *imap.FetchItemBodySection { s.Peek = true; return &s }
	type check struct {
		section *imap.FetchItemBodySection
		want    string
	}
	simpleHeader := simpleMsg[:strings.Index(simpleMsg, "\r\n\r\n")+4]
	mpHeader := multipartMsg[:strings.Index(multipartMsg, "\r\n\r\n")+4]
	mpBody := multipartMsg[len(mpHeader):]
	inner := between(multipartMsg, "Content-Type: message/rfc822\r\n\r\n", "\r\n--XYZ--")
	checks := map[uint32][]check{
		1: {
			{sec(imap.FetchItemBodySection{}), simpleMsg},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader}), simpleHeader},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}), simpleMsg[len(simpleHeader):]},
			{sec(imap.FetchItemBodySection{Part: []int{1}}), simpleMsg[len(simpleHeader):]},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"subject", "FROM"}}),
				"From: Sender <sender@remote.example>\r\nSubject: Hello there\r\n\r\n"},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"Subject", "Date", "Message-ID"}}),
				"From: Sender <sender@remote.example>\r\nTo: Alice <alice@example.org>\r\n\r\n"},
			{sec(imap.FetchItemBodySection{Partial: &imap.SectionPartial{Offset: 6, Size: 6}}), simpleMsg[6:12]},
			{sec(imap.FetchItemBodySection{Partial: &imap.SectionPartial{Offset: 100000, Size: 6}}), ""},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Partial: &imap.SectionPartial{Offset: 6, Size: 1000}}),
				simpleMsg[len(simpleHeader)+6:]},
		},
		2: {
			{sec(imap.FetchItemBodySection{}), multipartMsg},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader}), mpHeader},
			{sec(imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}), mpBody},
			{sec(imap.FetchItemBodySection{Part: []int{1}}), "Part one text."},
			{sec(imap.FetchItemBodySection{Part: []int{1}, Specifier: imap.PartSpecifierMIME}), "Content-Type: text/plain; charset=utf-8\r\n\r\n"},
			{sec(imap.FetchItemBodySection{Part: []int{2}}), "AAECAw=="},
			{sec(imap.FetchItemBodySection{Part: []int{3}}), inner},
			{sec(imap.FetchItemBodySection{Part: []int{3}, Specifier: imap.PartSpecifierHeader}), "From: inner@remote.example\r\nSubject: Inner\r\n\r\n"},
			{sec(imap.FetchItemBodySection{Part: []int{3}, Specifier: imap.PartSpecifierText}), "Inner body."},
			{sec(imap.FetchItemBodySection{Part: []int{3, 1}}), "Inner body."},
			{sec(imap.FetchItemBodySection{Part: []int{3}, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}}), "Subject: Inner\r\n\r\n"},
			{sec(imap.FetchItemBodySection{Part: []int{9}}), ""},
		},
	}
	for seq, cs := range checks {
		opts := &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}
		for _, ch := range cs {
			opts.BodySection = append(opts.BodySection, ch.section)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(seq), opts).Collect()
		if err != nil {
			t.Fatalf("fetch %d: %v", seq, err)
		}
		if len(msgs) != 1 {
			t.Fatalf("fetch %d: %d messages", seq, len(msgs))
		}
		m := msgs[0]
		for _, ch := range cs {
			got := m.FindBodySection(ch.section)
			mustEqualBytes(t, fmt.Sprintf("message %d section %+v", seq, *ch.section), got, []byte(ch.want))
		}
		full := []byte(simpleMsg)
		if seq == 2 {
			full = []byte(multipartMsg)
		}
		if m.RFC822Size != int64(len(full)) {
			t.Errorf("message %d: RFC822.SIZE %d, want %d", seq, m.RFC822Size, len(full))
		}
		if m.UID != imap.UID(seq) {
			t.Errorf("message %d: UID %d", seq, m.UID)
		}
		if time.Since(m.InternalDate) > time.Hour {
			t.Errorf("message %d: INTERNALDATE %v", seq, m.InternalDate)
		}
		if !slices.Equal(m.Flags, []imap.Flag{`\Recent`}) { // new to this session
			t.Errorf("message %d: flags %v after PEEK", seq, m.Flags)
		}
	}

	// ENVELOPE and BODYSTRUCTURE of the multipart message.
	msgs, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	env := msgs[0].Envelope
	if env.Subject != "Café multi" || env.MessageID != "multi@remote.example" ||
		!slices.Equal(env.InReplyTo, []string{"m1@remote.example"}) ||
		env.Date.Unix() != time.Date(2006, 1, 3, 9, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("envelope: %+v", env)
	}
	if len(env.From) != 1 || env.From[0].Name != "Multi Sender" || env.From[0].Addr() != "multi@remote.example" {
		t.Errorf("envelope from: %+v", env.From)
	}
	if len(env.Sender) != 1 || env.Sender[0].Addr() != "multi@remote.example" || len(env.ReplyTo) != 1 {
		t.Errorf("envelope sender/reply-to default to from: %+v %+v", env.Sender, env.ReplyTo)
	}
	if len(env.To) != 2 || env.To[1].Name != "Bob B." || env.To[1].Addr() != bob {
		t.Errorf("envelope to: %+v", env.To)
	}
	// Group syntax: start marker, members, end marker (RFC 9051 7.5.2).
	if len(env.Cc) != 4 || !env.Cc[0].IsGroupStart() || env.Cc[0].Mailbox != "Team" || !env.Cc[3].IsGroupEnd() ||
		env.Cc[1].Addr() != "carol@remote.example" {
		t.Errorf("envelope cc group: %+v", env.Cc)
	}
	mp, ok := msgs[0].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 3 || mp.Extended.Params["boundary"] != "XYZ" {
		t.Fatalf("bodystructure: %#v", msgs[0].BodyStructure)
	}
	p1 := mp.Children[0].(*imap.BodyStructureSinglePart)
	if p1.MediaType() != "text/plain" || p1.Size != uint32(len("Part one text.")) || p1.Text.NumLines != 1 || p1.Params["charset"] != "utf-8" {
		t.Errorf("part 1: %+v", p1)
	}
	p2 := mp.Children[1].(*imap.BodyStructureSinglePart)
	if p2.MediaType() != "application/octet-stream" || p2.Encoding != "base64" || p2.Size != 8 || p2.Filename() != "a.bin" {
		t.Errorf("part 2: %+v %+v", p2, p2.Extended)
	}
	p3 := mp.Children[2].(*imap.BodyStructureSinglePart)
	if p3.MediaType() != "message/rfc822" || p3.MessageRFC822 == nil || p3.MessageRFC822.Envelope.Subject != "Inner" ||
		p3.Size != uint32(len(inner)) || p3.MessageRFC822.BodyStructure.MediaType() != "text/plain" {
		t.Errorf("part 3: %+v", p3)
	}

	// BINARY and BINARY.SIZE decode the transfer encoding.
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BinarySection: []*imap.FetchItemBinarySection{bin},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, "BINARY[2]", msgs[0].FindBinarySection(bin), []byte{0, 1, 2, 3})
	if n, ok := msgs[0].FindBinarySectionSize([]int{2}); !ok || n != 4 {
		t.Errorf("BINARY.SIZE[2] = %d, %v", n, ok)
	}

	// BODY (non-extended) parses too.
	msgs, err = c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("BODY: %v %d", err, len(msgs))
	}
	if bs, ok := msgs[0].BodyStructure.(*imap.BodyStructureSinglePart); !ok || bs.Params["charset"] != "us-ascii" {
		t.Errorf("default content type: %#v", msgs[0].BodyStructure)
	}
}

func TestFetchObsoleteItemsAndSeen(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	e.deliver(simpleMsg)
	header := simpleMsg[:strings.Index(simpleMsg, "\r\n\r\n")+4]

	r := e.rawTLS()
	r.login(alice)
	r.ok("EXAMINE INBOX")
	// EXAMINE: BODY[] does not set \Seen.
	u := r.ok("FETCH 1 (BODY[] FLAGS)")
	if len(u) != 1 || !strings.Contains(u[0], `FLAGS (\Recent)`) {
		t.Errorf("EXAMINE FETCH BODY[]: %q", u)
	}
	_, tagged := r.cmd("STORE 1 +FLAGS (\\Flagged)")
	if !strings.Contains(tagged, "NO") {
		t.Errorf("STORE in EXAMINE: %q", tagged)
	}
	_, tagged = r.cmd("EXPUNGE")
	if !strings.Contains(tagged, "NO") {
		t.Errorf("EXPUNGE in EXAMINE: %q", tagged)
	}
	r.ok("CLOSE") // no expunge, but succeeds

	r.ok("SELECT INBOX")
	u = r.ok("FETCH 1 (RFC822.SIZE RFC822.HEADER)")
	mustEqualBytes(t, "RFC822.HEADER", literalOf(t, u[0], "RFC822.HEADER"), []byte(header))
	if !strings.Contains(u[0], fmt.Sprintf("RFC822.SIZE %d", len(simpleMsg))) {
		t.Errorf("RFC822.SIZE: %q", u[0])
	}
	if strings.Contains(u[0], "FLAGS") {
		t.Errorf("RFC822.HEADER set flags: %q", u[0])
	}
	u = r.ok("FETCH 1 RFC822.TEXT")
	mustEqualBytes(t, "RFC822.TEXT", literalOf(t, u[0], "RFC822.TEXT"), []byte(simpleMsg[len(header):]))
	if !strings.Contains(u[0], `FLAGS (\Seen \Recent)`) {
		t.Errorf("RFC822.TEXT did not report \\Seen: %q", u[0])
	}
	u = r.ok("UID FETCH 2 RFC822")
	mustEqualBytes(t, "RFC822", literalOf(t, u[0], "RFC822"), []byte(simpleMsg))
	if !strings.Contains(u[0], `FLAGS (\Seen \Recent)`) || !strings.Contains(u[0], "UID 2") {
		t.Errorf("UID FETCH RFC822: %q", u[0])
	}
	// Already seen: no FLAGS unless asked.
	u = r.ok("FETCH 2 BODY[]<0.4>")
	if !strings.Contains(u[0], "BODY[]<0> {4}\r\nFrom") || strings.Contains(u[0], "FLAGS") {
		t.Errorf("partial: %q", u[0])
	}
	u = r.ok("FETCH 1:* FAST")
	if len(u) != 2 || !strings.Contains(u[0], "INTERNALDATE") || !strings.Contains(u[0], "RFC822.SIZE") {
		t.Errorf("FAST: %q", u)
	}
	u = r.ok("FETCH 1 (BINARY.PEEK[] BINARY.SIZE[1])")
	mustEqualBytes(t, "BINARY[]", literalOf(t, u[0], "BINARY[]"), []byte(simpleMsg))
	// Fetching past the end returns nothing; a sequence number beyond is fine.
	u = r.ok("FETCH 5:9 FLAGS")
	if len(u) != 0 {
		t.Errorf("FETCH 5:9: %q", u)
	}
}

// TestFetchSealed: mail sealed to a key generation from before an
// administrator's reset is served as the placeholder, consistently.
func TestFetchSealed(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	if _, err := e.svc.ResetPassword(t.Context(), alice, password); err != nil {
		t.Fatal(err)
	}
	e.deliver(multipartMsg)
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{RFC822Size: true, BodySection: []*imap.FetchItemBodySection{whole},
		Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	body := msgs[0].FindBodySection(whole)
	if !strings.Contains(string(body), "recovery code") || msgs[0].RFC822Size != int64(len(body)) {
		t.Errorf("sealed message: size %d, %q", msgs[0].RFC822Size, body)
	}
	if !strings.HasPrefix(msgs[0].Envelope.Subject, "Sealed message") {
		t.Errorf("sealed envelope: %+v", msgs[0].Envelope)
	}
	mustEqualBytes(t, "unsealed message", msgs[1].FindBodySection(whole), []byte(multipartMsg))

	// A fresh session learns the size without fetching the body first.
	c2 := e.client(alice, &imapclient.Options{})
	if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs2, err := c2.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil || msgs2[0].RFC822Size != int64(len(body)) {
		t.Errorf("sealed RFC822.SIZE in a new session: %v %v", err, msgs2)
	}
}
