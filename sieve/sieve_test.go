package sieve

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

const testHeader = "Return-Path: <coyote@desert.example.org>\r\n" +
	"Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n" +
	"From: Wile E. Coyote <coyote@desert.example.org>\r\n" +
	"To: Road Runner <roadrunner@acme.example.com>\r\n" +
	"Cc: Other <other@example.net>, Second <second@example.net>\r\n" +
	"Subject: I have a present for you\r\n" +
	"Message-ID: <orig-1@desert.example.org>\r\n" +
	"X-Spam-Score: 7\r\n" +
	"Received: from a by b; Tue, 1 Apr 1997 09:06:31 -0800\r\n" +
	"Received: from c by d; Tue, 1 Apr 1997 09:06:30 -0800\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n"

const testBody = "Look, I'm sorry about the whole anvil thing.\r\nThe secret word is birdseed.\r\n"

var arrival = time.Date(2026, 7, 14, 10, 30, 0, 0, time.UTC)

func testMessage(header, body string) Message {
	return Message{
		Header: []byte(header),
		Body:   func() (io.Reader, error) { return strings.NewReader(body), nil },
		Size:   int64(len(header) + len(body)),
		Date:   arrival,
	}
}

var testEnv = Envelope{From: "coyote@desert.example.org", To: "roadrunner+birds@acme.example.com"}

func run(t *testing.T, src string, env Envelope, msg Message) (Plan, error) {
	t.Helper()
	s, err := Compile([]byte(src))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s.Run(context.Background(), env, msg)
}

