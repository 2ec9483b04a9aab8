package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
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

	rng := mrand.New(mrand.NewPCG(uint64(i), 0x5ea1b05d))
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
		line = fillLine(line[:0], n, rng)
		b.Write(line)
		b.WriteString("\r\n")
		rem -= n + 2
	}
	return b.Bytes()
}

// fillLine appends exactly n characters of space-separated words to line.
// The line neither starts nor ends with a space, and never starts with a dot
// or "From " (RFC 5321 4.5.2 dot-stuffing and mbox quoting need not apply).
func fillLine(line []byte, n int, rng *mrand.Rand) []byte {
	for len(line) < n {
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, words[rng.IntN(len(words))]...)
	}
	line = line[:n]
	if line[n-1] == ' ' {
		line[n-1] = 'x'
	}
	return line
}
