package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// SearchWord appears once in the body of every generated message, so that a
// search for it matches the whole mailbox a fill produced.
const SearchWord = "sealpostbench"

// maxBodyLine is the longest body line generated, without its CRLF: within
// the 78 characters RFC 5322 2.1.1 recommends (and far below its hard 998).
const maxBodyLine = 76

// runID makes markers and Message-IDs unique across runs of the program.
var runID = func() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%012x", time.Now().UnixNano()&0xffffffffffff)
	}
	return hex.EncodeToString(b[:])
}()

// Marker returns the token that identifies message i of this run. It appears
// in the X-Bench-Marker header and in the first body line.
func Marker(i int) string {
	return fmt.Sprintf("spb%s-%d", runID, i)
}

// words fill the body. Printable US-ASCII only, so the message is 7bit.
var words = strings.Fields(`mail seal post key box inbox letter message
	server client relay queue domain header body line word text secret open
	close read write send store fetch search idle sign plain cipher random
	alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima
	mike november oscar papa quebec romeo sierra tango uniform victor whiskey
	xray yankee zulu north south east west river mountain forest ocean`)

// Message returns message i of a run, an RFC 5322 message from from to to of
// exactly size bytes (CRLF line endings), or of the smallest size that holds
// its headers and first body line if size is smaller than that.
//
// It carries Date, From, To, Subject, Message-ID and MIME-Version headers
// (RFC 5322 3.6, RFC 2045 4) and a text/plain body of pseudo-random words in
// lines of at most 78 characters (RFC 5322 2.1.1). The body's first line
// holds SearchWord and Marker(i). For a given i, size, from and to the size
// and the body are always the same; only the Date and this run's marker
// prefix change between runs.
func Message(i int, size int, from, to string) []byte {
	rng := mrand.New(mrand.NewPCG(uint64(i), 0x5ea1b05d))
	return message(i, size, from, to, func() string { return words[rng.IntN(len(words))] })
}

// MessageText is Message with a body of real text: the words of text (see
// TextWords), in order and wrapping around, from a place that depends on
// i, so that a server's filters see the vocabulary of real mail rather
// than Message's few dozen words. text must not be empty.
func MessageText(i int, size int, from, to string, text []string) []byte {
	next := (i * 7919) % len(text)
	return message(i, size, from, to, func() string {
		w := text[next]
		next = (next + 1) % len(text)
		return w
	})
}

// maxTextWord bounds the words TextWords keeps (longer ones are mostly
// encoded data, not text).
const maxTextWord = 30

// TextWords returns the words of the text files in dir (not its
// sub-folders), in file name order: of each file the body, after its
// header section if it starts with one (a mail message), split at white
// space, keeping only words of printable US-ASCII of at most maxTextWord
// bytes that do not start with a dot or "From" (so that the lines made of
// them need neither dot-stuffing nor mbox quoting). It fails if dir holds
// no such word.
func TextWords(dir string) ([]string, error) {
	const op = "bench.TextWords"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.E(op, err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, errors.E(op, err)
		}
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 && isHeaderStart(b) {
			b = b[i+2:]
		} else if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 && isHeaderStart(b) {
			b = b[i+4:]
		}
		for _, w := range bytes.Fields(b) {
			if len(w) <= maxTextWord && printableASCII(w) && w[0] != '.' && !bytes.HasPrefix(w, []byte("From")) {
				out = append(out, string(w))
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("no words of text in %s", dir))
	}
	return out, nil
}

// isHeaderStart reports whether b starts like a header field ("Name:").
func isHeaderStart(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ':':
			return i > 0
		case c <= ' ' || c > '~':
			return false
		}
	}
	return false
}

func printableASCII(w []byte) bool {
	for _, c := range w {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// message is Message and MessageText, with the body's words from next.
func message(i int, size int, from, to string, next func() string) []byte {
	domain := "bench.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	marker := Marker(i)
	var b bytes.Buffer
	b.Grow(size + 512)
	// RFC 5322 3.3: this layout has a fixed width (two-digit day).
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(&b, "From: <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: Sealpost bench message %d\r\n", i)
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", marker, domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	b.WriteString("Content-Transfer-Encoding: 7bit\r\n")
	fmt.Fprintf(&b, "X-Bench-Marker: %s\r\n", marker)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "%s marker %s\r\n", SearchWord, marker)

	line := make([]byte, 0, maxBodyLine)
	for rem := size - b.Len(); rem > 0; {
		// Each line costs its length plus CRLF and is at least one character
		// long, so never leave a remainder of 1 or 2 bytes for the next.
		n := maxBodyLine
		switch {
		case rem <= maxBodyLine+2:
			n = rem - 2
		case rem-(maxBodyLine+2) < 3:
			n = maxBodyLine - 3
		}
		if n < 1 {
			// rem is 1 or 2: only reached when the headers alone are near
			// size; one short line overshoots by at most 2 bytes.
			n = 1
		}
		line = fillLine(line[:0], n, next)
		b.Write(line)
		b.WriteString("\r\n")
		rem -= n + 2
	}
	return b.Bytes()
}

// fillLine appends exactly n characters of space-separated words to line.
// The line neither starts nor ends with a space, and never starts with a dot
// or "From " (RFC 5321 4.5.2 dot-stuffing and mbox quoting need not apply).
func fillLine(line []byte, n int, next func() string) []byte {
	for len(line) < n {
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, next()...)
	}
	line = line[:n]
	if line[n-1] == ' ' {
		line[n-1] = 'x'
	}
	return line
}
