package junk

import (
	"html"
	"strings"
	"unicode/utf8"
)

// stripHTML returns the text of an HTML document: tags dropped (each
// adds "tag:NAME"; a link's or image's target adds its host as "url:"),
// script and style elements dropped whole, character references decoded.
// It is a tolerant scan, not a parser (HTML 5 tokenization would cost more
// than scoring needs): malformed markup loses at most some text.
func stripHTML(s string, t *tokenizer) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(html.UnescapeString(s))
			break
		}
		b.WriteString(html.UnescapeString(s[:i]))
		b.WriteByte(' ')
		s = s[i+1:]
		if strings.HasPrefix(s, "!--") {
			if j := strings.Index(s, "-->"); j >= 0 {
				s = s[j+3:]
			} else {
				s = ""
			}
			continue
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		tag := s[:j]
		s = s[j+1:]
		name := tagName(tag)
		if name == "" {
			continue
		}
		if len(name) <= 10 {
			t.add("tag:", name)
		}
		switch name {
		case "script", "style":
			if k := indexLower(s, "</"+name); k >= 0 {
				s = s[k:]
			} else {
				s = ""
			}
		case "a", "img", "area", "form", "iframe":
			for _, attr := range []string{"href=", "src=", "action="} {
				if v, ok := attrValue(tag, attr); ok {
					if host, ok := linkHost(v); ok {
						t.domain("url:", host)
					}
				}
			}
		}
	}
	return b.String()
}

// tagName returns the lowercased name of the tag whose text (between '<'
// and '>') is tag; "" for closing tags and declarations.
func tagName(tag string) string {
	end := 0
	for end < len(tag) && isNameByte(tag[end]) {
		end++
	}
	return strings.ToLower(tag[:end])
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// attrValue returns the value of attribute attr (given as "name=") in a
// tag's text, unquoted.
func attrValue(tag, attr string) (string, bool) {
	i := indexLower(tag, attr)
	if i < 0 {
		return "", false
	}
	v := strings.TrimLeft(tag[i+len(attr):], " ")
	if v == "" {
		return "", false
	}
	if q := v[0]; q == '"' || q == '\'' {
		if j := strings.IndexByte(v[1:], q); j >= 0 {
			return v[1 : 1+j], true
		}
		return v[1:], true
	}
	if j := strings.IndexAny(v, " \t\r\n"); j >= 0 {
		v = v[:j]
	}
	return v, true
}

// indexLower returns strings.Index(strings.ToLower(s), sub), for sub
// lowercase ASCII, without lowering s when it can: while s is ASCII, s
// and its lowering have the same offsets, and a case-insensitive
// comparison finds sub. From the first non-ASCII byte before a match on,
// it lowers s after all, since lowering may change a rune's length and
// the caller uses the offset in s, as it always has.
func indexLower(s, sub string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Index(strings.ToLower(s), sub)
		}
		if i+len(sub) <= len(s) && asciiEqualLower(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// asciiEqualLower reports whether ASCII s lowercased is lower.
func asciiEqualLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
