package imapserver

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
)

// tri is the value of a search criterion: decided, or unknown until the
// message's content is read.
type tri int8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// Search implements SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH
// results (RFC 4731) and SEARCHRES (RFC 5182). Criteria on metadata (flags,
// dates, sizes, UIDs, sequence numbers) are answered from postbox metadata
// without decrypting anything. Only messages that those criteria leave
// undecided are decrypted, by the FETCH pipeline's workers, for header,
// BODY, TEXT and SENT* criteria.
func (s *session) Search(kind goimap.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := s.sel
	if sel == nil {
		return nil, noSelected
	}
	var msgs []sealpost.Message
	var seqs []uint32
	var maxSeq uint32
	sel.mbox.Read(func(_ sealpost.Mailbox, all []sealpost.Message) {
		msgs = slices.Clone(all)
		seqs = make([]uint32, len(all))
		for i := range all {
			seqs[i] = sel.tracker.EncodeSeqNum(uint32(i + 1))
			maxSeq = max(maxSeq, seqs[i])
		}
	})
	var maxUID imap.UID
	if len(msgs) > 0 {
		maxUID = imap.UID(msgs[len(msgs)-1].UID)
	}
	s.staticCriteria(criteria, maxSeq, maxUID)

	matched := make([]bool, len(msgs))
	var undecided []target
	var index []int
	for i, m := range msgs {
		if seqs[i] == 0 {
			continue // not yet announced to the client
		}
		switch s.eval(criteria, seqs[i], m, nil) {
		case yes:
			matched[i] = true
		case unknown:
			undecided = append(undecided, target{seq: seqs[i], msg: m})
			index = append(index, i)
		}
	}
	if len(undecided) > 0 {
		err := s.pipeline(undecided, func(ctx context.Context, t target) any {
			return s.searchContent(ctx, criteria, t)
		}, func(i int, v any) error {
			t := undecided[i]
			if r, ok := v.(*searchResult); ok && r.err == nil {
				matched[index[i]] = r.match
			} else if ok && s.ctx.Err() == nil {
				s.log.Warn("search: message not searched", "message", t.msg.ID, "err", r.err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	data := &imap.SearchData{}
	usesModSeq := hasModSeq(criteria)
	var seqSet imap.SeqSet
	var uidSet imap.UIDSet
	var minUID, maxMatchUID imap.UID
	var minModSeq, maxModSeq uint64 // of the MIN and MAX matches
	for i, ok := range matched {
		if !ok {
			continue
		}
		uid := imap.UID(msgs[i].UID)
		uidSet.AddNum(uid)
		if minUID == 0 {
			minUID = uid
		}
		maxMatchUID = uid
		num := uint32(uid)
		if kind == goimap.NumKindSeq {
			seqSet.AddNum(seqs[i])
			num = seqs[i]
		}
		if data.Min == 0 || num < data.Min {
			data.Min, minModSeq = num, msgs[i].ModSeq
		}
		if num >= data.Max {
			data.Max, maxModSeq = num, msgs[i].ModSeq
		}
		data.Count++
		if usesModSeq {
			// RFC 7162 3.1.5: the highest MODSEQ of the matches.
			data.ModSeq = max(data.ModSeq, msgs[i].ModSeq)
		}
	}
	if kind == goimap.NumKindSeq {
		data.All = seqSet
	} else {
		data.All = uidSet
	}
	if usesModSeq && !options.ReturnAll && !options.ReturnCount && (options.ReturnMin || options.ReturnMax) {
		// RFC 7162 3.1.5: with only MIN and/or MAX returned, the MODSEQ
		// is the highest of the messages returned, not of every match.
		data.ModSeq = 0
		if options.ReturnMin {
			data.ModSeq = minModSeq
		}
		if options.ReturnMax {
			data.ModSeq = max(data.ModSeq, maxModSeq)
		}
	}
	if options.ReturnSave {
		// RFC 5182 2.4: with only MIN and/or MAX, only those are saved.
		if !options.ReturnAll && !options.ReturnCount && (options.ReturnMin || options.ReturnMax) {
			var saved imap.UIDSet
			if options.ReturnMin && minUID != 0 {
				saved.AddNum(minUID)
			}
			if options.ReturnMax && maxMatchUID != 0 {
				saved.AddNum(maxMatchUID)
			}
			uidSet = saved
		}
		sel.searchRes = uidSet
	}
	return data, nil
}

func hasModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if hasModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if hasModSeq(&c.Or[i][0]) || hasModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// staticCriteria resolves "*" and "$" in c, recursively.
func (s *session) staticCriteria(c *imap.SearchCriteria, maxSeq uint32, maxUID imap.UID) {
	for i, set := range c.SeqNum {
		c.SeqNum[i] = staticSeqSet(set, maxSeq)
	}
	for i, set := range c.UID {
		if imap.IsSearchRes(set) {
			c.UID[i] = s.sel.searchRes
			if c.UID[i] == nil {
				c.UID[i] = imap.UIDSet{}
			}
		} else {
			c.UID[i] = staticUIDSet(set, maxUID)
		}
	}
	for i := range c.Not {
		s.staticCriteria(&c.Not[i], maxSeq, maxUID)
	}
	for i := range c.Or {
		s.staticCriteria(&c.Or[i][0], maxSeq, maxUID)
		s.staticCriteria(&c.Or[i][1], maxSeq, maxUID)
	}
}

// eval evaluates c for one message. With ct nil, criteria on the content
// are unknown; with ct, every criterion is decided.
func (s *session) eval(c *imap.SearchCriteria, seq uint32, m sealpost.Message, ct *content) tri {
	res := yes
	and := func(t tri) bool {
		if t == no {
			res = no
			return false
		}
		if t == unknown {
			res = unknown
		}
		return true
	}
	for _, set := range c.SeqNum {
		if !set.Contains(seq) {
			return no
		}
	}
	for _, set := range c.UID {
		if !set.Contains(imap.UID(m.UID)) {
			return no
		}
	}
	// RFC 7162 3.1.5: one MODSEQ per message, whatever metadata item the
	// client names.
	if c.ModSeq != nil && m.ModSeq < c.ModSeq.ModSeq {
		return no
	}
	if !matchDate(m.InternalDate, c.Since, c.Before) || !matchSaveDate(m, c.SaveDate) {
		return no
	}
	for _, f := range c.Flag {
		if !s.hasFlag(m, f) {
			return no
		}
	}
	for _, f := range c.NotFlag {
		if s.hasFlag(m, f) {
			return no
		}
	}
	if c.Larger > 0 || c.Smaller > 0 {
		var size int64
		if ct != nil {
			size = int64(len(ct.root.raw))
		} else {
			size = s.size(s.ctx, m)
		}
		if c.Larger > 0 && size <= c.Larger || c.Smaller > 0 && size >= c.Smaller {
			return no
		}
	}
	if len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		if ct == nil {
			res = unknown
		} else if !ct.match(c) {
			return no
		}
	}
	for i := range c.Not {
		t := s.eval(&c.Not[i], seq, m, ct)
		if t != unknown {
			t = triOf(t == no)
		}
		if !and(t) {
			return no
		}
	}
	for i := range c.Or {
		a := s.eval(&c.Or[i][0], seq, m, ct)
		if a == yes {
			continue
		}
		b := s.eval(&c.Or[i][1], seq, m, ct)
		switch {
		case b == yes:
		case a == no && b == no:
			return no
		default:
			and(unknown)
		}
	}
	return res
}

// matchDate compares dates only, in the time's own zone (RFC 9051 6.4.4:
// "disregarding time and timezone"); since and before are UTC midnights.
func matchDate(t, since, before time.Time) bool {
	if since.IsZero() && before.IsZero() {
		return true
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return (since.IsZero() || !d.Before(since)) && (before.IsZero() || d.Before(before))
}

type searchResult struct {
	match bool
	err   error
}

var folders = sync.Pool{New: func() any { return new(folder) }}

// searchContent decrypts one message and decides c for it; it runs in a
// pipeline worker.
func (s *session) searchContent(ctx context.Context, c *imap.SearchCriteria, t target) *searchResult {
	raw, err := s.body(ctx, t.msg)
	if err != nil {
		return &searchResult{err: err}
	}
	f := folders.Get().(*folder)
	defer folders.Put(f)
	ct := &content{root: parseMessage(raw), f: f}
	return &searchResult{match: s.eval(c, t.seq, t.msg, ct) == yes}
}

// content is a decrypted message being searched.
type content struct {
	root   *entity
	f      *folder
	texts  [][]byte // decoded text of the body's text parts, lazily
	header []byte   // decoded header, lazily
	done   bool
}

// match decides the content criteria of c itself (not of its Not and Or).
func (ct *content) match(c *imap.SearchCriteria) bool {
	for _, h := range c.Header {
		if !ct.matchHeader(h.Key, h.Value) {
			return false
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		v, ok := ct.root.get("Date")
		if !ok {
			return false
		}
		t := parseDate(v)
		if t.IsZero() || !matchDate(t, c.SentSince, c.SentBefore) {
			return false
		}
	}
	for _, b := range c.Body {
		if !ct.matchBody(strings.ToLower(b)) {
			return false
		}
	}
	for _, t := range c.Text {
		needle := strings.ToLower(t)
		if !ct.f.contains(ct.decodedHeader(), needle) && !ct.matchBody(needle) {
			return false
		}
	}
	return true
}

// matchHeader: a field named key whose decoded value contains value; any
// such field if value is empty (RFC 9051 6.4.4 HEADER).
func (ct *content) matchHeader(key, value string) bool {
	needle := strings.ToLower(value)
	for _, f := range ct.root.fields {
		if !strings.EqualFold(f.name, key) {
			continue
		}
		v := decodeHeader(unfold(ct.root.raw[f.value:f.end]))
		if needle == "" || ct.f.contains([]byte(v), needle) {
			return true
		}
		if isAddressField(key) && ct.f.contains([]byte(plainAddresses(v)), needle) {
			return true
		}
	}
	return false
}

func (ct *content) matchBody(needle string) bool {
	if !ct.done {
		collectText(ct.root, &ct.texts, 0)
		ct.done = true
	}
	for _, t := range ct.texts {
		if ct.f.contains(t, needle) {
			return true
		}
	}
	return false
}

func (ct *content) decodedHeader() []byte {
	if ct.header == nil {
		ct.header = headerText(ct.root)
	}
	return ct.header
}

// headerText returns a message's header fields with encoded words decoded.
func headerText(e *entity) []byte {
	out := make([]byte, 0, e.bodyStart-e.start)
	for _, f := range e.fields {
		out = append(out, f.name...)
		out = append(out, ": "...)
		out = append(out, decodeHeader(unfold(e.raw[f.value:f.end]))...)
		out = append(out, '\n')
	}
	return out
}

// collectText appends the decoded text of e's body: text parts decoded from
// their transfer encoding and charset, and the header and text of
// encapsulated messages. Other parts (attachments) are not searched.
func collectText(e *entity, out *[][]byte, depth int) {
	if depth > maxDepth {
		return
	}
	switch {
	case len(e.children) > 0:
		for _, c := range e.children {
			collectText(c, out, depth+1)
		}
	case e.msg != nil:
		*out = append(*out, headerText(e.msg))
		collectText(e.msg, out, depth+1)
	case e.typ == "text":
		cte, _ := e.get("Content-Transfer-Encoding")
		b, err := decodeCTE(cte, e.body())
		if err != nil {
			b = e.body()
		}
		*out = append(*out, toUTF8(e.params["charset"], b))
	}
}
