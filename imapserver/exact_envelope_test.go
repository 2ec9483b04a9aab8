package imapserver

import "testing"

// TestEnvelopeRouteAndDate: the envelope's date is the Date field's text
// as written (RFC 3501 7.4.2, RFC 9051 7.5.2), and an obsolete source route
// is the address structure's at-domain-list, not part of the mailbox name.
// Comments inside an addr-spec are not part of it either.
func TestEnvelopeRouteAndDate(t *testing.T) {
	e := newEnv(t)
	e.deliver("Date: Thu, 15 Feb 2007  01:02:03 +0200 (EET)\r\nSubject: s\r\n" +
		"From: <user-from (comment)@ (comment) domain.org>\r\nTo: <@route:user@domain>, \"Real Name\" <@a.example,@b.example:x@y.example>\r\n\r\nbody\r\n")
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	from := `((NIL NIL "user-from" "domain.org"))`
	want := `* 1 FETCH (ENVELOPE ("Thu, 15 Feb 2007  01:02:03 +0200 (EET)" "s" ` + from + " " + from + " " + from +
		` ((NIL "@route" "user" "domain") ("Real Name" "@a.example,@b.example" "x" "y.example")) NIL NIL NIL NIL))` + "\r\n"
	if u := r.ok("FETCH 1 ENVELOPE"); len(u) != 1 || u[0] != want {
		t.Errorf("ENVELOPE:\n got %q\nwant %q", u, want)
	}
}

// TestSearchAddresses: SEARCH FROM, TO, CC and BCC find a string in the
// field's text or in its addresses as the envelope gives them (RFC 3501
// 6.4.4), comments and folding white space within an address left out.
func TestSearchAddresses(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{
		"From: <user-from (comment)@ (comment) domain.org>\r\nTo: someone@example.org\r\n",
		"From: \"Real Name\" <user-from@domain.org>\r\nTo: someone@example.org\r\n",
		"From: other@domain.org\r\nTo: user-to@domain.org\r\nCc: Cc Person <user-cc@domain.org>\r\nBcc: user-bcc@domain.org\r\n",
		"From: user-from @ domain.org\r\nTo: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\r\n",
	} {
		e.deliver(h + "Subject: s\r\n\r\nbody\r\n")
	}
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	for _, c := range []struct{ cmd, want string }{
		{"SEARCH FROM user-from@domain.org", "* SEARCH 1 2 4\r\n"},
		{"SEARCH FROM \"real name <user-from@\"", "* SEARCH 2\r\n"},
		{"SEARCH FROM comment", "* SEARCH 1\r\n"},
		{"SEARCH TO user-to@domain.org", "* SEARCH 3\r\n"},
		{"SEARCH CC \"cc person\"", "* SEARCH 3\r\n"},
		{"SEARCH CC user-cc@domain.org", "* SEARCH 3\r\n"},
		{"SEARCH BCC user-bcc", "* SEARCH 3\r\n"},
		{"SEARCH CHARSET UTF-8 TO \"J\xc3\xb6rg <joerg@\"", "* SEARCH 4\r\n"},
		{"SEARCH TO nobody", "* SEARCH\r\n"},
	} {
		if u := r.ok("%s", c.cmd); len(u) != 1 || u[0] != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, u, c.want)
		}
	}
}

// TestEnvelopeFields: every field of the envelope (RFC 3501 7.4.2): a
// comment as the display name, empty Sender and Reply-To taken as From,
// group syntax as group start and end markers, empty groups included.
func TestEnvelopeFields(t *testing.T) {
	e := newEnv(t)
	e.deliver("Message-ID: <m@id>\r\nIn-Reply-To: <r@id>\r\nDate: Thu, 15 Feb 2007 01:02:03 +0200\r\nSubject: subj\r\n" +
		"From: F Name <f@f.example>\r\nTo: T Name <t@t.example>\r\nCc: C Name <c@c.example>\r\nBcc: B Name <b@b.example>\r\n" +
		"Sender: S Name <s@s.example>\r\nReply-To: R Name <r@r.example>\r\n\r\nbody\r\n")
	e.deliver("Date: Thu, 15 Feb 2007 01:02:03 +0200\r\nFrom: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n" +
		"To: team: a@a.example, b@b.example;, other: c@c.example;\r\nCc: team:;, other: (nobody) ;\r\n\r\nbody\r\n")
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	real := `(("Real Name" NIL "user" "domain"))`
	wantLines(t, "ENVELOPE", r.ok("FETCH 1:2 ENVELOPE"),
		`* 1 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" "subj" (("F Name" NIL "f" "f.example")) (("S Name" NIL "s" "s.example")) (("R Name" NIL "r" "r.example")) (("T Name" NIL "t" "t.example")) (("C Name" NIL "c" "c.example")) (("B Name" NIL "b" "b.example")) "<r@id>" "<m@id>"))`+"\r\n",
		`* 2 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL `+real+" "+real+" "+real+
			` ((NIL NIL "team" NIL) (NIL NIL "a" "a.example") (NIL NIL "b" "b.example") (NIL NIL NIL NIL) (NIL NIL "other" NIL) (NIL NIL "c" "c.example") (NIL NIL NIL NIL))`+
			` ((NIL NIL "team" NIL) (NIL NIL NIL NIL) (NIL NIL "other" NIL) (NIL NIL NIL NIL)) NIL NIL NIL))`+"\r\n")
}
