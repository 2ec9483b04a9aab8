package imapserver

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
)

// RFC 9051 4.3: "unencoded binary strings are not permitted, unless
// returned in a <literal8> in response to a BINARY.PEEK[...] or BINARY[...]
// FETCH data item", and a literal cannot carry NUL (RFC 3501 9, CHAR8).
// A message APPENDed in a literal8 (RFC 3516 4.4) with NUL octets in a
// part's content is therefore stored with that content in base64, as
// Dovecot does: BODY[] and BODY[n] then serve 7-bit text, and BINARY[n]
// gives back the client's bytes exactly. Mail without NUL is stored as it
// came, byte for byte.

// base64Line is how many encoded characters a line holds (RFC 2045 6.8:
// at most 76).
const base64Line = 76

// encodeBinaryParts returns raw with the body of every leaf part that
// holds a NUL octet encoded in base64 and its Content-Transfer-Encoding
// field saying so (added where absent); raw itself when no body has one.
func encodeBinaryParts(raw []byte) []byte {
	type edit struct {
		start, end int
		with       []byte
	}
	var edits []edit
	var walk func(e *entity)
	walk = func(e *entity) {
		switch {
		case len(e.children) > 0:
			for _, c := range e.children {
				walk(c)
			}
		case e.msg != nil:
			walk(e.msg)
		case bytes.IndexByte(e.body(), 0) >= 0:
			cte := []byte("Content-Transfer-Encoding: base64\r\n")
			at, end := e.bodyStart-e.sepLen, e.bodyStart-e.sepLen // before the blank line
			for _, f := range e.fields {
				if strings.EqualFold(f.name, "Content-Transfer-Encoding") {
					at, end = f.start, f.end
					break
				}
			}
			edits = append(edits, edit{at, end, cte}, edit{e.bodyStart, e.end, base64Lines(e.body())})
		}
	}
	walk(parseMessage(raw))
	if len(edits) == 0 {
		return raw
	}
	slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(raw)+len(raw)/3)
	pos := 0
	for _, ed := range edits {
		out = append(out, raw[pos:ed.start]...)
		out = append(out, ed.with...)
		pos = ed.end
	}
	return append(out, raw[pos:]...)
}

// base64Lines encodes b in base64 lines of base64Line characters, each
// ended by CRLF except the last (the line break before a boundary belongs
// to the boundary, RFC 2046 5.1.1).
func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	out := make([]byte, 0, len(enc)+len(enc)/base64Line*2)
	for len(enc) > base64Line {
		out = append(out, enc[:base64Line]...)
		out = append(out, '\r', '\n')
		enc = enc[base64Line:]
	}
	return append(out, enc...)
}
