package imapserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
)

// This file decodes message text for SEARCH and FETCH BINARY: content
// transfer encodings (RFC 2045 6), a few single-byte charsets, and RFC 2047
// encoded words. Decoding is lenient: malformed input yields what can be
// read, never an error, except for an unknown transfer encoding, which
// BINARY must report (RFC 3516 4.3).

// errUnknownCTE is returned for a Content-Transfer-Encoding we cannot decode.
var errUnknownCTE = errors.E("imapserver.decode", errors.Invalid, errors.Str("unknown content transfer encoding"))

// wordDecoder decodes RFC 2047 encoded words; net/mime knows UTF-8,
// ISO-8859-1 and US-ASCII, charsetReader adds Windows-1252 and ISO-8859-15.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	table := singleByteTable(charset)
	if table == nil {
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(decodeSingleByte(b, table)), nil
}

// decodeHeader decodes the encoded words of a header value, or returns it.
func decodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// decodeCTE undoes a content transfer encoding.
func decodeCTE(cte string, b []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return b, nil
	case "base64":
		return decodeBase64(b), nil
	case "quoted-printable":
		return decodeQP(b), nil
	}
	return nil, errUnknownCTE
}

// decodeBase64 decodes base64, skipping characters outside the alphabet
// (RFC 2045 6.8) and stopping at the end of the data.
func decodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeQP decodes quoted-printable (RFC 2045 6.7) leniently: an invalid
// escape is kept as is, trailing white space before a line break dropped.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '=' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		case c == '=':
			// A soft line break: "=", perhaps white space that transport
			// added (RFC 2045 6.7 (3)), then the line end or the end of
			// the data. Otherwise the "=" is kept, as 6.7 suggests for
			// an invalid encoding.
			end := skipBlanks(b, i+1)
			switch {
			case end == len(b):
				i = end - 1
			case b[end] == '\n':
				i = end
			case b[end] == '\r' && (end+1 == len(b) || b[end+1] == '\n'):
				i = min(end+1, len(b)-1)
			default:
				out = append(out, c)
			}
		case c == ' ' || c == '\t':
			// Trailing white space on a line is deleted (RFC 2045 6.7
			// (3)); the run is scanned once, whatever its length.
			end := skipBlanks(b, i)
			if end < len(b) && b[end] != '\r' && b[end] != '\n' {
				out = append(out, b[i:end]...)
			}
			i = end - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

// skipBlanks returns the index of the first byte at or after i that is not
// a space or a tab.
func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// toUTF8 converts text in the given charset to UTF-8 where it knows how;
// other charsets are returned unchanged, so ASCII still matches.
func toUTF8(charset string, b []byte) []byte {
	if t := singleByteTable(charset); t != nil {
		return decodeSingleByte(b, t)
	}
	return b
}

// singleByteTable returns the code points of bytes 0x80-0xFF in a
// single-byte charset, or nil.
func singleByteTable(charset string) *[128]rune {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "latin1", "iso_8859-1", "l1":
		return &latin1
	case "windows-1252", "cp1252":
		return &cp1252
	case "iso-8859-15", "latin-9", "latin9":
		return &latin9
	}
	return nil
}

var latin1, cp1252, latin9 [128]rune

func init() {
	for i := range latin1 {
		latin1[i] = rune(0x80 + i)
	}
	cp1252 = latin1
	for i, r := range []rune{
		0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
		0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
	} {
		cp1252[i] = r
	}
	latin9 = latin1
	for b, r := range map[int]rune{0xA4: 0x20AC, 0xA6: 0x0160, 0xA8: 0x0161, 0xB4: 0x017D, 0xB8: 0x017E, 0xBC: 0x0152, 0xBD: 0x0153, 0xBE: 0x0178} {
		latin9[b-0x80] = r
	}
}

func decodeSingleByte(b []byte, table *[128]rune) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, table[c-0x80])
		}
	}
	return out
}

// folder matches a needle case-insensitively (simple Unicode folding to
// lower case) in many haystacks, reusing one buffer.
type folder struct {
	buf []byte
}

// lower returns b in lower case, in f's buffer.
func (f *folder) lower(b []byte) []byte {
	out := f.buf[:0]
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, unicode.ToLower(r))
		}
		i += n
	}
	f.buf = out
	return out
}

// contains reports whether hay contains needle, which is already lower case.
func (f *folder) contains(hay []byte, needle string) bool {
	if needle == "" {
		return true
	}
	return bytes.Contains(f.lower(hay), []byte(needle))
}
