package junk

import (
	"bytes"
	"hash/maphash"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

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

// tokenizer collects the distinct tokens of one message: as strings (for
// Tokenize), or, when it has a hasher, as their hashes only (for scoring
// and training, which never need the strings). Each token is built in a
// reused buffer and handed to emit, so both kinds see the same tokens in
// the same order; only the string kind copies a token, when it is new.
type tokenizer struct {
	text int // bytes of decoded text read so far
	// The current text's previous word, for bigrams (if hasPrev): a
	// short word's key (see scanWords) if prevShort is not 0, else its
	// key, or when that is zero (a word too long to key) its bytes in
	// prev. prevID is the hash kind's id of it (see emit), 0 when it was
	// not recorded (the tokenizer was full).
	hasPrev   bool
	prevShort uint64
	prevKey   wordKey
	prev      []byte
	prevID    uint32
	w         []byte        // the current word, lowercased, when it has no key
	kbuf      [maxWord]byte // a keyed word's bytes, for emit
	tok       []byte        // the token being built
	body      []byte        // the current text part, as read

	// The string kind.
	out  []string
	seen map[string]struct{}

	// The hash kind: the hashes of the distinct tokens, in order. Repeats
	// are found before the keyed hash, by a maphash of the token under a
	// random seed: two of one message's distinct tokens would share it
	// with chance about 10,000²/2^65, and no sender can aim at that.
	h    *hasher // &hv, or nil for the string kind
	hv   hasher
	hs   []uint64
	seed maphash.Seed
	set  table // the maphashes of the tokens so far; each one's counts.ham is its id
	// pairSeed keys the bigrams' entries in set (see bigram).
	pairSeed uint64
	touched  uint64    // what Model's table.touch read last (unused)
	ids      wordIDs   // some of the message's words and their ids
	shorts   numIDs    // some of the message's short words and their ids
	pairs    numIDs    // some of the message's bigrams, by their words' ids
	clues    []float64 // Score's, reused
}

func newTokenizer() *tokenizer {
	return &tokenizer{seen: make(map[string]struct{}, 512)}
}

func newHashTokenizer() *tokenizer {
	seed := maphash.MakeSeed()
	return &tokenizer{hs: make([]uint64, 0, 512), seed: seed, set: newTable(512), pairSeed: maphash.String(seed, "bigram pairs")}
}

// start readies a hash tokenizer, new or used, for a message under k,
// hashed with kind.
func (t *tokenizer) start(k Key, kind tokenHash) {
	t.text, t.hs = 0, t.hs[:0]
	t.newText()
	t.ids.clear()
	t.shorts.clear()
	t.pairs.clear()
	if len(t.set.slots) > maxReusedSet {
		t.set = newTable(512)
	} else {
		t.set.clear()
	}
	t.hv.init(k, kind)
	t.h = &t.hv
}

// maxReusedSet is how many slots (16 bytes each) a used tokenizer's set
// may keep: one that grew past it for a large message is replaced rather
// than cleared, so that it costs no more than it did.
const maxReusedSet = 1 << 14

// maxReusedClues is how many clues a pooled tokenizer's buffer keeps
// room for.
const maxReusedClues = 4096

// maxReusedBody is how large a text buffer a pooled tokenizer keeps.
const maxReusedBody = 32 << 10

// emit records token tok once; tok is only read during the call. The
// hash kind returns the token's id, its place among the message's
// distinct tokens counting from 1 (0 when the tokenizer is full); the
// string kind returns 0.
func (t *tokenizer) emit(tok []byte) uint32 {
	if t.full() {
		return 0
	}
	if t.h != nil {
		c, added := t.set.upsert(maphash.Bytes(t.seed, tok))
		if added {
			t.hs = append(t.hs, t.h.hash(tok))
			c.ham = uint32(len(t.hs))
		}
		return c.ham
	}
	if _, ok := t.seen[string(tok)]; ok {
		return 0
	}
	s := string(tok)
	t.seen[s] = struct{}{}
	t.out = append(t.out, s)
	return 0
}

// newText starts a text whose first word has no bigram.
func (t *tokenizer) newText() {
	t.hasPrev, t.prevShort, t.prevKey, t.prev, t.prevID = false, 0, wordKey{}, t.prev[:0], 0
}

// add records token prefix+s once.
func (t *tokenizer) add(prefix, s string) {
	t.tok = append(append(t.tok[:0], prefix...), s...)
	t.emit(t.tok)
}

// addLower records token prefix+strings.ToLower(s) once, lowering s into
// the token's buffer (appendLower is strings.ToLower: FuzzTextHelpers).
func (t *tokenizer) addLower(prefix, s string) {
	t.tok = appendLower(append(t.tok[:0], prefix...), s)
	t.emit(t.tok)
}

func (t *tokenizer) full() bool { return len(t.out)+len(t.hs) >= MaxMessageTokens }

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
		t.add("malformed:header", "")
		t.words("", string(msg[:min(len(msg), MaxText)]))
		return
	}
	if err != nil {
		t.add("malformed:charset", "")
	}
	t.header(mail.Header{Header: e.Header})
	parts := 0
	t.entity(e, 0, &parts)
}

