package bench

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkMessage verifies that msg is a well-formed RFC 5322 message as
// Message promises, and returns its parsed form.
func checkMessage(t testing.TB, i int, msg []byte, from, to string) *mail.Message {
	t.Helper()
	for n, line := range bytes.Split(msg, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("message %d line %d has %d characters (RFC 5322 2.1.1 limit 998)", i, n, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("message %d line %d has a bare CR or LF", i, n)
		}
		for _, c := range line {
			if c < 0x20 && c != '\t' || c > 0x7e {
				t.Fatalf("message %d line %d has non-printable byte %#x", i, n, c)
			}
		}
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		t.Fatalf("message %d does not end with CRLF", i)
	}
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("message %d does not parse: %v", i, err)
	}
	for _, h := range []string{"Date", "From", "To", "Subject", "Message-Id", "Mime-Version", "Content-Type"} {
		if m.Header.Get(h) == "" {
			t.Errorf("message %d lacks %s", i, h)
		}
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("message %d Date: %v", i, err)
	}
	if a, err := mail.ParseAddress(m.Header.Get("From")); err != nil || a.Address != from {
		t.Errorf("message %d From = %v, %v; want %s", i, a, err, from)
	}
	if a, err := mail.ParseAddress(m.Header.Get("To")); err != nil || a.Address != to {
		t.Errorf("message %d To = %v, %v; want %s", i, a, err, to)
	}
	if got := m.Header.Get("X-Bench-Marker"); got != Marker(i) {
		t.Errorf("message %d marker header %q, want %q", i, got, Marker(i))
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(body), "\r\n")
	if !strings.Contains(first, SearchWord) || !strings.Contains(first, Marker(i)) {
		t.Errorf("message %d first body line %q lacks the search word or marker", i, first)
	}
	for n, line := range strings.Split(string(body), "\r\n") {
		if len(line) > 78 {
			t.Errorf("message %d body line %d has %d characters, want ≤ 78", i, n, len(line))
		}
	}
	return m
}

func TestMessage(t *testing.T) {
	const from, to = "bench@example.com", "alice@example.org"
	for _, size := range []int{600, 1000, 1234, 4096, 10240, 65537, 1 << 20} {
		for _, i := range []int{0, 1, 99, 123456789} {
			msg := Message(i, size, from, to)
			checkMessage(t, i, msg, from, to)
			// The generator aims at exactly size; the brief allows ±1%.
			if d := len(msg) - size; d*100 > size || -d*100 > size {
				t.Errorf("Message(%d, %d) is %d bytes, more than 1%% off", i, size, len(msg))
			}
			if again := Message(i, size, from, to); len(again) != len(msg) {
				t.Errorf("Message(%d, %d) sizes differ between calls: %d, %d", i, size, len(msg), len(again))
			}
		}
	}
	if bytes.Equal(Message(1, 2000, from, to), Message(2, 2000, from, to)) {
		t.Error("messages 1 and 2 are identical")
	}
}

func TestMessageTooSmall(t *testing.T) {
	// A size below the headers gives the smallest complete message.
	msg := Message(7, 10, "a@b.example", "c@d.example")
	checkMessage(t, 7, msg, "a@b.example", "c@d.example")
	if len(msg) < 100 || len(msg) > 600 {
		t.Errorf("minimal message is %d bytes", len(msg))
	}
}

func FuzzMessage(f *testing.F) {
	for _, seed := range []struct{ i, size int }{{0, 1}, {1, 400}, {2, 401}, {3, 402}, {4, 480}, {5, 5000}} {
		f.Add(seed.i, seed.size)
	}
	f.Fuzz(func(t *testing.T, i, size int) {
		if i < 0 || size < 1 || size > 1<<18 {
			t.Skip()
		}
		msg := Message(i, size, "bench@example.com", "u@example.org")
		checkMessage(t, i, msg, "bench@example.com", "u@example.org")
		// Once the headers fit, the size is exact.
		if min := len(Message(i, 1, "bench@example.com", "u@example.org")); size >= min+3 && len(msg) != size {
			t.Errorf("Message(%d, %d) is %d bytes", i, size, len(msg))
		}
	})
}

// TestMessageUnchanged: generated bodies are what they were before
// MessageText shared their code (a digest of message 5's body after its
// marker line, taken from the previous code).
func TestMessageUnchanged(t *testing.T) {
	m := Message(5, 4096, "a@b.example", "c@d.example")
	_, body, _ := bytes.Cut(m, []byte("\r\n\r\n"))
	_, rest, _ := bytes.Cut(body, []byte("\r\n"))
	const want = "db4f0b8a4449b4b30283f58d7b63bb3b6438b76b548748563e77712155799138"
	if got := fmt.Sprintf("%x", sha256.Sum256(rest)); got != want {
		t.Errorf("Message(5, 4096) body digest %s, want %s", got, want)
	}
}

// TestMessageText: TextWords keeps the bodies' plain words (not a mail
// header, not long or non-ASCII tokens, nothing that would need
// dot-stuffing), and MessageText lays them out in order in a message as
// valid as Message's.
func TestMessageText(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"1.txt": "From: someone@example.net\nSubject: header words stay out\n\nHello there, .hidden From: dear\nfriend café " +
			strings.Repeat("x", 31) + " end\n",
		"2.txt": "plain text without a header\r\nsecond line\r\n",
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	words, err := TextWords(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields("Hello there, dear friend end plain text without a header second line")
	if !slices.Equal(words, want) {
		t.Fatalf("TextWords = %q, want %q", words, want)
	}
	const from, to = "bench@example.com", "alice@example.org"
	for _, i := range []int{0, 1, 77} {
		msg := MessageText(i, 4096, from, to, words)
		checkMessage(t, i, msg, from, to)
		if len(msg) != 4096 {
			t.Errorf("MessageText(%d, 4096) is %d bytes", i, len(msg))
		}
		_, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
		_, rest, _ := bytes.Cut(body, []byte("\r\n"))
		// Each line's words are in the text's order (wrapping around; the
		// test's words are distinct); only a line's last word may be cut
		// to fit.
		for _, line := range strings.Split(strings.TrimSuffix(string(rest), "\r\n"), "\r\n") {
			lw := strings.Fields(line)
			pos := slices.Index(words, lw[0])
			for k, w := range lw {
				if k < len(lw)-1 && w != words[pos%len(words)] {
					t.Fatalf("message %d: %q in line %q, want %q (in order)", i, w, line, words[pos%len(words)])
				}
				pos++
			}
		}
	}
	if _, err := TextWords(t.TempDir()); err == nil {
		t.Error("TextWords of an empty folder did not fail")
	}
}
