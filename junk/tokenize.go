package junk

import (
	"bytes"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charset decoding (sets message.CharsetReader)
	"github.com/emersion/go-message/mail"
)

// What tokenizing one message may cost: the work is bounded whatever the
// message (it is untrusted input, scored before it is filed).
const (
	// MaxText is how many bytes of decoded text (text/plain and text/html
	// parts together, after transfer and charset decoding) are read.
	MaxText = 100 << 10
	// MaxMessageTokens is how many distinct tokens one message yields at
	// most; the rest are dropped.
	MaxMessageTokens = 10_000
	// maxHeaderBytes bounds the header section the parser reads (the
	// message is refused past it, and only its header tokens count).
	maxHeaderBytes = 256 << 10
	maxParts       = 100 // MIME parts visited
	maxDepth       = 8   // multipart nesting followed
	maxFields      = 200 // header fields whose names become tokens
	minWord        = 3   // shorter words are skipped
	maxWord        = 24  // longer words become a "skip:" token
)

// Tokenize returns the distinct tokens of a raw message (RFC 5322), in the
// order they first appear: tokens from the header fields that tell spam
// from ham (each with a prefix naming the field: "subject:", "from:",
// "to:count:", "received:", "auth:", "type:", "mailer:", "field:"...), and
// the lowercased words of its decoded text/plain and text/html parts (HTML
// tags stripped, link hosts as "url:" tokens), with each two consecutive
// words as a bigram ("bi:"). The work is bounded: at most MaxText bytes of
// text and MaxMessageTokens tokens. A message that does not parse yields
// what could be read before the error, and a "malformed:" token.
func Tokenize(msg []byte) []string {
	t := newTokenizer()
	t.message(msg)
	return t.out
}

// tokenizer collects the distinct tokens of one message.
type tokenizer struct {
	out  []string
	seen map[string]struct{}
	text int // bytes of decoded text read so far
	prev string
	buf  []byte
}

func newTokenizer() *tokenizer {
	return &tokenizer{seen: make(map[string]struct{}, 512)}
}

// add records token tok once.
func (t *tokenizer) add(tok string) {
	if len(t.out) >= MaxMessageTokens {
		return
	}
	if _, ok := t.seen[tok]; ok {
		return
	}
	t.seen[tok] = struct{}{}
	t.out = append(t.out, tok)
}

func (t *tokenizer) full() bool { return len(t.out) >= MaxMessageTokens }

// message tokenizes a whole message.
func (t *tokenizer) message(msg []byte) {
	// An mbox "From " line before the header is not part of the message.
	if bytes.HasPrefix(msg, []byte("From ")) {
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
	}
	e, err := message.ReadWithOptions(bytes.NewReader(msg), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if e == nil {
		// A header that does not parse must not blind the classifier
		// (a spammer would break one line on purpose): the raw text's
		// words count, bounded as a text part's are.
		t.add("malformed:header")
		t.words("", string(msg[:min(len(msg), MaxText)]), true)
		return
	}
	if err != nil {
		t.add("malformed:charset")
	}
	t.header(mail.Header{Header: e.Header})
	parts := 0
	t.entity(e, 0, &parts)
}

// header adds the tokens of the top-level header fields.
func (t *tokenizer) header(h mail.Header) {
	if s, err := h.Subject(); err == nil {
		t.words("subject:", s, false)
	} else {
		t.words("subject:", h.Get("Subject"), false)
	}
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		t.words("from:", from[0].Name, false)
		t.address("from:", from[0].Address)
	} else {
		t.add("from:invalid")
	}
	if rt, err := h.AddressList("Reply-To"); err == nil && len(rt) > 0 {
		t.address("replyto:", rt[0].Address)
	}
	to, _ := h.AddressList("To")
	cc, _ := h.AddressList("Cc")
	t.add("to:count:" + bucket(len(to)))
	t.add("cc:count:" + bucket(len(cc)))
	// Received (RFC 5321 4.4): how many hops, and the host names and
	// protocols each names (the "from"/"by"/"with" clauses).
	rcvd := h.Values("Received")
	t.add("received:count:" + bucket(len(rcvd)))
	for i, v := range rcvd {
		if i >= 5 {
			break
		}
		t.received(v)
	}
	// Authentication-Results (RFC 8601 2.2): the method=result pairs.
	for _, v := range h.Values("Authentication-Results") {
		t.authResults(v)
	}
	if mt, params, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil {
		t.add("type:" + mt)
		if cs := params["charset"]; cs != "" {
			t.add("charset:" + strings.ToLower(cs))
		}
	} else if h.Has("Content-Type") {
		t.add("type:invalid")
	}
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		t.add("encoding:" + strings.ToLower(strings.TrimSpace(cte)))
	}
	for _, f := range []string{"X-Mailer", "User-Agent"} {
		if v := h.Get(f); v != "" {
			t.words("mailer:", v, false)
		}
	}
	if id, err := h.MessageID(); err == nil {
		if _, dom, ok := strings.Cut(id, "@"); ok {
			t.add("msgid:" + strings.ToLower(dom))
		}
	} else {
		t.add("msgid:invalid")
	}
	fields := h.Fields()
	for n := 0; n < maxFields && fields.Next(); n++ {
		t.add("field:" + strings.ToLower(fields.Key()))
	}
}

// address adds an address's domain and its parent domain.
func (t *tokenizer) address(prefix, addr string) {
	_, dom, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok {
		t.add(prefix + "noaddr")
		return
	}
	t.domain(prefix, dom)
}

// domain adds a host name and its last two labels.
func (t *tokenizer) domain(prefix, dom string) {
	if len(dom) > 100 {
		dom = dom[:100]
	}
	t.add(prefix + dom)
	if i := strings.LastIndexByte(dom, '.'); i > 0 {
		if j := strings.LastIndexByte(dom[:i], '.'); j >= 0 {
			t.add(prefix + dom[j+1:])
		}
	}
}

