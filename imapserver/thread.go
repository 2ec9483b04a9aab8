package imapserver

import (
	"slices"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"
)

var _ goimap.SessionThread = (*session)(nil)

// Thread implements THREAD and UID THREAD (RFC 5256) with the
// ORDEREDSUBJECT and REFERENCES algorithms, over the messages SEARCH finds
// for search, with the keys Sort uses.
func (s *session) Thread(kind goimap.NumKind, alg imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]imap.ThreadData, error) {
	items, err := s.sortItems(search)
	if err != nil {
		return nil, err
	}
	var roots []*node
	switch alg {
	case imap.ThreadOrderedSubject:
		roots = orderedSubject(items)
	case imap.ThreadReferences:
		roots = references(items)
	default:
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Unknown threading algorithm"}
	}
	num := func(it *sortItem) uint32 {
		if kind == goimap.NumKindUID {
			return uint32(it.msg.UID)
		}
		return it.seq
	}
	out := make([]imap.ThreadData, len(roots))
	for i, r := range roots {
		out[i] = r.data(num)
	}
	return out, nil
}

// node is a thread container (RFC 5256 4): a message, or a dummy (item nil)
// standing for one that is referenced but absent.
type node struct {
	item     *sortItem
	parent   *node
	children []*node
	order    int // creation order, for a stable root set
}

// data turns a thread into its thread-list: a chain of only children, then
// the children of the chain's last node when there are two or more.
func (n *node) data(num func(*sortItem) uint32) imap.ThreadData {
	var d imap.ThreadData
	for {
		if n.item != nil {
			d.Chain = append(d.Chain, num(n.item))
		}
		if len(n.children) != 1 {
			break
		}
		n = n.children[0]
	}
	for _, c := range n.children {
		d.SubThreads = append(d.SubThreads, c.data(num))
	}
	return d
}

// first is the message that stands for a node when sorting: its own, or a
// dummy's first child's (RFC 5256 4 (6)), after the children are sorted.
func (n *node) first() *sortItem {
	for n.item == nil {
		if len(n.children) == 0 {
			return nil
		}
		n = n.children[0]
	}
	return n.item
}

// sortThreads sorts siblings by sent date (mailbox order on equal dates),
// children first so that a dummy sorts by its first child (RFC 5256 4 (6)).
func sortThreads(nodes []*node) {
	for _, n := range nodes {
		sortThreads(n.children)
	}
	slices.SortStableFunc(nodes, func(a, b *node) int {
		fa, fb := a.first(), b.first()
		if fa == nil || fb == nil { // only empty dummies, pruned before this
			return 0
		}
		return byDate(fa, fb)
	})
}

// orderedSubject threads by base subject (RFC 5256 3, ORDEREDSUBJECT): the
// messages sharing a base subject, in sent-date order, form a thread whose
// first message is the parent of all the others; threads are in the order
// of their first messages' sent dates.
func orderedSubject(items []sortItem) []*node {
	sorted := make([]*sortItem, len(items))
	for i := range items {
		sorted[i] = &items[i]
	}
	slices.SortStableFunc(sorted, func(a, b *sortItem) int {
		if a.keys.subject != b.keys.subject {
			if a.keys.subject < b.keys.subject {
				return -1
			}
			return 1
		}
		return byDate(a, b)
	})
	var roots []*node
	var root *node
	for i, it := range sorted {
		if i == 0 || it.keys.subject != sorted[i-1].keys.subject {
			root = &node{item: it}
			roots = append(roots, root)
			continue
		}
		root.children = append(root.children, &node{item: it, parent: root})
	}
	slices.SortStableFunc(roots, func(a, b *node) int { return byDate(a.item, b.item) })
	return roots
}

