package imapserver

import (
	"bytes"
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// This file locates MIME entities by byte offset in the raw message, so that
// every section served is a slice of the stored bytes: BODY[] is the message
// itself, BODY[HEADER] followed by BODY[TEXT] is BODY[] again, and nothing is
// re-encoded. go-imap's ExtractBodySection re-serializes headers through
// go-message and gives up on malformed input; this parser never fails: a
// message without a blank line is all header, an mbox "From " line or a
// non-UTF-8 header line is just another header line, bare LF line endings are
// accepted wherever CRLF is.

// maxDepth bounds MIME nesting; deeper entities are treated as leaves.
const maxDepth = 32

// entity is one MIME entity (RFC 2045 2.4) of a message.
type entity struct {
	raw       []byte // the whole message, shared by all entities
	start     int    // first byte of the header
	bodyStart int    // first byte of the body (after the blank line, if any)
	end       int    // end of the body
	sepLen    int    // length of the blank line that ends the header, 0 if none

	typ, sub string            // lower-case media type and subtype
	params   map[string]string // Content-Type parameters, lower-case names
	fields   []field           // header fields, in order

	children  []*entity // parts of a multipart entity
	msg       *entity   // the message encapsulated by a message/rfc822 entity
	isMessage bool      // the entity is a message (the root or an encapsulated one)
}

// field is one header field: its lines are raw[start:end], its value (still
// folded) raw[value:end].
type field struct {
	name       string // as written, without trailing white space; "" for a line with no colon
	start, end int
	value      int
}

func (e *entity) header() []byte { return e.raw[e.start:e.bodyStart] }
func (e *entity) body() []byte   { return e.raw[e.bodyStart:e.end] }

// parseMessage parses raw as an RFC 5322 message with MIME structure.
func parseMessage(raw []byte) *entity {
	return parseEntity(raw, 0, len(raw), "text/plain", true, 0)
}

func parseEntity(raw []byte, start, end int, defaultType string, isMessage bool, depth int) *entity {
	e := &entity{raw: raw, start: start, end: end, isMessage: isMessage}
	e.scanHeader()

	mediaType, params := defaultType, map[string]string(nil)
	if v, ok := e.get("Content-Type"); ok {
		mediaType, params = parseContentType(v)
	} else if defaultType == "text/plain" {
		params = map[string]string{"charset": "us-ascii"} // RFC 2045 5.2
	}
	e.typ, e.sub, _ = strings.Cut(mediaType, "/")
	e.params = params

	if depth >= maxDepth {
		if e.typ == "multipart" || e.typ == "message" && (e.sub == "rfc822" || e.sub == "global") {
			e.typ, e.sub = "application", "octet-stream"
		}
		return e
	}
	switch {
	case e.typ == "multipart":
		childType := "text/plain"
		if e.sub == "digest" {
			childType = "message/rfc822" // RFC 2046 5.1.5
		}
		for _, r := range splitMultipart(raw, e.bodyStart, e.end, params["boundary"]) {
			e.children = append(e.children, parseEntity(raw, r[0], r[1], childType, false, depth+1))
		}
		if len(e.children) == 0 {
			// A multipart without parts has no valid structure: serve
			// it as one opaque text part, consistently everywhere.
			e.typ, e.sub = "text", "plain"
		}
	case e.typ == "message" && (e.sub == "rfc822" || e.sub == "global"):
		e.msg = parseEntity(raw, e.bodyStart, e.end, "text/plain", true, depth+1)
	}
	return e
}

// scanHeader finds the end of the header (the first empty line) and splits
// the header into fields.
func (e *entity) scanHeader() {
	raw := e.raw
	pos := e.start
	e.bodyStart = e.end
	for pos < e.end {
		lineEnd := lineEnd(raw, pos, e.end)
		line := raw[pos:lineEnd]
		if isEmptyLine(line) {
			e.bodyStart, e.sepLen = lineEnd, lineEnd-pos
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(e.fields) > 0 {
			e.fields[len(e.fields)-1].end = lineEnd // continuation line
		} else {
			f := field{start: pos, end: lineEnd, value: pos}
			if i := bytes.IndexByte(line, ':'); i > 0 {
				f.name = strings.TrimRight(string(line[:i]), " \t")
				f.value = pos + i + 1
			}
			e.fields = append(e.fields, f)
		}
		pos = lineEnd
	}
}

// lineEnd returns the index just after the next LF at or after pos, or end.
func lineEnd(raw []byte, pos, end int) int {
	if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
		return pos + i + 1
	}
	return end
}

func isEmptyLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// get returns the unfolded, trimmed value of the first field named name.
func (e *entity) get(name string) (string, bool) {
	for _, f := range e.fields {
		if strings.EqualFold(f.name, name) {
			return unfold(e.raw[f.value:f.end]), true
		}
	}
	return "", false
}

// values returns the unfolded values of all fields named name.
func (e *entity) values(name string) []string {
	var vs []string
	for _, f := range e.fields {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, unfold(e.raw[f.value:f.end]))
		}
	}
	return vs
}

