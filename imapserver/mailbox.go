package imapserver

import (
	"slices"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// selected is the state of the selected mailbox: the shared live mailbox,
// this session's watch of its changes, and this session's view of it
// (sequence numbers and pending updates) in go-imap's tracker, which the
// watch feeds.
type selected struct {
	mbox      *postbox.Mailbox
	watch     *postbox.Watch
	tracker   *goimap.SessionTracker
	id        sealpost.MailboxID
	readOnly  bool        // EXAMINE
	searchRes imap.UIDSet // the saved SEARCH result, "$" (RFC 5182)
	view      view        // keywords announced, \Recent messages (view.go)
}

// target is a message designated by a command: its sequence number in the
// client's view and its metadata.
type target struct {
	seq uint32
	msg sealpost.Message
}

// systemFlags are the flags every mailbox supports (RFC 9051 2.3.2).
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// Select opens a mailbox (RFC 9051 6.3.2), read-only for EXAMINE.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	mbox, err := s.ps.Select(s.ctx, canonName(name))
	if err != nil {
		return nil, s.fail("select", err, false)
	}
	sel := &selected{mbox: mbox, id: mbox.ID(), readOnly: options != nil && options.ReadOnly}
	sel.view.readOnly = sel.readOnly
	// RFC 3501 2.3.2: \Recent is IMAP4rev1's; a read-write selection
	// takes the recent messages, EXAMINE only sees them (RFC 3501 6.3.2).
	sel.view.rev1 = !s.conn.EnabledCaps().Has(imap.CapIMAP4rev2)
	data := &imap.SelectData{}
	var info sealpost.Mailbox
	defined := mbox.Keywords() // only grows: what the watch's start lacks comes as changes
	sel.watch = mbox.WatchSession(sel.view.rev1 && !sel.readOnly, func(mi sealpost.Mailbox, msgs []sealpost.Message, firstRecent sealpost.UID) func(postbox.Change) {
		// No change can come between this state and the first one the
		// watch receives: the tracker starts from exactly this count.
		mt := goimap.NewMailboxTracker(uint32(len(msgs)))
		sel.tracker = mt.NewSession()
		info = mi
		data.NumMessages = uint32(len(msgs))
		for i, m := range msgs {
			if !sealpost.HasFlag(m.Flags, sealpost.FlagSeen) {
				data.FirstUnseenSeqNum = uint32(i + 1)
				break
			}
		}
		sel.view.start(defined, msgs, firstRecent)
		return func(c postbox.Change) { sel.view.queueChange(mt, c) }
	})
	data.UIDNext = imap.UID(info.UIDNext)
	data.UIDValidity = info.UIDValidity
	data.HighestModSeq = info.HighestModSeq // RFC 7162 3.1.2.1
	data.NumRecent = sel.view.numRecent()
	sel.view.mu.Lock()
	data.Flags, data.PermanentFlags = sel.view.mailboxFlags()
	sel.view.mu.Unlock()
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		// RFC 9051 6.3.2: an IMAP4rev2 SELECT returns the mailbox's LIST.
		data.List = &imap.ListData{Delim: delim, Mailbox: info.Name}
		if info.Use != sealpost.UseNone && info.Use != sealpost.UseInbox {
			data.List.Attrs = []imap.MailboxAttr{imap.MailboxAttr(info.Use)}
		}
	}
	s.sel = sel
	return data, nil
}

// imapFlags converts stored flags to go-imap's type.
func imapFlags(flags []sealpost.Flag) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}

func sortedKeys(m map[string]imap.Flag) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Unselect leaves the selected state (RFC 3691, and CLOSE after go-imap's
// silent expunge).
func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	s.sel.watch.Close()
	s.sel.tracker.Close()
	s.ps.Release(s.sel.mbox)
	s.sel = nil
}

// Poll writes pending updates (EXISTS, EXPUNGE, FETCH FLAGS) from other
// sessions and deliveries; go-imap calls it after every command, with
// expunges withheld after FETCH, STORE and SEARCH (RFC 9051 7.5.1).
func (s *session) Poll(w *goimap.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.sel.tracker.Poll(w, allowExpunge)
}

// Idle writes updates as they happen until stop is closed (RFC 2177).
func (s *session) Idle(w *goimap.UpdateWriter, stop <-chan struct{}) error {
	s.mu.Lock()
	if s.ctx.Err() != nil { // Close has begun
		s.mu.Unlock()
		return nil
	}
	s.idle.Add(1)
	sel := s.sel
	s.mu.Unlock()
	defer s.idle.Done()
	if sel == nil {
		select {
		case <-stop:
		case <-s.ctx.Done():
		}
		return nil
	}
	return sel.tracker.Idle(w, stop)
}

