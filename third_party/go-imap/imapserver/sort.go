package imapserver

// Sealpost patch 32: the server side of SORT (RFC 5256 3, with RFC 5957's
// DISPLAYFROM and DISPLAYTO) and ESORT (RFC 5267 3: SORT with RETURN,
// answered by ESEARCH), and THREAD (RFC 5256 3-4), dispatched to a session
// that implements SessionSort or SessionThread.

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionSort is an IMAP session which supports SORT (RFC 5256), with the
// keys of SORT=DISPLAY (RFC 5957). The server advertises SORT,
// SORT=DISPLAY and ESORT when Options.Caps holds them.
type SessionSort interface {
	Session

	// Selected state

	// Sort returns the numbers (sequence numbers or UIDs, by kind) of the
	// messages matching search, in the order criteria give; ties in the
	// mailbox's order (RFC 5256 3).
	Sort(kind NumKind, criteria []imap.SortCriterion, search *imap.SearchCriteria) ([]uint32, error)
}

// SessionThread is an IMAP session which supports THREAD (RFC 5256). The
// server advertises THREAD=alg for each algorithm Options.Caps lists as
// "THREAD=alg".
type SessionThread interface {
	Session

	// Selected state

	// Thread returns the threads of the messages matching search, numbered
	// by kind, as alg builds them; alg is one the server advertises.
	Thread(kind NumKind, alg imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]imap.ThreadData, error)
}

