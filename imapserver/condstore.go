package imapserver

// CONDSTORE and QRESYNC (RFC 7162) over postbox's per-message MODSEQ: the
// session's side of go-imap's SessionCondStore (our fork's patch 10). The
// wire syntax and the enabling rules are the fork's; what changed since a
// modseq, and which STOREs may proceed, are answered here from the live
// mailbox.

import (
	"math"
	"slices"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// HighestModSeq implements goimap.SessionCondStore: the selected mailbox's
// HIGHESTMODSEQ, for a CONDSTORE enabled while it is selected.
func (s *session) HighestModSeq() uint64 {
	if s.sel == nil {
		return 0
	}
	var h uint64
	s.sel.mbox.Read(func(info sealpost.Mailbox, _ []sealpost.Message) { h = info.HighestModSeq })
	return h
}

// Resync implements goimap.SessionCondStore for SELECT (QRESYNC ...) (RFC
// 7162 3.2.5): VANISHED (EARLIER) with the UIDs expunged since q.ModSeq,
// then FETCH (UID FLAGS MODSEQ) for each message changed since, both
// limited to q.KnownUIDs when the client sent them. The optional
// sequence-match data only lets a server shorten VANISHED (EARLIER)
// (3.2.5.2); it is parsed and not used.
func (s *session) Resync(w *goimap.FetchWriter, q *imap.SelectQResync) error {
	sel := s.sel
	if sel == nil {
		return noSelected
	}
	known := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}} // 1:*
	if q.KnownUIDs != nil {
		known = q.KnownUIDs
	}
	if err := s.writeVanished(w, q.ModSeq, known); err != nil {
		return err
	}
	var targets []target
	sel.mbox.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) {
		for i, m := range msgs {
			if m.ModSeq <= q.ModSeq || q.KnownUIDs != nil && !q.KnownUIDs.Contains(imap.UID(m.UID)) {
				continue
			}
			if seq := sel.tracker.EncodeSeqNum(uint32(i + 1)); seq != 0 {
				targets = append(targets, target{seq: seq, msg: m})
			}
		}
	})
	for _, t := range targets {
		rw := w.CreateMessage(t.seq)
		rw.WriteUID(imap.UID(t.msg.UID))
		rw.WriteFlags(sel.view.flags(t.msg.UID, t.msg.Flags)) // with \Recent (view.go)
		rw.WriteModSeq(t.msg.ModSeq)
		sel.tracker.Supersede(imap.UID(t.msg.UID), t.msg.ModSeq)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// changedSince keeps, of a FETCH's targets, those changed after
// CHANGEDSINCE (RFC 7162 3.1.4.1), after writing VANISHED (EARLIER) for
// UID FETCH (... VANISHED) (3.2.6). Without the modifier (MODSEQ alone)
// every target stays.
func (s *session) changedSince(w *goimap.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions, targets []target) ([]target, error) {
	if options.Vanished {
		uids, ok := numSet.(imap.UIDSet)
		if !ok || imap.IsSearchRes(numSet) {
			uids = s.sel.searchRes
		}
		if err := s.writeVanished(w, options.ChangedSince, uids); err != nil {
			return nil, err
		}
	}
	if options.ChangedSince == 0 {
		return targets, nil // every message has a MODSEQ above 0
	}
	return slices.DeleteFunc(targets, func(t target) bool { return t.msg.ModSeq <= options.ChangedSince }), nil
}

// writeVanished writes VANISHED (EARLIER) with the UIDs of set expunged
// after modSeq. "*" in set stands for any UID: an expunged UID may be above
// every UID left.
func (s *session) writeVanished(w *goimap.FetchWriter, modSeq uint64, set imap.UIDSet) error {
	gone, err := s.sel.mbox.Vanished(s.ctx, modSeq, uidRanges(set))
	if err != nil {
		return s.fail("vanished", err, false)
	}
	var out imap.UIDSet
	for _, r := range gone {
		out.AddRange(imap.UID(r.Start), imap.UID(r.Stop))
	}
	return w.WriteVanished(out)
}

// uidRanges turns a client's UID set into ascending, disjoint ranges, "*"
// as the largest UID.
func uidRanges(set imap.UIDSet) []postbox.UIDRange {
	out := make([]postbox.UIDRange, 0, len(set))
	for _, r := range set {
		start, stop := staticRange(uint32(r.Start), uint32(r.Stop), math.MaxUint32)
		out = append(out, postbox.UIDRange{Start: sealpost.UID(start), Stop: sealpost.UID(stop)})
	}
	slices.SortFunc(out, func(a, b postbox.UIDRange) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && uint64(r.Start) <= uint64(merged[n-1].Stop)+1 {
			merged[n-1].Stop = max(merged[n-1].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// newModSeqs copies into targets the MODSEQ that setting \Seen gave them,
// for the FETCH responses that report it.
func newModSeqs(targets []target, updated []sealpost.Message) {
	byUID := make(map[sealpost.UID]uint64, len(updated))
	for _, m := range updated {
		byUID[m.UID] = m.ModSeq
	}
	for i := range targets {
		if ms, ok := byUID[targets[i].msg.UID]; ok {
			targets[i].msg.ModSeq = ms
		}
	}
}

// writeModSeq adds MODSEQ to a FETCH response that asks for it, and UID and
// MODSEQ to one reporting the \Seen this FETCH set, for a CONDSTORE client
// (RFC 7162 3.1.4).
func writeModSeq(w *goimap.FetchWriter, rw *goimap.FetchResponseWriter, t target, options *imap.FetchOptions, seenSet bool) {
	if options.ModSeq {
		rw.WriteModSeq(t.msg.ModSeq)
		return
	}
	if seenSet && w.CondStore() {
		if !options.UID {
			rw.WriteUID(imap.UID(t.msg.UID))
		}
		rw.WriteModSeq(t.msg.ModSeq)
	}
}

// modifiedErr reports the messages UNCHANGEDSINCE kept unchanged, as
// sequence numbers for STORE and UIDs for UID STORE (RFC 7162 3.1.3), or
// nil.
func modifiedErr(targets []target, modified []sealpost.UID, numSet imap.NumSet) error {
	if len(modified) == 0 {
		return nil
	}
	if _, isUID := numSet.(imap.UIDSet); isUID {
		var set imap.UIDSet
		for _, u := range modified {
			set.AddNum(imap.UID(u))
		}
		return &goimap.ModifiedError{Set: set}
	}
	failed := make(map[sealpost.UID]bool, len(modified))
	for _, u := range modified {
		failed[u] = true
	}
	var set imap.SeqSet
	for _, t := range targets {
		if failed[t.msg.UID] {
			set.AddNum(t.seq)
		}
	}
	return &goimap.ModifiedError{Set: set}
}
