package imapserver

import (
	"strings"
	"unicode/utf8"
)

// Bounds of a PREVIEW (RFC 8970 3: at most 256 characters): it is made from
// at most previewScan bytes of the part it comes from, so a large part
// costs no more than a small one.
const (
	previewChars = 256
	previewScan  = 16 << 10
)

// preview returns a message's PREVIEW (RFC 8970): the start of its first
// text/plain part that is not an attachment, else of its first text/html
// part with the markup taken out, decoded to UTF-8, white space runs made
// one space, cut to 256 characters; "" for a message with no text. It is
// computed from the decrypted message and never stored.
func preview(root *entity) string {
	part := findText(root, "plain", 0)
	if part == nil {
		part = findText(root, "html", 0)
	}
	if part == nil {
		return ""
	}
	body := part.body()
	if len(body) > previewScan {
		body = body[:previewScan]
	}
	cte, _ := part.get("Content-Transfer-Encoding")
	b, err := decodeCTE(cte, body)
	if err != nil {
		b = body
	}
	text := strings.ToValidUTF8(string(toUTF8(part.params["charset"], b)), "")
	if part.sub == "html" {
		text = stripMarkup(text)
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > previewChars {
		n := 0
		for i := range text {
			if n == previewChars {
				text = text[:i]
				break
			}
			n++
		}
	}
	return text
}

// findText returns the first text/sub part in e, in order, that is not an
// attachment, not looking into attached messages.
func findText(e *entity, sub string, depth int) *entity {
	if depth > maxDepth {
		return nil
	}
	for _, c := range e.children {
		if t := findText(c, sub, depth+1); t != nil {
			return t
		}
	}
	if len(e.children) > 0 || e.typ != "text" || e.sub != sub {
		return nil
	}
	if d := e.disposition(); d != nil && strings.EqualFold(d.Value, "attachment") {
		return nil
	}
	return e
}

// stripMarkup removes HTML tags, comments and the content of style and
// script elements, and decodes the common character references; enough for
// a preview, not an HTML parser.
func stripMarkup(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		lower := strings.ToLower(s[:min(len(s), 8)])
		end := ">"
		switch {
		case strings.HasPrefix(lower, "<!--"):
			end = "-->"
		case strings.HasPrefix(lower, "<style"):
			end = "</style>"
		case strings.HasPrefix(lower, "<script"):
			end = "</script>"
		}
		j := strings.Index(strings.ToLower(s), end)
		if j < 0 {
			break
		}
		s = s[j+len(end):]
		b.WriteByte(' ')
	}
	return htmlEntities.Replace(b.String())
}

var htmlEntities = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&apos;", "'")