// handleSort: ["UID" SP] "SORT" SP [search-return-opts SP] sort-criteria SP
// charset 1*(SP search-key) (RFC 5256 5, RFC 5267 3).
func (c *Conn) handleSort(tag string, dec *imapwire.Decoder, kind NumKind) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	var (
		options  imap.SearchOptions
		extended bool
		atom     string
	)
	if dec.Atom(&atom) {
		if !strings.EqualFold(atom, "RETURN") {
			return newClientBugError("SORT expects RETURN or a list of sort criteria")
		}
		if err := readSearchReturnOpts(dec, &options); err != nil {
			return err
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
		if options.ReturnSave {
			return newClientBugError("SORT RETURN (SAVE) is not supported")
		}
		extended = true
	}
	var criteria []imap.SortCriterion
	err := dec.ExpectList(func() error {
		var key string
		if !dec.ExpectAtom(&key) {
			return dec.Err()
		}
		var crit imap.SortCriterion
		if strings.EqualFold(key, "REVERSE") {
			crit.Reverse = true
			if !dec.ExpectSP() || !dec.ExpectAtom(&key) {
				return dec.Err()
			}
		}
		crit.Key = imap.SortKey(strings.ToUpper(key))
		switch crit.Key {
		case imap.SortKeyArrival, imap.SortKeyCc, imap.SortKeyDate, imap.SortKeyFrom,
			imap.SortKeySize, imap.SortKeySubject, imap.SortKeyTo,
			imap.SortKeyDisplayFrom, imap.SortKeyDisplayTo:
		default:
			return newClientBugError("Unknown sort key " + string(crit.Key))
		}
		criteria = append(criteria, crit)
		return nil
	})
	if err != nil {
		return err
	}
	if len(criteria) == 0 {
		return newClientBugError("SORT needs at least one sort criterion")
	}
	search, err := readSearchCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	session, ok := c.session.(SessionSort)
	if !ok {
		return newClientBugError("SORT is not supported")
	}
	nums, err := session.Sort(kind, criteria, search)
	if err != nil {
		return err
	}
	if extended {
		return c.writeESort(tag, kind, nums, &options)
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("SORT")
	for _, n := range nums {
		enc.SP().Number(n)
	}
	return enc.CRLF()
}

// writeESort answers SORT RETURN (RFC 5267 3.1): MIN and MAX are the first
// and last messages in the sort order, ALL lists every one in that order.
func (c *Conn) writeESort(tag string, kind NumKind, nums []uint32, options *imap.SearchOptions) error {
	if !options.ReturnMin && !options.ReturnMax && !options.ReturnAll && !options.ReturnCount {
		options.ReturnAll = true // RFC 4731 3.1: RETURN () means ALL
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ESEARCH").SP().Special('(').Atom("TAG").SP().String(tag).Special(')')
	if kind == NumKindUID {
		enc.SP().Atom("UID")
	}
	if len(nums) > 0 {
		if options.ReturnMin {
			enc.SP().Atom("MIN").SP().Number(nums[0])
		}
		if options.ReturnMax {
			enc.SP().Atom("MAX").SP().Number(nums[len(nums)-1])
		}
		if options.ReturnAll {
			enc.SP().Atom("ALL").SP()
			enc.Atom(orderedSet(nums))
		}
	}
	if options.ReturnCount {
		enc.SP().Atom("COUNT").SP().Number(uint32(len(nums)))
	}
	return enc.CRLF()
}

// handleThread: ["UID" SP] "THREAD" SP thread-alg SP search-criteria (RFC
// 5256 5).
func (c *Conn) handleThread(dec *imapwire.Decoder, kind NumKind) error {
	var alg string
	if !dec.ExpectSP() || !dec.ExpectAtom(&alg) {
		return dec.Err()
	}
	algorithm := imap.ThreadAlgorithm(strings.ToUpper(alg))
	search, err := readSearchCriteria(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	session, ok := c.session.(SessionThread)
	if !ok {
		return newClientBugError("THREAD is not supported")
	}
	if !c.server.options.caps().Has(imap.Cap("THREAD=" + string(algorithm))) {
		return newClientBugError("Unknown threading algorithm " + string(algorithm))
	}
	threads, err := session.Thread(kind, algorithm, search)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("THREAD")
	if len(threads) > 0 {
		enc.SP()
		for i := range threads {
			writeThread(enc.Encoder, &threads[i])
		}
	}
	return enc.CRLF()
}

// writeThread writes one thread-list (RFC 5256 5): "(" thread-members /
// thread-nested ")", with no space between nested lists.
func writeThread(enc *imapwire.Encoder, t *imap.ThreadData) {
	enc.Special('(')
	for i, n := range t.Chain {
		if i > 0 {
			enc.SP()
		}
		enc.Number(n)
	}
	if len(t.SubThreads) > 0 && len(t.Chain) > 0 {
		enc.SP()
	}
	for i := range t.SubThreads {
		writeThread(enc, &t.SubThreads[i])
	}
	enc.Special(')')
}

// readSearchCriteria reads SORT's and THREAD's search-criteria: SP charset
// 1*(SP search-key), then CRLF (RFC 5256 5).
func readSearchCriteria(dec *imapwire.Decoder) (*imap.SearchCriteria, error) {
	var charset string
	if !dec.ExpectSP() || !dec.ExpectAString(&charset) {
		return nil, dec.Err()
	}
	switch strings.ToUpper(charset) {
	case "US-ASCII", "UTF-8":
	default:
		return nil, &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeBadCharset,
			Text: "Only US-ASCII and UTF-8 are supported",
		}
	}
	var criteria imap.SearchCriteria
	n := 0
	for ; dec.SP(); n++ {
		if err := readSearchKey(&criteria, dec); err != nil {
			return nil, fmt.Errorf("in search-key: %w", err)
		}
	}
	if n == 0 {
		return nil, newClientBugError("At least one search key is needed (ALL for every message)")
	}
	if !dec.ExpectCRLF() {
		return nil, dec.Err()
	}
	return &criteria, nil
}

// orderedSet writes numbers as a sequence-set that keeps their order
// (ESORT's ALL, RFC 5267 3.1; MULTIAPPEND's APPENDUID, RFC 4315 3): each
// ascending run of consecutive numbers as a range.
func orderedSet[T ~uint32](nums []T) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d:%d", nums[i], nums[j])
		} else {
			fmt.Fprintf(&b, "%d", nums[i])
		}
		i = j + 1
	}
	return b.String()
}
