package imapserver

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// TestSaveDate: FETCH SAVEDATE and the SAVED* search keys (RFC 8514): the
// save date is when the message was stored in this mailbox, not its
// internal date, and a copy gets its own.
func TestSaveDate(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	if u := r.ok("CAPABILITY"); !strings.Contains(u[0], " SAVEDATE") {
		t.Errorf("SAVEDATE not advertised: %q", u)
	}
	msg := "Subject: old\r\n\r\nx\r\n"
	r.ok("APPEND INBOX \"01-Jan-2000 10:00:00 +0000\" {%d+}\r\n%s", len(msg), msg)
	today := time.Now().UTC().Format("2-Jan-2006")
	r.ok("SELECT INBOX")
	u := r.ok("FETCH 1 (INTERNALDATE SAVEDATE)")
	m := regexp.MustCompile(`^\* 1 FETCH \(INTERNALDATE " 1-Jan-2000 10:00:00 \+0000" SAVEDATE "([^"]+)"\)\r\n$`).FindStringSubmatch(u[0])
	if m == nil {
		t.Fatalf("FETCH SAVEDATE: %q", u)
	}
	saved, err := time.Parse("_2-Jan-2006 15:04:05 -0700", m[1])
	if err != nil || time.Since(saved) > time.Minute || time.Since(saved) < -time.Minute {
		t.Errorf("SAVEDATE %q is not now (%v)", m[1], err)
	}
	tests := []struct{ cmd, want string }{
		{"SEARCH SAVEDON " + today, "* SEARCH 1"},
		{"SEARCH SAVEDSINCE " + today, "* SEARCH 1"},
		{"SEARCH SAVEDBEFORE " + today, "* SEARCH"},
		{"SEARCH SAVEDSINCE 1-Jan-2000 SAVEDBEFORE 2-Jan-2000", "* SEARCH"},
		{"SEARCH SINCE " + today, "* SEARCH"},
		{"SEARCH ON 1-Jan-2000", "* SEARCH 1"},
		{"SEARCH SAVEDATESUPPORTED", "* SEARCH 1"},
		{"SEARCH NOT SAVEDON " + today, "* SEARCH"},
		{"SEARCH OR SAVEDBEFORE 1-Jan-2001 ON 1-Jan-2000", "* SEARCH 1"},
		{"UID SEARCH RETURN (COUNT) SAVEDON " + today, `* ESEARCH (TAG "T%d") UID COUNT 1`},
	}
	for _, tt := range tests {
		u := r.ok("%s", tt.cmd)
		want := tt.want
		if strings.Contains(want, "%d") {
			want = strings.Replace(want, "%d", itoa(r.tag), 1)
		}
		if len(u) != 1 || u[0] != want+"\r\n" {
			t.Errorf("%s: got %q, want %q", tt.cmd, u, want)
		}
	}
	if _, tagged := r.cmd("SEARCH SAVEDON yesterday"); !strings.Contains(tagged, " BAD ") {
		t.Errorf("bad date: %q", tagged)
	}
	// A copy is saved now, its internal date kept.
	r.ok("COPY 1 Archive")
	r.ok("SELECT Archive")
	u = r.ok("FETCH 1 (INTERNALDATE SAVEDATE)")
	if !strings.Contains(u[0], `INTERNALDATE " 1-Jan-2000 10:00:00 +0000" SAVEDATE "`) {
		t.Errorf("copy: %q", u)
	}
}

// TestMatchSaveDate: a message stored before save dates were kept matches
// no SAVED* date key, but SAVEDATESUPPORTED.
func TestMatchSaveDate(t *testing.T) {
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	old := sealpost.Message{InternalDate: day}
	saved := sealpost.Message{InternalDate: day, SaveDate: day.Add(5 * time.Hour)}
	on := &imap.SearchCriteriaSaveDate{Since: day, Before: day.Add(24 * time.Hour)}
	if matchSaveDate(old, on) || !matchSaveDate(saved, on) {
		t.Error("SAVEDON")
	}
	if !matchSaveDate(old, &imap.SearchCriteriaSaveDate{Supported: true}) || !matchSaveDate(old, nil) {
		t.Error("SAVEDATESUPPORTED")
	}
}
