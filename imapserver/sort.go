package imapserver

import (
	"cmp"
	"slices"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"
)

var _ goimap.SessionSort = (*session)(nil)

// Sort implements SORT and UID SORT (RFC 5256 3) with RFC 5957's
// DISPLAYFROM and DISPLAYTO; the fork answers ESORT (RFC 5267) from the
// result. The messages are those SEARCH finds for search; their keys come
// from their decrypted headers, cached in the session (sortkeys.go). Strings
// compare by i;ascii-casemap; messages whose keys are all equal keep the
// mailbox's order (RFC 5256 3: "sorted according to the order in which they
// appear in the mailbox"), which REVERSE does not reverse.
func (s *session) Sort(kind goimap.NumKind, criteria []imap.SortCriterion, search *imap.SearchCriteria) ([]uint32, error) {
	items, err := s.sortItems(search)
	if err != nil {
		return nil, err
	}
	sizes := make(map[uint32]int64) // SIZE is served size, placeholder's for a sealed message
	for _, c := range criteria {
		if c.Key == imap.SortKeySize {
			for i := range items {
				sizes[items[i].seq] = s.size(s.ctx, items[i].msg)
			}
			break
		}
	}
	slices.SortStableFunc(items, func(a, b sortItem) int {
		for _, c := range criteria {
			r := compareKey(c.Key, &a, &b, sizes)
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	nums := make([]uint32, len(items))
	for i := range items {
		if kind == goimap.NumKindUID {
			nums[i] = uint32(items[i].msg.UID)
		} else {
			nums[i] = items[i].seq
		}
	}
	return nums, nil
}

// compareKey compares two messages by one sort key (RFC 5256 3).
func compareKey(key imap.SortKey, a, b *sortItem, sizes map[uint32]int64) int {
	switch key {
	case imap.SortKeyArrival:
		return a.msg.InternalDate.Compare(b.msg.InternalDate)
	case imap.SortKeyDate:
		return a.date().Compare(b.date())
	case imap.SortKeySize:
		return cmp.Compare(sizes[a.seq], sizes[b.seq])
	}
	return cmp.Compare(keyString(key, a.keys), keyString(key, b.keys))
}

// keyString is a message's string key for a sort key; "" for the others.
func keyString(key imap.SortKey, k *sortKeys) string {
	switch key {
	case imap.SortKeySubject:
		return k.subject
	case imap.SortKeyFrom:
		return k.from
	case imap.SortKeyTo:
		return k.to
	case imap.SortKeyCc:
		return k.cc
	case imap.SortKeyDisplayFrom:
		return k.displayFrom
	case imap.SortKeyDisplayTo:
		return k.displayTo
	}
	return "" // the fork accepts only the keys above
}

// byDate orders messages by sent date, then mailbox order (RFC 5256 2.2).
func byDate(a, b *sortItem) int {
	if r := a.date().Compare(b.date()); r != 0 {
		return r
	}
	return cmp.Compare(a.seq, b.seq)
}
