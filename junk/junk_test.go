package junk

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
)

// hamMsg and spamMsg make small hand-written messages, varied by i.
func hamMsg(i int) []byte {
	topics := []string{"build failure in the release branch", "minutes of the design review", "lunch on thursday", "patch for the parser", "holiday schedule"}
	return []byte(fmt.Sprintf("From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Re: %s\r\nMessage-ID: <%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Hi Bob,\r\n\r\nI looked at the %s again. The tests pass on my machine now; could you review\r\nthe change before the meeting? Thanks, see you at the standup.\r\n\r\nAlice\r\n",
		topics[i%len(topics)], i, topics[i%len(topics)]))
}

func spamMsg(i int) []byte {
	offers := []string{"cheap pills", "casino bonus", "work from home", "lottery winnings", "replica watches"}
	return []byte(fmt.Sprintf("From: \"WINNER NOTICE\" <promo%d@bulk-offers.biz>\r\nTo: undisclosed-recipients:;\r\nSubject: URGENT: claim your %s now!!!\r\nMessage-ID: <%d@mailer.bulk-offers.biz>\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"+
		"<html><body><font color=red><b>CONGRATULATIONS</b></font> you have been selected for %s!<br>"+
		"Click <a href=\"http://claim.bulk-offers.biz/now?id=%d\">here</a> to claim your FREE $1000 prize. Limited time offer, act now. "+
		"Unsubscribe: reply with REMOVE.</body></html>\r\n", i, offers[i%len(offers)], i, offers[i%len(offers)], i))
}

// hashes returns the hashes of a message's distinct tokens, as Score and
// Train see them in a model of that token hash.
func hashes(k Key, kind tokenHash, msg []byte) []uint64 {
	t := newHashTokenizer()
	t.start(k, kind)
	t.message(msg)
	return t.hs
}

// trained returns a model trained on n hand-written ham and spam messages.
func trained(k Key, n int) *Model {
	m := &Model{}
	for i := range n {
		m.Train(k, hamMsg(i), false)
		m.Train(k, spamMsg(i), true)
	}
	return m
}

func TestTokenize(t *testing.T) {
	toks := Tokenize([]byte("From: \"Big Sale\" <x@Mail.Shop.Example>\r\nSubject: =?utf-8?q?Gro=C3=9Fe_Rabatte?=\r\nTo: a@b.c, d@e.f\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6ne Preise, see https://www.shop.example/x?y\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>World</b><script>var secret=1</script> &amp; more</p>\r\n--b--\r\n"))
	for _, want := range []string{"subject:große", "subject:rabatte", "from:big", "from:sale", "from:mail.shop.example", "from:shop.example",
		"to:count:2", "type:multipart/alternative", "part:text/plain", "schöne", "preise", "url:www.shop.example", "url:shop.example",
		"hello", "world", "more", "tag:script", "bi:schöne preise"} {
		if !slices.Contains(toks, want) {
			t.Errorf("no token %q in %q", want, toks)
		}
	}
	for _, not := range []string{"secret", "var", "amp", "https"} {
		if slices.Contains(toks, not) {
			t.Errorf("token %q should not be there", not)
		}
	}
	seen := map[string]bool{}
	for _, tok := range toks {
		if seen[tok] {
			t.Errorf("token %q twice", tok)
		}
		seen[tok] = true
	}
}

// TestTokenizePartTypeNotUTF8: a part whose Content-Type does not parse
// yields "part:" and the field's raw value, whose bytes that are not
// UTF-8 become U+FFFD (FuzzTokenize found "part:\x80:"); one that is
// UTF-8 stays as it was.
func TestTokenizePartTypeNotUTF8(t *testing.T) {
	for _, c := range []struct{ typ, want string }{
		{"\x80:", "part:\uFFFD:"},
		{"text/\xff\xfeplain x", "part:text/\uFFFDplain x"},
		{"b\xe9ad:", "part:b\uFFFDad:"},
		{"caf\u00e9:", "part:caf\u00e9:"}, // UTF-8, unparsable: raw as before
	} {
		msg := "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: " + c.typ + "\r\n\r\nbody words\r\n--x--\r\n"
		toks := Tokenize([]byte(msg))
		for _, tok := range toks {
			if !utf8.ValidString(tok) {
				t.Errorf("Content-Type %q: token %q is not UTF-8", c.typ, tok)
			}
		}
		if !slices.Contains(toks, c.want) {
			t.Errorf("Content-Type %q: no token %q in %q", c.typ, c.want, toks)
		}
	}
}