// unfold removes the line breaks of a folded field value (RFC 5322 2.2.3)
// and trims surrounding white space.
func unfold(v []byte) string {
	v = bytes.TrimSpace(v)
	if bytes.IndexByte(v, '\n') < 0 {
		return string(v)
	}
	var b strings.Builder
	b.Grow(len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseContentType parses a Content-Type value leniently: a value without a
// valid type/subtype is text/plain (RFC 2045 5.2); invalid parameters are
// parsed as well as they can be.
func parseContentType(v string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(v)
	if mt == "" {
		mt, _, _ = strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" || strings.ContainsAny(mt, " \t\"()<>@,:[]?=") {
		return "text/plain", map[string]string{"charset": "us-ascii"}
	}
	if err != nil {
		params = lenientParams(v)
	}
	return mt, params
}

// lenientParams extracts name=value pairs from a header value that
// mime.ParseMediaType rejects, e.g. unquoted values with specials.
func lenientParams(v string) map[string]string {
	params := make(map[string]string)
	parts := strings.Split(v, ";")
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if name != "" {
			params[name] = val
		}
	}
	return params
}

// splitMultipart returns the byte ranges of the body parts of a multipart
// body raw[start:end] (RFC 2046 5.1.1): the line break before a delimiter
// line belongs to the delimiter; the preamble and epilogue are not parts; a
// missing close delimiter ends the last part at the end of the body.
func splitMultipart(raw []byte, start, end int, boundary string) [][2]int {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][2]int
	partStart := -1
	for pos := start; pos < end; {
		next := lineEnd(raw, pos, end)
		line := raw[pos:next]
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing {
				rest = rest[2:]
			}
			if len(bytes.TrimLeft(rest, " \t\r\n")) == 0 {
				if partStart >= 0 {
					ce := pos
					if ce > partStart && raw[ce-1] == '\n' {
						ce--
						if ce > partStart && raw[ce-1] == '\r' {
							ce--
						}
					}
					parts = append(parts, [2]int{partStart, ce})
				}
				if closing {
					return parts
				}
				partStart = next
			}
		}
		pos = next
	}
	if partStart >= 0 && partStart < end {
		parts = append(parts, [2]int{partStart, end}) // unterminated
	}
	return parts
}

// part returns part k (1-based) of e in IMAP numbering (RFC 3501 6.4.5,
// RFC 9051 6.4.5). asMessage says e stands for a message (the root, or the
// message a message/rfc822 part encapsulates) rather than for a body part:
// a message's parts are its multipart's parts, and a message whose body is
// not multipart has only part 1, its body, which is then a part (of the
// message's own type: for a message/rfc822 body, the encapsulated message
// with its own parts). A body part's parts are its multipart's parts, or,
// for message/rfc822, those of the message it encapsulates. It returns the
// part and whether that stands for a message (never: parts are parts).
func (e *entity) part(k int, asMessage bool) *entity {
	switch {
	case k < 1:
		return nil
	case len(e.children) > 0:
		if k > len(e.children) {
			return nil
		}
		return e.children[k-1]
	case asMessage:
		if k == 1 {
			return e
		}
		return nil
	case e.msg != nil:
		return e.msg.part(k, true)
	}
	return nil
}

// resolve returns the entity at path, or nil; e is the message.
func (e *entity) resolve(path []int) *entity {
	asMessage := true
	for _, k := range path {
		if e = e.part(k, asMessage); e == nil {
			return nil
		}
		asMessage = false
	}
	return e
}