// received adds the host names and the protocol of a Received field.
func (t *tokenizer) received(v string) {
	f := strings.Fields(strings.ToLower(v))
	for i := 0; i+1 < len(f) && i < 40; i++ {
		switch f[i] {
		case "from", "by":
			if h := strings.Trim(f[i+1], "()[];"); strings.Contains(h, ".") {
				t.domain("received:", h)
			}
		case "with":
			t.add("received:with:" + strings.Trim(f[i+1], ";"))
		}
	}
}

// authResults adds "auth:method=result" for each result in an
// Authentication-Results field (RFC 8601 2.2: resinfo is
// method "=" result, separated by ";").
func (t *tokenizer) authResults(v string) {
	for i, r := range strings.Split(v, ";") {
		if i == 0 || i > 10 { // the first element is the authserv-id
			continue
		}
		f := strings.Fields(r)
		if len(f) > 0 && strings.Contains(f[0], "=") {
			t.add("auth:" + strings.ToLower(f[0]))
		}
	}
}

// entity adds the tokens of an entity's body: its text, or its parts.
func (t *tokenizer) entity(e *message.Entity, depth int, parts *int) {
	*parts++
	mt, _, _ := e.Header.ContentType()
	if mt == "" {
		mt = "text/plain"
	}
	if depth > 0 {
		t.add("part:" + mt)
	}
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxDepth {
			t.add("malformed:depth")
			return
		}
		for *parts < maxParts && !t.full() {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if p == nil {
				t.add("malformed:multipart")
				return
			}
			t.entity(p, depth+1, parts)
		}
		return
	}
	switch mt {
	case "text/plain", "text/html":
	default:
		if _, ps, err := e.Header.ContentDisposition(); err == nil {
			if name := ps["filename"]; name != "" {
				if i := strings.LastIndexByte(name, '.'); i >= 0 && len(name)-i <= 8 {
					t.add("attach:" + strings.ToLower(name[i:]))
				}
			}
		}
		return
	}
	if t.text >= MaxText {
		return
	}
	b, err := io.ReadAll(io.LimitReader(e.Body, int64(MaxText-t.text)))
	t.text += len(b)
	if err != nil {
		t.add("malformed:body")
	}
	s := string(b)
	if !utf8.ValidString(s) {
		t.add("malformed:utf8")
		s = strings.ToValidUTF8(s, " ")
	}
	if mt == "text/html" {
		s = stripHTML(s, t)
	}
	t.prev = ""
	t.words("", s, true)
}

// words adds the words of s, lowercased, each with prefix; with bigrams,
// each two consecutive words too. Words are runs of letters, digits and
// '$', '\” or '-' inside; link targets ("http://host/...", "www.host")
// add their host as "url:".
func (t *tokenizer) words(prefix, s string, bigrams bool) {
	for len(s) > 0 && !t.full() {
		// The next whitespace-separated field.
		i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) })
		if i < 0 {
			return
		}
		s = s[i:]
		j := strings.IndexFunc(s, unicode.IsSpace)
		if j < 0 {
			j = len(s)
		}
		field := s[:j]
		s = s[j:]
		if host, ok := linkHost(field); ok {
			t.domain("url:", host)
			continue
		}
		for len(field) > 0 {
			k := strings.IndexFunc(field, isWordRune)
			if k < 0 {
				break
			}
			field = field[k:]
			e := strings.IndexFunc(field, func(r rune) bool { return !isWordRune(r) })
			if e < 0 {
				e = len(field)
			}
			t.word(prefix, field[:e], bigrams)
			field = field[e:]
		}
	}
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '$' || r == '\'' || r == '-'
}

// word adds one word (and its bigram with the previous one).
func (t *tokenizer) word(prefix, w string, bigrams bool) {
	w = strings.Trim(w, "'-")
	n := utf8.RuneCountInString(w)
	if n < minWord {
		return
	}
	var tok string
	if n > maxWord {
		r, _ := utf8.DecodeRuneInString(w)
		tok = "skip:" + class(r) + strconv.Itoa(n/10*10)
	} else {
		tok = lower(w)
	}
	t.add(prefix + tok)
	if bigrams {
		if t.prev != "" {
			t.add("bi:" + t.prev + " " + tok)
		}
		t.prev = tok
	}
}

// class names the kind of a long word's first rune.
func class(r rune) string {
	switch {
	case unicode.IsDigit(r):
		return "digit"
	case r < utf8.RuneSelf:
		return "ascii"
	}
	return "other"
}

// lower lowercases w, without allocating when it is lowercase ASCII.
func lower(w string) string {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(w)
		}
	}
	return w
}

// linkHost returns the host of a link in a word: "http://host/...",
// "https://host...", "www.host...".
func linkHost(field string) (string, bool) {
	f := strings.ToLower(strings.Trim(field, "<>\"'(),"))
	var rest string
	switch {
	case strings.HasPrefix(f, "http://"):
		rest = f[len("http://"):]
	case strings.HasPrefix(f, "https://"):
		rest = f[len("https://"):]
	case strings.HasPrefix(f, "www."):
		rest = f
	default:
		return "", false
	}
	if i := strings.IndexAny(rest, "/?#\"'<>"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 { // user info
		rest = rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 { // port
		rest = rest[:i]
	}
	rest = strings.TrimRight(rest, ".")
	if rest == "" {
		return "", false
	}
	return rest, true
}

// bucket names a count coarsely.
func bucket(n int) string {
	switch {
	case n <= 2:
		return strconv.Itoa(n)
	case n <= 5:
		return "3-5"
	case n <= 10:
		return "6-10"
	}
	return "many"
}
