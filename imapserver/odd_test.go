package imapserver

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// oddMessages are stored and must be served byte for byte. header is the
// expected BODY[HEADER] (BODY[TEXT] is the rest); subject the expected
// BODY[HEADER.FIELDS (SUBJECT)].
type oddMessage struct {
	name, raw, header, subject string
}

var oddMessages = []oddMessage{
	{
		name:    "mbox From line, bare LF",
		raw:     "From sender@remote.example Mon Jan  2 15:04:05 2006\nSubject: mbox\nFrom: a@remote.example\n\nbody line\n",
		header:  "From sender@remote.example Mon Jan  2 15:04:05 2006\nSubject: mbox\nFrom: a@remote.example\n\n",
		subject: "Subject: mbox\n\n",
	},
	{
		name:    "no blank line",
		raw:     "Subject: no body\r\nX-A: 1\r\n",
		header:  "Subject: no body\r\nX-A: 1\r\n",
		subject: "Subject: no body\r\n\r\n",
	},
	{
		name:    "header only, no final newline",
		raw:     "Subject: x",
		header:  "Subject: x",
		subject: "Subject: x\r\n",
	},
	{
		name:    "bare LF",
		raw:     "From: a@remote.example\nSubject: lf\n folded\n\nline1\nline2\n",
		header:  "From: a@remote.example\nSubject: lf\n folded\n\n",
		subject: "Subject: lf\n folded\n\n",
	},
	{
		name:    "non-UTF-8 header",
		raw:     "Subject: caf\xe9 \xff\xfe\r\nFrom: \xe9l\xe8ve <e@remote.example>\r\n\r\nbody \xe9\r\n",
		header:  "Subject: caf\xe9 \xff\xfe\r\nFrom: \xe9l\xe8ve <e@remote.example>\r\n\r\n",
		subject: "Subject: caf\xe9 \xff\xfe\r\n\r\n",
	},
	{
		name:    "malformed header lines",
		raw:     "\tleading continuation\r\nnot a header line\r\n: empty name\r\nSubject : spaced colon\r\nX-Bad\x00Name: v\r\n\r\nbody\r\n",
		header:  "\tleading continuation\r\nnot a header line\r\n: empty name\r\nSubject : spaced colon\r\nX-Bad\x00Name: v\r\n\r\n",
		subject: "Subject : spaced colon\r\n\r\n",
	},
	{
		name:    "leading blank line",
		raw:     "\r\nbody only\r\nSubject: not a header\r\n",
		header:  "\r\n",
		subject: "\r\n",
	},
	{
		name:    "binary body",
		raw:     "Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\xff\r\n\x00",
		header:  "Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n",
		subject: "Subject: bin\r\n\r\n",
	},
	{
		name: "broken multipart, LF, no close delimiter",
		raw: "Subject: mp\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\nContent-Type: text/plain\n\none\n" +
			"--b1\nContent-Type: multipart/mixed; boundary=\"b2\"\n\n--b2\n\ntwo\n--b2--\n--b1\n",
		header:  "Subject: mp\nContent-Type: multipart/alternative; boundary=b1\n\n",
		subject: "Subject: mp\n\n",
	},
	{
		name:    "multipart without boundary",
		raw:     "Subject: nb\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n",
		header:  "Subject: nb\r\nContent-Type: multipart/mixed\r\n\r\n",
		subject: "Subject: nb\r\n\r\n",
	},
	{
		name:    "garbage content type",
		raw:     "Subject: ct\r\nContent-Type: ;;;=\"\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nbody\r\n",
		header:  "Subject: ct\r\nContent-Type: ;;;=\"\r\nContent-Transfer-Encoding: x-unknown\r\n\r\n",
		subject: "Subject: ct\r\n\r\n",
	},
	{
		name:    "long header line",
		raw:     "Subject: " + strings.Repeat("long ", 3000) + "\r\n\r\nbody",
		header:  "Subject: " + strings.Repeat("long ", 3000) + "\r\n\r\n",
		subject: "Subject: " + strings.Repeat("long ", 3000) + "\r\n\r\n",
	},
}