// section returns the bytes of a body section (before any partial), and
// false if the section does not exist in this message.
func (e *entity) section(sec *imap.FetchItemBodySection) ([]byte, bool) {
	target := e.resolve(sec.Part)
	if target == nil {
		return nil, false
	}
	if len(sec.Part) > 0 {
		switch sec.Specifier {
		case imap.PartSpecifierNone:
			return target.body(), true
		case imap.PartSpecifierMIME:
			return target.header(), true
		}
		// HEADER and TEXT of a part exist only for message/rfc822.
		if target.msg == nil {
			return nil, false
		}
		target = target.msg
	}
	switch sec.Specifier {
	case imap.PartSpecifierNone:
		return target.raw[target.start:target.end], true
	case imap.PartSpecifierText:
		return target.body(), true
	case imap.PartSpecifierHeader:
		if len(sec.HeaderFields) > 0 {
			return target.headerFields(sec.HeaderFields, false), true
		}
		if len(sec.HeaderFieldsNot) > 0 {
			return target.headerFields(sec.HeaderFieldsNot, true), true
		}
		return target.header(), true
	}
	return nil, false
}

// headerFields returns the raw lines of the fields named (or, with not, of
// the fields not named) followed by the blank line (RFC 9051 6.4.5).
func (e *entity) headerFields(names []string, not bool) []byte {
	var out []byte
	for _, f := range e.fields {
		match := false
		for _, n := range names {
			if f.name != "" && strings.EqualFold(f.name, n) {
				match = true
				break
			}
		}
		if match != not {
			out = append(out, e.raw[f.start:f.end]...)
		}
	}
	if e.sepLen > 0 {
		return append(out, e.raw[e.bodyStart-e.sepLen:e.bodyStart]...)
	}
	return append(out, "\r\n"...)
}

// partial applies a <offset.size> partial to b (RFC 9051 6.4.5).
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset < 0 || p.Offset >= int64(len(b)) {
		return nil
	}
	b = b[p.Offset:]
	if p.Size >= 0 && p.Size < int64(len(b)) {
		b = b[:p.Size]
	}
	return b
}

// countLines counts the lines of a body: its line breaks, plus one for a
// last line without one.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// structure returns the body structure of e (RFC 9051 7.5.2), always with
// extension data, which go-imap drops for BODY.
func (e *entity) structure() imap.BodyStructure {
	disp := e.disposition()
	lang := e.languages()
	loc, _ := e.get("Content-Location")
	if len(e.children) > 0 {
		mp := &imap.BodyStructureMultiPart{
			Subtype: e.sub,
			Extended: &imap.BodyStructureMultiPartExt{
				Params: e.params, Disposition: disp, Language: lang, Location: loc,
			},
		}
		for _, c := range e.children {
			mp.Children = append(mp.Children, c.structure())
		}
		return mp
	}
	id, _ := e.get("Content-Id")
	desc, _ := e.get("Content-Description")
	enc, _ := e.get("Content-Transfer-Encoding")
	body := e.body()
	sp := &imap.BodyStructureSinglePart{
		Type:        e.typ,
		Subtype:     e.sub,
		Params:      e.params,
		ID:          id,
		Description: desc,
		Encoding:    strings.ToLower(enc),
		Size:        uint32(len(body)),
		Extended:    &imap.BodyStructureSinglePartExt{Disposition: disp, Language: lang, Location: loc},
	}
	switch {
	case e.msg != nil:
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      e.msg.envelope(),
			BodyStructure: e.msg.structure(),
			NumLines:      countLines(body),
		}
	case e.typ == "text":
		sp.Text = &imap.BodyStructureText{NumLines: countLines(body)}
	}
	return sp
}

func (e *entity) disposition() *imap.BodyStructureDisposition {
	v, ok := e.get("Content-Disposition")
	if !ok || v == "" {
		return nil
	}
	d, params, err := mime.ParseMediaType(v)
	if err != nil {
		d, _, _ = strings.Cut(v, ";")
		d = strings.TrimSpace(d)
		params = lenientParams(v)
	}
	if d == "" {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: strings.ToLower(d), Params: params}
}

func (e *entity) languages() []string {
	v, ok := e.get("Content-Language")
	if !ok || v == "" {
		return nil
	}
	var l []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	return l
}