func TestRun(t *testing.T) {
	inbox := Plan{Keep: true}
	tests := []struct {
		name   string
		script string
		env    Envelope
		header string
		want   Plan
	}{
		{"empty script keeps", ``, testEnv, testHeader, inbox},
		{"explicit keep", `keep;`, testEnv, testHeader, inbox},
		{"discard", `discard;`, testEnv, testHeader, Plan{Discard: true}},
		{"fileinto cancels implicit keep", `require "fileinto"; if header :contains "subject" "present" { fileinto "Gifts"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Gifts"}}}},
		{"fileinto not taken", `require "fileinto"; if header :contains "subject" "anvil" { fileinto "Gifts"; }`,
			testEnv, testHeader, inbox},
		{"fileinto :create", `require ["fileinto", "mailbox"]; fileinto :create "Archive/2026";`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Archive/2026", Create: true}}}},
		{"fileinto UTF-8 name twice", `require "fileinto"; fileinto "Entwürfe"; fileinto "Entwürfe";`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Entwürfe"}}}},
		{"fileinto :copy keeps", `require ["fileinto", "copy"]; fileinto :copy "Copies";`,
			testEnv, testHeader, Plan{Keep: true, FileInto: []FileInto{{Mailbox: "Copies"}}}},
		{"redirect", `redirect "other@example.org";`,
			testEnv, testHeader, Plan{Redirects: []string{"other@example.org"}}},
		{"redirect :copy", `require "copy"; redirect :copy "other@example.org";`,
			testEnv, testHeader, Plan{Keep: true, Redirects: []string{"other@example.org"}}},
		{"reject", `require "reject"; reject "go away";`,
			testEnv, testHeader, Plan{Reject: "go away"}},
		{"ereject", `require "ereject"; ereject "no thanks";`,
			testEnv, testHeader, Plan{Reject: "no thanks", RejectSMTP: true}},
		{"envelope :detail", `require ["envelope", "subaddress", "fileinto"]; if envelope :detail "to" "birds" { fileinto "Birds"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Birds"}}}},
		{"envelope :user", `require ["envelope", "subaddress", "fileinto"]; if envelope :user "to" "roadrunner" { fileinto "Me"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Me"}}}},
		{"envelope :detail without detail", `require ["envelope", "subaddress", "fileinto"]; if envelope :detail "to" "" { fileinto "Plain"; }`,
			Envelope{From: "a@b.example", To: "roadrunner@acme.example.com"}, testHeader, inbox},
		{"address :domain", `require "fileinto"; if address :is :domain "from" "desert.example.org" { fileinto "Desert"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Desert"}}}},
		{"addflag and implicit keep", `require "imap4flags"; addflag "\\Seen"; addflag ["$Junk", "work"];`,
			testEnv, testHeader, Plan{Keep: true, KeepFlags: []string{"$Junk", `\Seen`, "work"}}},
		{"setflag replaces", `require "imap4flags"; addflag "a"; setflag "\\Flagged";`,
			testEnv, testHeader, Plan{Keep: true, KeepFlags: []string{`\Flagged`}}},
		{"removeflag", `require "imap4flags"; setflag ["a", "b"]; removeflag "a";`,
			testEnv, testHeader, Plan{Keep: true, KeepFlags: []string{"b"}}},
		{"hasflag", `require ["imap4flags", "fileinto"]; addflag "\\Flagged"; if hasflag :is "\\flagged" { fileinto "Flagged"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Flagged", Flags: []string{`\Flagged`}}}}},
		{"hasflag false", `require ["imap4flags", "fileinto"]; if hasflag "\\Seen" { fileinto "Seen"; }`,
			testEnv, testHeader, inbox},
		{"hasflag on a variable", `require ["imap4flags", "fileinto", "variables"]; set "f" "x y"; if hasflag "f" "y" { fileinto "Y"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Y"}}}},
		{"hasflag :count", `require ["imap4flags", "fileinto", "relational", "comparator-i;ascii-numeric"]; addflag ["a", "b"]; if hasflag :count "eq" :comparator "i;ascii-numeric" "2" { fileinto "Two"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Two", Flags: []string{"a", "b"}}}}},
		{":flags leaves the variable", `require ["imap4flags", "fileinto"]; addflag "base"; fileinto :flags "\\Seen" "A"; fileinto "B";`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "A", Flags: []string{`\Seen`}}, {Mailbox: "B", Flags: []string{"base"}}}}},
		{"keep :flags", `require "imap4flags"; addflag "x"; keep :flags "\\Answered";`,
			testEnv, testHeader, Plan{Keep: true, KeepFlags: []string{`\Answered`}}},
		{"variables ${1} from :matches", `require ["fileinto", "variables"]; if header :matches "Subject" "I have a * for you" { fileinto "Gifts/${1}"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Gifts/present"}}}},
		{"variables set", `require ["fileinto", "variables"]; set :upper "box" "spam"; fileinto "${box}";`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "SPAM"}}}},
		{"body :contains", `require ["body", "fileinto"]; if body :contains "birdseed" { fileinto "Seed"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Seed"}}}},
		{"body :text", `require ["body", "fileinto"]; if body :text :contains "anvil" { fileinto "Anvil"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Anvil"}}}},
		{"body not found", `require ["body", "fileinto"]; if body :contains "dynamite" { fileinto "X"; }`,
			testEnv, testHeader, inbox},
		{"relational :count", `require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { fileinto "Many"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Many"}}}},
		{"relational :value", `require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" { fileinto "Junk"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Junk"}}}},
		{"relational :value below", `require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "10" { fileinto "Junk"; }`,
			testEnv, testHeader, inbox},
		{"date", `require ["date", "fileinto"]; if date :is :originalzone "date" "year" "1997" { fileinto "Old"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Old"}}}},
		{"currentdate is the arrival", `require ["date", "fileinto", "variables"]; if currentdate :zone "+0000" :matches "date" "*" { fileinto "Day/${1}"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Day/2026-07-14"}}}},
		{"index", `require ["index", "date", "fileinto"]; if header :index 2 :contains "received" "from c" { fileinto "Second"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Second"}}}},
		{"index :last", `require ["index", "fileinto"]; if header :index 1 :last :contains "received" "from c" { fileinto "Last"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Last"}}}},
		{"size", `require "fileinto"; if size :over 100 { fileinto "Big"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Big"}}}},
		{"stop", `require "fileinto"; fileinto "A"; stop; fileinto "B";`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "A"}}}},
		{"mailboxexists", `require ["mailbox", "fileinto"]; if mailboxexists "Known" { fileinto "Known"; } else { fileinto "Other"; }`,
			testEnv, testHeader, Plan{FileInto: []FileInto{{Mailbox: "Known"}}}},
		{"vacation", `require "vacation"; vacation :days 3 :subject "Away" :addresses ["rr@acme.example.com"] :handle "summer" "I am away.";`,
			testEnv, testHeader, Plan{Keep: true, Vacation: &Vacation{Reason: "I am away.", Subject: "Away",
				Addresses: []string{"rr@acme.example.com"}, Period: 3 * 24 * time.Hour, Handle: "summer"}}},
		{"vacation null sender", `require "vacation"; vacation "I am away.";`,
			Envelope{To: "roadrunner@acme.example.com"}, testHeader, inbox},
		{"vacation :days bounded", `require "vacation"; vacation :days 1000 :handle "h" "x";`,
			testEnv, testHeader, Plan{Keep: true, Vacation: &Vacation{Reason: "x", Period: MaxVacationPeriod, Handle: "h"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := testMessage(tt.header, testBody)
			msg.MailboxExists = func(_ context.Context, name string) (bool, error) { return name == "Known", nil }
			got, err := run(t, tt.script, tt.env, msg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
				if got.Vacation != nil {
					t.Errorf("vacation %+v", *got.Vacation)
				}
			}
		})
	}
}

func TestVacationHandleDerived(t *testing.T) {
	a, err := run(t, `require "vacation"; vacation "one";`, testEnv, testMessage(testHeader, ""))
	if err != nil {
		t.Fatal(err)
	}
	b, err := run(t, `require "vacation"; vacation "two";`, testEnv, testMessage(testHeader, ""))
	if err != nil {
		t.Fatal(err)
	}
	if a.Vacation.Handle == "" || a.Vacation.Handle == b.Vacation.Handle {
		t.Errorf("derived handles %q and %q", a.Vacation.Handle, b.Vacation.Handle)
	}
	if a.Vacation.Subject != "" || a.Vacation.Period != 7*24*time.Hour {
		t.Errorf("defaults: subject %q period %v", a.Vacation.Subject, a.Vacation.Period)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct{ name, script string }{
		{"too many redirects", `redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example"; redirect "d@x.example"; redirect "e@x.example"; redirect "f@x.example";`},
		{"invalid redirect", `redirect "not an address";`},
		{"reject and fileinto", `require ["reject", "fileinto"]; fileinto "A"; reject "no";`},
		{"reject and vacation", `require ["reject", "vacation"]; vacation "away"; reject "no";`},
		{"two rejects", `require "reject"; reject "a"; reject "b";`},
		{"empty mailbox", `require "fileinto"; fileinto "";`},
		{"too many fileinto", `require ["fileinto", "variables"];` + strings.Repeat(`fileinto "x${n}";set "n" "${n}1";`, MaxFileInto+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.script, testEnv, testMessage(testHeader, testBody))
			if !errors.Is(errors.Invalid, err) {
				t.Fatalf("Run: %v, want an Invalid error", err)
			}
		})
	}
}

// TestRunErrorQuotesNoMessage: a run-time error built from a value taken
// from the message does not carry it.
func TestRunErrorQuotesNoMessage(t *testing.T) {
	src := `require ["variables", "regex"]; if header :matches "Subject" "*" { if string :regex "x" "${1}(" { keep; } }`
	hdr := strings.Replace(testHeader, "I have a present for you", "secret-subject-words", 1)
	_, err := run(t, src, testEnv, testMessage(hdr, testBody))
	if err == nil {
		t.Fatal("no error for an invalid regular expression")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error quotes the message: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"unknown command", "keep;\n\nfrobnicate;", "line 3, column 1"},
		{"missing require", "keep;\nfileinto \"x\";", "line 2"},
		{"unsupported extension", "require \"editheader\";", "line 1"},
		{"unknown extension", "\n  require \"nonsense\";", "line 2, column 3"},
		{"unterminated string", "keep;\nif header :is \"a\" \"b", "line 2"},
		{"missing semicolon", "keep;\nkeep\nkeep;", "line 2"},
		{"bad tag", "require \"fileinto\";\nfileinto :bogus \"x\";", "line 2"},
		{"testsuite command", "test_config_set \"sieve_variables_max_variable_size\" \"99999999\";", "line 1"},
		{"hasflag without require", "if hasflag \"x\" { keep; }", "line 1"},
		{"reject without require", "reject \"x\";", "line 1"},
		{"currentdate bad part", "require \"date\";\nif currentdate \"bogus\" \"x\" { keep; }", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.script))
			if !errors.Is(errors.Invalid, err) {
				t.Fatalf("Compile: %v, want an Invalid error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile: %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestCompileBounds(t *testing.T) {
	big := strings.Repeat("# comment\n", MaxScriptSize/10+1)
	if _, err := Compile([]byte(big)); !errors.Is(errors.TooLarge, err) {
		t.Errorf("%d bytes: %v, want TooLarge", len(big), err)
	}
	deep := strings.Repeat("if true {", MaxNesting+2) + strings.Repeat("}", MaxNesting+2)
	if _, err := Compile([]byte(deep)); !errors.Is(errors.Invalid, err) {
		t.Errorf("deep nesting: %v, want Invalid", err)
	}
	many := strings.Repeat("keep;", MaxTokens)
	if _, err := Compile([]byte(many)); !errors.Is(errors.Invalid, err) {
		t.Errorf("%d commands: %v, want Invalid", MaxTokens, err)
	}
}

func TestExtensionsCompile(t *testing.T) {
	for _, ext := range Extensions() {
		if _, err := Compile([]byte(`require "` + ext + `";`)); err != nil {
			t.Errorf("require %q: %v", ext, err)
		}
	}
}

// TestBoundedRun: the costliest scripts the bounds allow finish quickly,
// and a deadline stops a run with an error.
func TestBoundedRun(t *testing.T) {
	// Go's regular expressions do not backtrack: a pattern that is
	// exponential elsewhere is linear here, over a bounded input.
	body := strings.Repeat("a", 2<<20)
	hdr := "Subject: " + strings.Repeat("a", 200000) + "\r\n\r\n"
	src := `require ["body", "regex", "variables"];` +
		strings.Repeat(`if body :raw :regex "(a*)*b" { keep; } if header :matches "subject" "*a*a*a*a*a*a*a*a*a*a*a*b" { keep; }`, 100)
	s, err := Compile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, testEnv, testMessage(hdr, body))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a run past its deadline gave no error")
		}
		if !errors.Is(errors.TooLarge, err) {
			t.Fatalf("Run: %v, want TooLarge", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop at its deadline")
	}

	// Variables doubling: bounded by the variable size limit.
	dbl := `require "variables"; set "a" "xxxxxxxxxxxxxxxx";` + strings.Repeat(`set "a" "${a}${a}";`, 400)
	start := time.Now()
	if _, err := run(t, dbl, testEnv, testMessage(testHeader, testBody)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("doubling variables ran %v", d)
	}
}

func TestMalformedMessage(t *testing.T) {
	// A header section cut short still runs; a missing body is no body.
	msg := Message{Header: []byte("Subject: hi\r\nFrom: a@b.example"), Size: 30}
	p, err := run(t, `require ["body", "fileinto"]; if body :contains "x" { fileinto "X"; } if address "from" "a@b.example" { fileinto "A"; }`, testEnv, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, Plan{FileInto: []FileInto{{Mailbox: "A"}}}) {
		t.Fatalf("got %+v", p)
	}
}

func TestImapFlags(t *testing.T) {
	got := imapFlags([]string{`\seen`, `\recent`, `\bogus`, "$junk", "ok", "bad(flag", ""})
	want := []string{`\Seen`, "$Junk", "ok"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
