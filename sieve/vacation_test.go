package sieve

import (
	"bufio"
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestShouldReply(t *testing.T) {
	own := []string{"roadrunner@acme.example.com"}
	v := &Vacation{Addresses: []string{"rr@acme.example.com"}}
	base := "From: Coyote <coyote@desert.example.org>\r\nTo: Road Runner <roadrunner@acme.example.com>\r\nSubject: hi\r\n\r\n"
	tests := []struct {
		name   string
		from   string
		header string
		want   bool
	}{
		{"addressed to us", "coyote@desert.example.org", base, true},
		{"in Cc", "coyote@desert.example.org", "To: x@y.example\r\nCc: a@b.example, RoadRunner@ACME.example.com\r\n\r\n", true},
		{"with a detail", "coyote@desert.example.org", "To: roadrunner+news@acme.example.com\r\n\r\n", true},
		{"to an :addresses address", "coyote@desert.example.org", "To: rr@acme.example.com\r\n\r\n", true},
		{"Resent-To", "coyote@desert.example.org", "To: x@y.example\r\nResent-To: roadrunner@acme.example.com\r\n\r\n", true},
		{"not addressed to us", "coyote@desert.example.org", "To: someone@else.example\r\n\r\n", false},
		{"null sender", "", base, false},
		{"mailer-daemon", "MAILER-DAEMON@desert.example.org", base, false},
		{"owner-", "owner-list@lists.example.org", base, false},
		{"-request", "list-request@lists.example.org", base, false},
		{"from ourselves", "roadrunner@acme.example.com", base, false},
		{"auto-submitted", "coyote@desert.example.org", "Auto-Submitted: auto-generated\r\n" + base, false},
		{"auto-submitted no", "coyote@desert.example.org", "Auto-Submitted: no\r\n" + base, true},
		{"precedence bulk", "coyote@desert.example.org", "Precedence: bulk\r\n" + base, false},
		{"precedence junk", "coyote@desert.example.org", "Precedence: Junk\r\n" + base, false},
		{"precedence list", "coyote@desert.example.org", "Precedence: list\r\n" + base, false},
		{"list-id", "coyote@desert.example.org", "List-Id: <birds.lists.example.org>\r\n" + base, false},
		{"list-unsubscribe", "coyote@desert.example.org", "List-Unsubscribe: <mailto:u@lists.example.org>\r\n" + base, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := ShouldReply(Envelope{From: tt.from, To: "roadrunner@acme.example.com"}, []byte(tt.header), v, own)
			if got != tt.want {
				t.Fatalf("ShouldReply = %v (%s), want %v", got, why, tt.want)
			}
			if !got && why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestBuildReply(t *testing.T) {
	v := &Vacation{Reason: "I am away until Monday.\nBack soon; ünïcode.", Period: 7 * 24 * time.Hour, Handle: "h"}
	env := Envelope{From: "coyote@desert.example.org", To: "roadrunner@acme.example.com"}
	hdr := "Subject: I have a present for you\r\nMessage-ID: <orig-1@desert.example.org>\r\nReferences: <older@desert.example.org>\r\n\r\n"
	b, err := BuildReply(v, env, []byte(hdr), "Road Runner <roadrunner@acme.example.com>", arrival)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\r")) {
		t.Fatalf("a line does not end in CRLF:\n%q", b)
	}
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Auto-Submitted": "auto-replied",
		"To":             "<coyote@desert.example.org>",
		"Subject":        "Auto: I have a present for you",
		"In-Reply-To":    "<orig-1@desert.example.org>",
		"References":     "<older@desert.example.org> <orig-1@desert.example.org>",
	}
	for k, w := range want {
		if got := m.Header.Get(k); got != w {
			t.Errorf("%s: %q, want %q", k, got, w)
		}
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@acme.example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(m.Body)
	if !strings.Contains(body.String(), "I am away until Monday.") {
		t.Errorf("body %q", body)
	}

	// A script's subject; a null sender gets nothing.
	v.Subject = "Away"
	b, err = BuildReply(v, env, []byte(hdr), "roadrunner@acme.example.com", arrival)
	if err != nil || !bytes.Contains(b, []byte("Subject: Away\r\n")) {
		t.Fatalf("%v\n%s", err, b)
	}
	if _, err := BuildReply(v, Envelope{}, []byte(hdr), "roadrunner@acme.example.com", arrival); err == nil {
		t.Fatal("reply to a null sender built")
	}

	// :mime: the reason is the entity.
	v.MIME = true
	v.Reason = "Content-Type: text/plain; charset=us-ascii\n\nAway.\n"
	b, err = BuildReply(v, env, []byte(hdr), "roadrunner@acme.example.com", arrival)
	if err != nil || !bytes.Contains(b, []byte("Content-Type: text/plain; charset=us-ascii\r\n\r\nAway.\r\n")) {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestMemory(t *testing.T) {
	var key [32]byte
	copy(key[:], "a key of thirty-two bytes, right")
	m := NewMemory(key)
	week := 7 * 24 * time.Hour
	now := arrival
	if !m.Due("coyote@desert.example.org", "h", week, now) {
		t.Fatal("first reply not due")
	}
	m.Record("Coyote@Desert.example.org", "h", now)
	if m.Due("coyote@desert.example.org", "h", week, now.Add(6*24*time.Hour)) {
		t.Fatal("reply due within the period")
	}
	if !m.Due("coyote@desert.example.org", "h", week, now.Add(week)) {
		t.Fatal("reply not due after the period")
	}
	if !m.Due("coyote@desert.example.org", "other", week, now) {
		t.Fatal("another handle is not due")
	}

	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(b), []byte("coyote")) {
		t.Fatal("the marshalled memory holds the address")
	}
	m2 := NewMemory(key)
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if m2.Due("coyote@desert.example.org", "h", week, now.Add(time.Hour)) {
		t.Fatal("round trip lost the entry")
	}
	var other [32]byte
	m3 := NewMemory(other)
	m3.UnmarshalBinary(b)
	if !m3.Due("coyote@desert.example.org", "h", week, now.Add(time.Hour)) {
		t.Fatal("another key found the entry")
	}
	for _, bad := range [][]byte{nil, {2, 0, 0, 0, 0}, append(append([]byte(nil), b...), 0)} {
		if err := m2.UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%x) took it", bad)
		}
	}

	// Pruned after the longest period; bounded.
	m.Prune(now.Add(MaxVacationPeriod + time.Second))
	if m.Len() != 0 {
		t.Fatalf("%d entries after the longest period", m.Len())
	}
	for i := 0; i < MaxMemoryEntries+50; i++ {
		m.Record(strings.Repeat("x", i%7)+string(rune('a'+i%26))+"@example.org", string(rune(i)), now.Add(time.Duration(i)*time.Second))
	}
	if m.Len() > MaxMemoryEntries {
		t.Fatalf("%d entries, bound %d", m.Len(), MaxMemoryEntries)
	}
	if m.Due(strings.Repeat("x", (MaxMemoryEntries+49)%7)+string(rune('a'+(MaxMemoryEntries+49)%26))+"@example.org", string(rune(MaxMemoryEntries+49)), week, now.Add(time.Duration(MaxMemoryEntries+50)*time.Second)) {
		t.Fatal("the newest entry was evicted")
	}
}
