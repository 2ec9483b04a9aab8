package imapserver

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
)

// listNode is a name in the mailbox hierarchy: a mailbox, a parent that
// exists only because it has children (a \Noselect placeholder, as after
// deleting a mailbox that had children, RFC 9051 6.3.5), or a subscribed
// name whose mailbox was deleted (orphan).
type listNode struct {
	name        string
	info        *sealpost.Mailbox // nil for a placeholder or an orphan
	orphan      bool              // subscribed, no mailbox (RFC 5258 \NonExistent)
	hasChildren bool
	// subElsewhere: a descendant is subscribed that no pattern matches
	// (RFC 5258 3 RECURSIVEMATCH and CHILDINFO; RFC 3501 6.3.9 LSUB).
	subElsewhere bool
}

func (n *listNode) subscribed() bool { return n.orphan || n.info != nil && n.info.Subscribed }

// List implements LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.9), with
// LIST-EXTENDED selection and return options (RFC 5258), SPECIAL-USE (RFC
// 6154, the attributes are always returned), CHILDREN (RFC 3348) and
// LIST-STATUS (RFC 5819).
func (s *session) List(w *goimap.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and the root.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	// Our matcher, not go-imap's MatchList (match.go): linear in the
	// name for any pattern, and the patterns' size is bounded here.
	m, err := newListMatcher(canonName(ref), patterns)
	if err != nil {
		return err
	}
	mailboxes, err := s.ps.Mailboxes(s.ctx)
	if err != nil {
		return s.fail("list", err, false)
	}
	var orphans []string
	if options.SelectSubscribed {
		orphans = s.ps.OrphanSubscriptions()
	}
	nodes := hierarchy(mailboxes, orphans)
	matched := make([]bool, len(nodes))
	for i, n := range nodes {
		if s.ctx.Err() != nil { // the connection or the server is closing
			return errClosing
		}
		matched[i] = m.match(n.name)
	}
	lsub := w.LSub()
	if options.SelectRecursiveMatch || lsub {
		markSubscribedElsewhere(nodes, matched)
	}

	for i, n := range nodes {
		if !matched[i] {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: n.name}
		subscribed := n.subscribed()
		// RFC 5258 3: with RECURSIVEMATCH, a name whose subscribed
		// descendant the patterns do not reach is returned, with
		// CHILDINFO; RFC 3501 6.3.9: LSUB returns such a parent,
		// not subscribed itself, with \Noselect.
		viaChild := (options.SelectRecursiveMatch || lsub) && n.subElsewhere
		if options.SelectSubscribed && !subscribed && !viaChild {
			continue
		}
		if options.SelectRecursiveMatch && n.subElsewhere {
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		var use sealpost.SpecialUse
		if n.info != nil && n.info.Use != sealpost.UseInbox {
			use = n.info.Use
		}
		if options.SelectSpecialUse && use == sealpost.UseNone {
			continue
		}

		switch {
		case lsub && !subscribed:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		case n.orphan && !lsub:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		case n.info == nil && !n.orphan:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if n.hasChildren {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if subscribed && !lsub && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if use != sealpost.UseNone {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(use))
		}
		if options.ReturnStatus != nil && n.info != nil {
			st, err := s.ps.Stats(s.ctx, n.name)
			if err != nil {
				return s.fail("list", err, false)
			}
			data.Status = s.statusData(st)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// markSubscribedElsewhere sets subElsewhere on the ancestors of every
// subscribed name that no pattern matched.
func markSubscribedElsewhere(nodes []*listNode, matched []bool) {
	byName := make(map[string]*listNode, len(nodes))
	for _, n := range nodes {
		byName[n.name] = n
	}
	for i, n := range nodes {
		if !n.subscribed() || matched[i] {
			continue
		}
		for j := strings.LastIndexByte(n.name, delim); j > 0; j = strings.LastIndexByte(n.name[:j], delim) {
			if p := byName[n.name[:j]]; p != nil {
				p.subElsewhere = true
			}
		}
	}
}

// hierarchy returns every name of the hierarchy, mailboxes, placeholder
// parents and orphan subscriptions, sorted with INBOX first.
func hierarchy(mailboxes []sealpost.Mailbox, orphans []string) []*listNode {
	byName := make(map[string]*listNode)
	var nodes []*listNode
	get := func(name string) *listNode {
		n := byName[name]
		if n == nil {
			n = &listNode{name: name}
			byName[name] = n
			nodes = append(nodes, n)
		}
		return n
	}
	for i := range mailboxes {
		m := &mailboxes[i]
		name := canonName(m.Name)
		get(name).info = m
		for j := strings.LastIndexByte(name, delim); j > 0; j = strings.LastIndexByte(name[:j], delim) {
			get(name[:j]).hasChildren = true
		}
	}
	for _, name := range orphans {
		if n := get(canonName(name)); n.info == nil {
			n.orphan = true
		}
		for j := strings.LastIndexByte(name, delim); j > 0; j = strings.LastIndexByte(name[:j], delim) {
			get(name[:j]) // a parent the hierarchy shows only through it
		}
	}
	slices.SortFunc(nodes, func(a, b *listNode) int {
		switch {
		case a.name == b.name:
			return 0
		case a.name == "INBOX":
			return -1
		case b.name == "INBOX":
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return nodes
}