// references threads by the References and In-Reply-To fields, then by
// base subject (RFC 5256 4, REFERENCES), steps (1) to (6).
func references(items []sortItem) []*node {
	var all []*node
	newNode := func(it *sortItem) *node {
		n := &node{item: it, order: len(all)}
		all = append(all, n)
		return n
	}
	byID := make(map[string]*node)
	lookup := func(id string) *node {
		n := byID[id]
		if n == nil {
			n = newNode(nil)
			byID[id] = n
		}
		return n
	}
	for i := range items {
		it := &items[i]
		// (1A) The message's container: a dummy waiting for it, or a
		// new one; a missing or duplicate Message-ID gets a unique one.
		var this *node
		if id := it.keys.msgID; id != "" {
			if n := byID[id]; n != nil && n.item == nil {
				n.item = it
				this = n
			} else if n == nil {
				this = lookup(id)
				this.item = it
			}
		}
		if this == nil {
			this = newNode(it)
		}
		// (1B) Link the references in order, leaving existing links
		// and refusing loops.
		var prev *node
		for _, ref := range it.keys.refs {
			n := lookup(ref)
			if prev != nil && n.parent == nil && !isAncestor(n, prev) {
				link(prev, n)
			}
			prev = n
		}
		// (1C) The last reference is the parent, replacing any other,
		// unless that makes a loop; no references, no parent.
		if this.parent != nil {
			unlink(this)
		}
		if prev != nil && !isAncestor(this, prev) {
			link(prev, this)
		}
	}
	// (2) The root set: containers without a parent. (3) The table goes.
	var roots []*node
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	// (4) Prune dummies.
	roots = prune(roots, true)
	// (5) Gather threads by base subject.
	roots = mergeSubjects(roots)
	// (6) Sort siblings by sent date, at every level.
	sortThreads(roots)
	return roots
}

// isAncestor reports whether a is b or one of b's ancestors.
func isAncestor(a, b *node) bool {
	for n := b; n != nil; n = n.parent {
		if n == a {
			return true
		}
	}
	return false
}

func link(parent, child *node) {
	child.parent = parent
	parent.children = append(parent.children, child)
}

func unlink(child *node) {
	p := child.parent
	p.children = slices.DeleteFunc(p.children, func(n *node) bool { return n == child })
	child.parent = nil
}

// prune removes dummies (RFC 5256 4 (4)): one without children goes; one
// with children gives them to its parent's level, except that at the root
// it gives them only when it has one.
func prune(nodes []*node, root bool) []*node {
	out := nodes[:0:0]
	for _, n := range nodes {
		n.children = prune(n.children, false)
		switch {
		case n.item != nil:
			out = append(out, n)
		case len(n.children) == 0:
		case !root || len(n.children) == 1:
			for _, c := range n.children {
				c.parent = n.parent
				out = append(out, c)
			}
		default:
			out = append(out, n)
		}
	}
	return out
}

// mergeSubjects gathers root threads by base subject (RFC 5256 4 (5)).
func mergeSubjects(roots []*node) []*node {
	subject := func(n *node) string {
		if f := n.firstChild(); f != nil {
			return f.keys.subject
		}
		return ""
	}
	reply := func(n *node) bool {
		f := n.firstChild()
		return f != nil && f.keys.reply
	}
	// (5B) The table: per subject, the best root: a dummy over a
	// message, a message that is not a reply over one that is.
	table := make(map[string]*node)
	for _, r := range roots {
		subj := subject(r)
		if subj == "" {
			continue
		}
		old := table[subj]
		if old == nil || r.item == nil && old.item != nil || reply(old) && !reply(r) {
			table[subj] = r
		}
	}
	// (5C) Merge each root into its subject's entry.
	gone := make(map[*node]bool)
	replaced := make(map[*node]*node)
	for _, r := range roots {
		subj := subject(r)
		t := table[subj]
		if subj == "" || t == nil || t == r || gone[r] || replaced[r] != nil {
			continue
		}
		switch {
		case r.item == nil && t.item == nil:
			for _, c := range r.children {
				link(t, c)
			}
			r.children = nil
		case t.item == nil:
			link(t, r)
		case r.item != nil && reply(r) && !reply(t):
			link(t, r)
		default:
			d := &node{}
			replaced[t] = d
			table[subj] = d
			link(d, t)
			link(d, r)
		}
		gone[r] = true
	}
	var out []*node
	for _, r := range roots {
		if gone[r] {
			continue
		}
		for replaced[r] != nil {
			r = replaced[r]
		}
		out = append(out, r)
	}
	return out
}

// firstChild is the message whose subject stands for a root (RFC 5256 4
// (5A)): its own, or a dummy's first child's.
func (n *node) firstChild() *sortItem {
	if n.item != nil {
		return n.item
	}
	if len(n.children) > 0 {
		return n.children[0].item
	}
	return nil
}
