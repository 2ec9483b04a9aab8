package imapserver

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
)

// listNode is a name in the mailbox hierarchy: a mailbox, or a parent that
// exists only because it has children (a \Noselect placeholder, as after
// deleting a mailbox that had children, RFC 9051 6.3.5).
type listNode struct {
	name        string
	info        *sealpost.Mailbox // nil for a placeholder
	hasChildren bool
	subChildren bool // a descendant is subscribed
}

// List implements LIST and LSUB (RFC 9051 6.3.9), with LIST-EXTENDED
// selection and return options (RFC 5258), SPECIAL-USE (RFC 6154, the
// attributes are always returned), CHILDREN (RFC 3348) and LIST-STATUS
// (RFC 5819).
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
	nodes := hierarchy(mailboxes)

	for _, n := range nodes {
		if s.ctx.Err() != nil { // the connection or the server is closing
			return errClosing
		}
		if !m.match(n.name) {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: n.name}
		subscribed := n.info != nil && n.info.Subscribed
		if options.SelectSubscribed && !subscribed {
			if !options.SelectRecursiveMatch || !n.subChildren {
				continue
			}
		}
		if options.SelectRecursiveMatch && n.subChildren {
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		var use sealpost.SpecialUse
		if n.info != nil && n.info.Use != sealpost.UseInbox {
			use = n.info.Use
		}
		if options.SelectSpecialUse && use == sealpost.UseNone {
			continue
		}

		if n.info == nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		if n.hasChildren {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
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

// hierarchy returns every name of the hierarchy, mailboxes and placeholder
// parents, sorted with INBOX first.
func hierarchy(mailboxes []sealpost.Mailbox) []*listNode {
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
			p := get(name[:j])
			p.hasChildren = true
			if m.Subscribed {
				p.subChildren = true
			}
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