func TestTokenizeBounded(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Subject: big\r\n\r\n")
	for i := range 200_000 {
		fmt.Fprintf(&b, "w%d ", i)
	}
	toks := Tokenize(b.Bytes())
	if len(toks) > MaxMessageTokens {
		t.Errorf("%d tokens, want at most %d", len(toks), MaxMessageTokens)
	}
	// Only the first MaxText bytes of text are read: a word past them
	// never shows up even with room for tokens.
	b.Reset()
	b.WriteString("Subject: big\r\n\r\n")
	b.WriteString(strings.Repeat("a ", MaxText/2))
	b.WriteString("beyondlimit\r\n")
	if slices.Contains(Tokenize(b.Bytes()), "beyondlimit") {
		t.Error("text past MaxText was tokenized")
	}
}

func TestScoreHandWritten(t *testing.T) {
	k := Key{7}
	m := trained(k, 25)
	ham := []byte("From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\nSubject: the parser patch\r\n\r\nHi Bob, could you review the patch for the parser before the meeting? Thanks, Alice\r\n")
	spam := []byte("From: \"PRIZE\" <win@bulk-offers.biz>\r\nSubject: claim your casino bonus!!!\r\nContent-Type: text/html\r\n\r\n<b>CONGRATULATIONS</b> claim your FREE prize now at <a href=\"http://claim.bulk-offers.biz/x\">here</a>, limited time offer\r\n")
	ph, ps := m.Score(k, ham), m.Score(k, spam)
	t.Logf("ham %.4f spam %.4f", ph, ps)
	if v := m.Verdict(ph); v != Ham {
		t.Errorf("ham message: score %.4f, verdict %v", ph, v)
	}
	if v := m.Verdict(ps); v != Junk {
		t.Errorf("spam message: score %.4f, verdict %v (want junk: too little training to reject)", ps, v)
	}
	// Under another key the model's hashes mean nothing.
	if p := m.Score(Key{8}, spam); p != 0.5 {
		t.Errorf("score under another key %.4f, want 0.5", p)
	}
}

func TestVerdict(t *testing.T) {
	k := Key{1}
	m := trained(k, 19)
	if v := m.Verdict(1); v != Unsure {
		t.Errorf("19 ham and spam trained: verdict %v, want unsure", v)
	}
	m.Train(k, hamMsg(100), false)
	m.Train(k, spamMsg(100), true)
	for _, c := range []struct {
		p    float64
		want Verdict
	}{{0, Ham}, {0.89, Ham}, {0.9, Junk}, {1, Junk}} {
		if v := m.Verdict(c.p); v != c.want {
			t.Errorf("Verdict(%v) = %v, want %v", c.p, v, c.want)
		}
	}
	m.Policy = Policy{Junk: 0.5, Reject: 0.99, RejectMin: 20, MinHam: 20, MinSpam: 20}
	if v := m.Verdict(0.995); v != Reject {
		t.Errorf("Verdict(0.995) = %v, want reject", v)
	}
}