func TestOddMessagesByteForByte(t *testing.T) {
	e := newEnv(t)
	for _, m := range oddMessages {
		if !strings.HasPrefix(m.raw, m.header) {
			t.Fatalf("%s: bad test case", m.name)
		}
		e.deliver(m.raw)
	}
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	subject := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	mime1 := &imap.FetchItemBodySection{Part: []int{1}, Specifier: imap.PartSpecifierMIME, Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 3, Size: 7}}
	textPartial := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true, Partial: &imap.SectionPartial{Offset: 1, Size: 3}}
	for i, m := range oddMessages {
		seq := uint32(i + 1)
		msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{
			RFC822Size: true, Envelope: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection:   []*imap.FetchItemBodySection{whole, header, text, subject, part1, mime1, partial, textPartial},
		}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Errorf("%s: fetch: %v (%d messages)", m.name, err, len(msgs))
			continue
		}
		got := msgs[0]
		raw := []byte(m.raw)
		body := raw[len(m.header):]
		mustEqualBytes(t, m.name+": BODY[]", got.FindBodySection(whole), raw)
		mustEqualBytes(t, m.name+": BODY[HEADER]", got.FindBodySection(header), []byte(m.header))
		mustEqualBytes(t, m.name+": BODY[TEXT]", got.FindBodySection(text), body)
		mustEqualBytes(t, m.name+": BODY[HEADER.FIELDS (Subject)]", got.FindBodySection(subject), []byte(m.subject))
		mustEqualBytes(t, m.name+": BODY[]<3.7>", got.FindBodySection(partial), raw[min(3, len(raw)):min(10, len(raw))])
		mustEqualBytes(t, m.name+": BODY[TEXT]<1.3>", got.FindBodySection(textPartial), body[min(1, len(body)):min(4, len(body))])
		if got.RFC822Size != int64(len(raw)) {
			t.Errorf("%s: RFC822.SIZE %d, want %d", m.name, got.RFC822Size, len(raw))
		}
		if _, ok := got.BodyStructure.(*imap.BodyStructureMultiPart); !ok {
			// Single part: part 1 is the body, its MIME header the header.
			mustEqualBytes(t, m.name+": BODY[1]", got.FindBodySection(part1), body)
			mustEqualBytes(t, m.name+": BODY[1.MIME]", got.FindBodySection(mime1), []byte(m.header))
		}
		if got.Envelope == nil {
			t.Errorf("%s: no envelope", m.name)
		}
	}

	// RFC822 over the raw protocol too, for every message at once.
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	u := r.ok("FETCH 1:* (RFC822.SIZE RFC822)")
	if len(u) != len(oddMessages) {
		t.Fatalf("FETCH 1:*: %d responses", len(u))
	}
	for i, m := range oddMessages {
		mustEqualBytes(t, m.name+": RFC822", literalOf(t, u[i], "RFC822"), []byte(m.raw))
		if !strings.Contains(u[i], fmt.Sprintf("RFC822.SIZE %d ", len(m.raw))) {
			t.Errorf("%s: RFC822.SIZE in %q", m.name, u[i][:min(60, len(u[i]))])
		}
	}
	// BINARY of a part with an unknown transfer encoding (RFC 3516 4.3).
	seq := slices.IndexFunc(oddMessages, func(m oddMessage) bool { return m.name == "garbage content type" }) + 1
	_, tagged := r.cmd("FETCH %d BINARY.PEEK[1]", seq)
	if !strings.Contains(tagged, "NO [UNKNOWN-CTE]") {
		t.Errorf("BINARY of x-unknown: %q", tagged)
	}
	// BODYSTRUCTURE and BODY of every odd message parse.
	all, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect()
	if err != nil || len(all) != len(oddMessages) {
		t.Errorf("BODY of odd messages: %v (%d)", err, len(all))
	}
}

func TestOddMultipartSections(t *testing.T) {
	raw := oddMessages[8].raw // broken multipart
	root := parseMessage([]byte(raw))
	bs, ok := root.structure().(*imap.BodyStructureMultiPart)
	if !ok || len(bs.Children) != 2 {
		t.Fatalf("structure: %#v", root.structure())
	}
	want := map[string]string{"1": "one", "2.1": "two", "2": between(raw, "boundary=\"b2\"\n\n", "\n--b1\n")}
	for path, w := range want {
		var part []int
		for _, p := range strings.Split(path, ".") {
			part = append(part, int(p[0]-'0'))
		}
		got, ok := root.section(&imap.FetchItemBodySection{Part: part})
		if !ok || !bytes.Equal(got, []byte(w)) {
			t.Errorf("BODY[%s] = %q, %v; want %q", path, got, ok, w)
		}
	}
}