// Expunge removes \Deleted messages (RFC 9051 6.4.3), only those in uids
// for UID EXPUNGE (RFC 4315). The EXPUNGE responses are queued on the
// session's tracker and written by the poll go-imap runs after the command.
// go-imap also calls Expunge for CLOSE, with an empty writer: on a read-only
// mailbox CLOSE expunges nothing and succeeds (RFC 9051 6.4.2).
func (s *session) Expunge(w *goimap.ExpungeWriter, uids *imap.UIDSet) error {
	sel := s.sel
	if sel == nil {
		return noSelected
	}
	if sel.readOnly {
		if w != nil && *w == (goimap.ExpungeWriter{}) {
			return nil
		}
		return readOnlyErr
	}
	var list []sealpost.UID
	if uids != nil {
		for _, t := range s.resolve(*uids) {
			if sealpost.HasFlag(t.msg.Flags, sealpost.FlagDeleted) {
				list = append(list, t.msg.UID)
			}
		}
		if len(list) == 0 {
			return nil
		}
	}
	if _, err := sel.mbox.Expunge(s.ctx, list); err != nil {
		return s.fail("expunge", err, false)
	}
	return nil
}

// Store changes flags (RFC 9051 6.4.6) and, unless .SILENT, returns them.
// Other sessions are told through their watches; this one is not, since it
// gets the FETCH responses here.
func (s *session) Store(w *goimap.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	sel := s.sel
	if sel == nil {
		return noSelected
	}
	if sel.readOnly {
		return readOnlyErr
	}
	fl, err := storeFlags(flags.Flags)
	if err != nil {
		return err
	}
	targets := s.resolve(numSet)
	if len(targets) == 0 {
		return nil
	}
	uids := targetUIDs(targets)
	op := sealpost.FlagsSet
	switch flags.Op {
	case imap.StoreFlagsAdd:
		op = sealpost.FlagsAdd
	case imap.StoreFlagsDel:
		op = sealpost.FlagsRemove
	}
	var updated []sealpost.Message
	var modified []sealpost.UID // UNCHANGEDSINCE failed (condstore.go)
	if options != nil && options.Conditional {
		updated, modified, err = sel.mbox.SetFlagsUnchangedSince(s.ctx, uids, op, fl, options.UnchangedSince, sel.watch)
	} else {
		updated, err = sel.mbox.SetFlags(s.ctx, uids, op, fl, sel.watch)
	}
	if err != nil {
		return s.fail("store", err, false)
	}
	if op != sealpost.FlagsRemove {
		s.learnFromStore(sel, targets, fl) // junk.go
	}
	// A new keyword is announced before the FETCH that shows it, and
	// before any later one (RFC 3501 7.2.6), .SILENT or not.
	sel.view.learn(fl)
	if err := sel.view.announce(w.Updates()); err != nil {
		return err
	}
	// RFC 7162 3.1.3, 3.1.4: a CONDSTORE client gets UID and MODSEQ of
	// each changed message, even after .SILENT.
	cond := w.CondStore()
	if flags.Silent && !cond {
		return modifiedErr(targets, modified, numSet)
	}
	byUID := make(map[sealpost.UID]sealpost.Message, len(updated))
	for _, m := range updated {
		byUID[m.UID] = m
	}
	_, isUID := numSet.(imap.UIDSet)
	for _, t := range targets {
		m, ok := byUID[t.msg.UID]
		if !ok {
			continue // expunged meanwhile, or modified since
		}
		// Older changes queued for this session must not follow.
		sel.tracker.Supersede(imap.UID(t.msg.UID), m.ModSeq)
		rw := w.CreateMessage(t.seq)
		if isUID || cond {
			rw.WriteUID(imap.UID(t.msg.UID))
		}
		if !flags.Silent {
			rw.WriteFlags(sel.view.flags(t.msg.UID, m.Flags))
		}
		if cond {
			rw.WriteModSeq(m.ModSeq)
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return modifiedErr(targets, modified, numSet)
}

// Copy copies messages to another mailbox (RFC 9051 6.4.7) and returns
// COPYUID data (RFC 4315).
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if s.sel == nil {
		return nil, noSelected
	}
	dest = canonName(dest)
	targets := s.resolve(numSet)
	if len(targets) == 0 {
		if _, err := s.ps.Mailbox(s.ctx, dest); err != nil {
			return nil, s.fail("copy", err, true)
		}
		return nil, nil
	}
	uids := targetUIDs(targets)
	info, copies, err := s.ps.Copy(s.ctx, s.sel.mbox, uids, dest)
	if err != nil {
		return nil, s.fail("copy", err, true)
	}
	return copyData(info, uids, copies), nil
}

// Move moves messages to another mailbox (RFC 6851): COPYUID first, then
// the EXPUNGE responses, which the tracker queued and go-imap's poll after
// the command writes, then the tagged OK.
func (s *session) Move(w *goimap.MoveWriter, numSet imap.NumSet, dest string) error {
	sel := s.sel
	if sel == nil {
		return noSelected
	}
	if sel.readOnly {
		return readOnlyErr
	}
	dest = canonName(dest)
	// The destination may be the selected mailbox itself (RFC 6851 3.3):
	// the messages get new UIDs, EXPUNGE and EXISTS follow.
	if _, err := s.ps.Mailbox(s.ctx, dest); err != nil {
		return s.fail("move", err, true)
	}
	targets := s.resolve(numSet)
	if len(targets) == 0 {
		return nil
	}
	uids := targetUIDs(targets)
	info, copies, err := s.ps.Move(s.ctx, sel.mbox, uids, dest)
	if err != nil {
		return s.fail("move", err, true)
	}
	if data := copyData(info, uids, copies); data != nil {
		return w.WriteCopyData(data)
	}
	return nil
}

func targetUIDs(targets []target) []sealpost.UID {
	uids := make([]sealpost.UID, len(targets))
	for i, t := range targets {
		uids[i] = t.msg.UID
	}
	return uids
}

// copyData pairs source and destination UIDs, in ascending order on both
// sides; nil if the store skipped some messages (expunged meanwhile), since
// the pairing would then be unknown.
func copyData(dest sealpost.Mailbox, uids []sealpost.UID, copies []sealpost.Message) *imap.CopyData {
	if len(copies) != len(uids) || len(copies) == 0 {
		return nil
	}
	data := &imap.CopyData{UIDValidity: dest.UIDValidity}
	for i, c := range copies {
		data.SourceUIDs.AddNum(imap.UID(uids[i]))
		data.DestUIDs.AddNum(imap.UID(c.UID))
	}
	return data
}

// resolve returns the messages numSet designates that the client knows of
// (messages not yet announced with EXISTS have no sequence number for it),
// in mailbox order. "*" and "$" are resolved here.
func (s *session) resolve(numSet imap.NumSet) []target {
	sel := s.sel
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	var out []target
	sel.mbox.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) {
		switch set := numSet.(type) {
		case imap.SeqSet:
			set = staticSeqSet(set, s.maxSeq(len(msgs)))
			for i := range msgs {
				if seq := sel.tracker.EncodeSeqNum(uint32(i + 1)); seq != 0 && set.Contains(seq) {
					out = append(out, target{seq: seq, msg: msgs[i]})
				}
			}
		case imap.UIDSet:
			var maxUID imap.UID
			if len(msgs) > 0 {
				maxUID = imap.UID(msgs[len(msgs)-1].UID)
			}
			set = staticUIDSet(set, maxUID)
			for i := range msgs {
				if !set.Contains(imap.UID(msgs[i].UID)) {
					continue
				}
				if seq := sel.tracker.EncodeSeqNum(uint32(i + 1)); seq != 0 {
					out = append(out, target{seq: seq, msg: msgs[i]})
				}
			}
		}
	})
	return out
}

// maxSeq is the client's highest sequence number, what "*" means. The
// caller holds the mailbox's read lock.
func (s *session) maxSeq(n int) uint32 {
	for i := n; i > 0; i-- {
		if seq := s.sel.tracker.EncodeSeqNum(uint32(i)); seq != 0 {
			return seq
		}
	}
	return 0
}

// staticSeqSet returns a copy of set with "*" (0) replaced by max.
func staticSeqSet(set imap.SeqSet, max uint32) imap.SeqSet {
	out := make(imap.SeqSet, len(set))
	for i, r := range set {
		r.Start, r.Stop = staticRange(r.Start, r.Stop, max)
		out[i] = r
	}
	return out
}

// staticUIDSet returns a copy of set with "*" (0) replaced by max.
func staticUIDSet(set imap.UIDSet, max imap.UID) imap.UIDSet {
	out := make(imap.UIDSet, len(set))
	for i, r := range set {
		start, stop := staticRange(uint32(r.Start), uint32(r.Stop), uint32(max))
		out[i] = imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)}
	}
	return out
}

func staticRange(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}