// header adds the tokens of the top-level header fields.
func (t *tokenizer) header(h mail.Header) {
	if s, err := h.Subject(); err == nil {
		t.words("subject:", s)
	} else {
		t.words("subject:", h.Get("Subject"))
	}
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		t.words("from:", from[0].Name)
		t.address("from:", from[0].Address)
	} else {
		t.add("from:invalid", "")
	}
	if rt, err := h.AddressList("Reply-To"); err == nil && len(rt) > 0 {
		t.address("replyto:", rt[0].Address)
	}
	to, _ := h.AddressList("To")
	cc, _ := h.AddressList("Cc")
	t.add("to:count:", bucket(len(to)))
	t.add("cc:count:", bucket(len(cc)))
	// Received (RFC 5321 4.4): how many hops, and the host names and
	// protocols each names (the "from"/"by"/"with" clauses).
	rcvd := h.Values("Received")
	t.add("received:count:", bucket(len(rcvd)))
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
		t.add("type:", mt)
		if cs := params["charset"]; cs != "" {
			t.addLower("charset:", cs)
		}
	} else if h.Has("Content-Type") {
		t.add("type:invalid", "")
	}
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		t.addLower("encoding:", strings.TrimSpace(cte))
	}
	for _, f := range []string{"X-Mailer", "User-Agent"} {
		if v := h.Get(f); v != "" {
			t.words("mailer:", v)
		}
	}
	if id, err := h.MessageID(); err == nil {
		if _, dom, ok := strings.Cut(id, "@"); ok {
			t.addLower("msgid:", dom)
		}
	} else {
		t.add("msgid:invalid", "")
	}
	fields := h.Fields()
	for n := 0; n < maxFields && fields.Next(); n++ {
		t.addLower("field:", fields.Key())
	}
}

// address adds an address's domain and its parent domain.
func (t *tokenizer) address(prefix, addr string) {
	_, dom, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok {
		t.add(prefix, "noaddr")
		return
	}
	t.domain(prefix, dom)
}

// domain adds a host name and its last two labels.
func (t *tokenizer) domain(prefix, dom string) {
	if len(dom) > 100 {
		dom = dom[:100]
	}
	t.add(prefix, dom)
	if i := strings.LastIndexByte(dom, '.'); i > 0 {
		if j := strings.LastIndexByte(dom[:i], '.'); j >= 0 {
			t.add(prefix, dom[j+1:])
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
			t.add("received:with:", strings.Trim(f[i+1], ";"))
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
			t.addLower("auth:", f[0])
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
	// A Content-Type that does not parse comes back as the field's raw
	// value, which may hold bytes that are not UTF-8; tokens are UTF-8
	// (FuzzTokenize), so each such run becomes U+FFFD. Only the "part:"
	// token of a part whose Content-Type is both unparsable and not
	// UTF-8 changes (a parsed type is an ASCII token, RFC 2045 5.1), so
	// no model made before is wrong for any other message:
	// tokenizerVersion stays (docs/DECISIONS.md).
	if !utf8.ValidString(mt) {
		mt = strings.ToValidUTF8(mt, "\uFFFD")
	}
	if depth > 0 {
		t.add("part:", mt)
	}
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxDepth {
			t.add("malformed:depth", "")
			return
		}
		for *parts < maxParts && !t.full() {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if p == nil {
				t.add("malformed:multipart", "")
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
					t.addLower("attach:", name[i:])
				}
			}
		}
		return
	}
	if t.text >= MaxText {
		return
	}
	b, err := readAtMost(t.body[:0], e.Body, MaxText-t.text)
	t.body = b
	t.text += len(b)
	if err != nil {
		t.add("malformed:body", "")
	}
	// A view of t.body, not a copy: the text is read only during this
	// call (what words and stripHTML keep, they copy), and t.body is
	// wiped when the tokenizer goes back to its pool, which a copy,
	// left to the garbage collector, would not be.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	if !utf8.ValidString(s) {
		t.add("malformed:utf8", "")
		s = strings.ToValidUTF8(s, " ")
	}
	if mt == "text/html" {
		s = stripHTML(s, t)
	}
	t.newText()
	t.words("", s)
}

// linkHost returns the host of a link in a word: "http://host/...",
// "https://host...", "www.host...".
func linkHost(field string) (string, bool) {
	f := trimLinkPunct(field)
	// Only 'h', 'H', 'w' and 'W' lowercase to 'h' or 'w': the rest are
	// no links, and need no lowering.
	if f == "" || (f[0]|0x20 != 'h' && f[0]|0x20 != 'w') {
		return "", false
	}
	f = strings.ToLower(f)
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

// trimLinkPunct is strings.Trim(f, "<>\"'(),"), without building the
// cut set at each call.
func trimLinkPunct(f string) string {
	for len(f) > 0 && isLinkPunct(f[0]) {
		f = f[1:]
	}
	for len(f) > 0 && isLinkPunct(f[len(f)-1]) {
		f = f[:len(f)-1]
	}
	return f
}

func isLinkPunct(c byte) bool {
	switch c {
	case '<', '>', '"', '\'', '(', ')', ',':
		return true
	}
	return false
}

// readAtMost appends to dst what r yields, up to n bytes: io.ReadAll of
// io.LimitReader(r, n), into a buffer the tokenizer reuses.
func readAtMost(dst []byte, r io.Reader, n int) ([]byte, error) {
	limit := len(dst) + n
	for len(dst) < limit {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		m, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+m]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
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