// TestModelHoldsNoText: whichever token hash made a model, its bytes hold
// no token text, only the tokens' numbers under that hash.
func TestModelHoldsNoText(t *testing.T) {
	k := Key{3}
	marker := []byte("Subject: zanzibarmarker\r\n\r\nzanzibarmarker quokkamarker zanzibarmarker\r\n")
	for _, kind := range []tokenHash{hashSipHash, hashHMAC} {
		m := &Model{hash: kind}
		for i := range 30 {
			m.Train(k, hamMsg(i), false)
			m.Train(k, spamMsg(i), true)
		}
		for range 50 {
			m.Train(k, marker, true)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"zanzibarmarker", "zanzibar", "quokka", "subject", "congratulations", "alice", "example"} {
			if bytes.Contains(bytes.ToLower(b), []byte(w)) {
				t.Errorf("hash %d: serialized model holds %q", kind, w)
			}
		}
		// The marker's tokens are there, as counts under their hashes
		// (and not under the other hash's).
		m2 := &Model{}
		if err := m2.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if c, _ := m2.tokens.get(newHasher(k, kind).hash([]byte("zanzibarmarker"))); c.spam != 50 {
			t.Errorf("hash %d: marker counts %+v, want 50 spam", kind, c)
		}
		other := hashHMAC
		if kind == hashHMAC {
			other = hashSipHash
		}
		if c, ok := m2.tokens.get(newHasher(k, other).hash([]byte("zanzibarmarker"))); ok {
			t.Errorf("hash %d: the other hash's marker number has counts %+v", kind, c)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	k := Key{4}
	m := trained(k, 30)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m2 Model
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	s1, s2 := m.Stats(), m2.Stats()
	if s1.Ham != s2.Ham || s1.Spam != s2.Spam || s1.Tokens != s2.Tokens || !s1.Trained.Truncate(1e9).Equal(s2.Trained) {
		t.Errorf("stats %+v after round trip, want %+v", s2, s1)
	}
	msg := spamMsg(99)
	if p1, p2 := m.Score(k, msg), m2.Score(k, msg); p1 != p2 {
		t.Errorf("score %v after round trip, want %v", p2, p1)
	}
	b2, _ := m2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Error("re-encoding differs")
	}
	// Damage is refused, with errors.Invalid.
	for _, i := range []int{0, 5, 6, len(b) / 2, len(b) - 1} {
		bad := slices.Clone(b)
		bad[i] ^= 0x40
		if err := new(Model).UnmarshalBinary(bad); errors.KindOf(err) != errors.Invalid {
			t.Errorf("byte %d flipped: err %v, want invalid", i, err)
		}
	}
	if err := new(Model).UnmarshalBinary(b[:len(b)-1]); errors.KindOf(err) != errors.Invalid {
		t.Errorf("truncated: err %v", err)
	}
	var empty Model
	eb, _ := empty.MarshalBinary()
	if err := new(Model).UnmarshalBinary(eb); err != nil {
		t.Errorf("empty model: %v", err)
	}
}

func TestPrune(t *testing.T) {
	k := Key{5}
	m := &Model{Cap: 1000}
	// A word in every message must survive pruning; one-off words go.
	for i := range 400 {
		m.Train(k, []byte(fmt.Sprintf("Subject: keeper\r\n\r\nkeeper uniq%da uniq%db uniq%dc\r\n", i, i, i)), i%2 == 0)
	}
	st := m.Stats()
	if st.Tokens > 1000 {
		t.Fatalf("%d tokens, cap 1000", st.Tokens)
	}
	h := newHasher(k, hashSipHash)
	if c, _ := m.tokens.get(h.hash([]byte("keeper"))); c.ham+c.spam != 400 {
		t.Errorf("keeper counts %+v, want 400 in all", c)
	}
	if _, ok := m.tokens.get(h.hash([]byte("uniq0a"))); ok {
		t.Error("an early one-off word survived pruning")
	}
	// Pruning is deterministic.
	m2 := &Model{}
	b, _ := m.MarshalBinary()
	m2.UnmarshalBinary(b)
	m2.prune(500)
	m.prune(500)
	b1, _ := m.MarshalBinary()
	b2, _ := m2.MarshalBinary()
	if !bytes.Equal(b1, b2) || m.tokens.len() != 500 {
		t.Errorf("prune to 500: %d tokens, equal %v", m.tokens.len(), bytes.Equal(b1, b2))
	}
}

func TestUntrain(t *testing.T) {
	k := Key{6}
	m := trained(k, 25)
	before, _ := m.MarshalBinary()
	msg := hamMsg(3)
	// A ham message mistakenly trained as spam, then moved out of Junk.
	m.Train(k, msg, true)
	if m.Stats().Spam != 26 {
		t.Fatal("not trained")
	}
	m.Untrain(k, msg, true)
	after, _ := m.MarshalBinary()
	// Equal but for the training time.
	var a, b Model
	a.UnmarshalBinary(before)
	b.UnmarshalBinary(after)
	if a.ham != b.ham || a.spam != b.spam || a.tokens.len() != b.tokens.len() {
		t.Fatalf("after untrain: %d/%d/%d, want %d/%d/%d", b.ham, b.spam, b.tokens.len(), a.ham, a.spam, a.tokens.len())
	}
	for h, c := range a.tokens.all {
		if bc, _ := b.tokens.get(h); bc != c {
			t.Fatalf("token %x: %+v, want %+v", h, bc, c)
		}
	}
	// Untraining what was never trained leaves counts at zero or above.
	var e Model
	e.Untrain(k, spamMsg(1), true)
	if st := e.Stats(); st.Spam != 0 || st.Tokens != 0 {
		t.Errorf("untrain on empty model: %+v", st)
	}
}

// TestMalformedHeaderStillScored: a message whose header does not parse
// (here a stray line before it) is still judged by its words.
func TestMalformedHeaderStillScored(t *testing.T) {
	var k Key
	m := &Model{}
	for i := range 30 {
		m.Train(k, fmt.Appendf(nil, "Subject: offer %d\r\n\r\ncheap pills casino winner prize %d\r\n", i, i), true)
		m.Train(k, fmt.Appendf(nil, "Subject: minutes %d\r\n\r\nagenda quarterly meeting budget review %d\r\n", i, i), false)
	}
	bad := []byte("garbage line without a colon\r\nSubject: offer\r\n\r\ncheap pills casino winner prize\r\n")
	if toks := Tokenize(bad); !slices.Contains(toks, "casino") {
		t.Fatalf("tokens of a malformed message: %v", toks)
	}
	if p := m.Score(k, bad); p < 0.9 {
		t.Errorf("a spam with a malformed header scores %.3f, want at least 0.9", p)
	}
}
