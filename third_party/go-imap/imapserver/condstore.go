package imapserver

// Sealpost patch 10: CONDSTORE and QRESYNC (RFC 7162) for a session that
// implements SessionCondStore. The parsing of the commands' new syntax,
// the enabling rules and the new responses live here; select.go, fetch.go,
// store.go, search.go, status.go, enable.go, capability.go and tracker.go
// call in with a line or two each.

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// maxModSeq is the largest mod-sequence-value (RFC 7162 7: a positive
// unsigned 63-bit integer).
const maxModSeq = 1<<63 - 1

// SessionCondStore is an IMAP session which supports CONDSTORE and QRESYNC
// (RFC 7162). The server advertises both after login when Options.Caps
// holds them.
//
// Once CONDSTORE is enabled (conn.EnabledCaps has imap.CapCondStore; ENABLE
// QRESYNC enables it too) the session must:
//   - set SelectData.HighestModSeq, StatusData.HighestModSeq;
//   - write MODSEQ (FetchResponseWriter.WriteModSeq) in FETCH responses
//     when FetchOptions.ModSeq is set, and with UID in every FETCH it
//     sends after STORE (RFC 7162 3.1.4: even .SILENT ones report MODSEQ);
//   - skip in FETCH the messages whose modseq is not above
//     FetchOptions.ChangedSince (and, with FetchOptions.Vanished, first
//     report the UIDs of the set expunged since, FetchWriter.WriteVanished);
//   - refuse to change, in STORE with StoreOptions.UnchangedSince, the
//     messages changed since, atomically against other sessions' changes,
//     and return a *ModifiedError naming them;
//   - match SearchCriteria.ModSeq at any depth and set SearchData.ModSeq
//     (the highest modseq among the matches) when it was used;
//   - queue its expunges with MailboxTracker.QueueExpungeUID and its flag
//     changes with MailboxTracker.QueueMessageFlagsModSeq, which write
//     VANISHED and MODSEQ to the sessions that enabled them.
type SessionCondStore interface {
	Session

	// HighestModSeq returns the selected mailbox's HIGHESTMODSEQ, for the
	// untagged OK sent when a command other than SELECT enables CONDSTORE
	// while a mailbox is selected (RFC 7162 3.1).
	HighestModSeq() uint64
	// Resync writes what changed in the selected mailbox since q.ModSeq,
	// for SELECT or EXAMINE with QRESYNC (RFC 7162 3.2.5): VANISHED
	// (EARLIER) for the expunged UIDs (of q.KnownUIDs, when given), then
	// a FETCH (UID FLAGS MODSEQ) for each message changed since. The
	// server calls it only when q.UIDValidity is the mailbox's.
	Resync(w *FetchWriter, q *imap.SelectQResync) error
}

// ModifiedError is what SessionCondStore.Store returns when UNCHANGEDSINCE
// kept some messages unchanged: the command still succeeds, with
// OK [MODIFIED set] (RFC 7162 3.1.3). Set holds sequence numbers for STORE,
// UIDs for UID STORE.
type ModifiedError struct {
	Set imap.NumSet
}

func (e *ModifiedError) Error() string {
	return fmt.Sprintf("imapserver: conditional STORE failed for %v", e.Set)
}

// condStore returns the session as a SessionCondStore if the server
// offers CONDSTORE to it.
func (c *Conn) condStore() (SessionCondStore, bool) {
	s, ok := c.session.(SessionCondStore)
	if !ok || !c.server.options.caps().Has(imap.CapCondStore) {
		return nil, false
	}
	return s, true
}

// condStoreCaps are the capabilities advertised after login (RFC 7162 3.1,
// 3.2.3).
func (c *Conn) condStoreCaps() []imap.Cap {
	if _, ok := c.condStore(); !ok {
		return nil
	}
	caps := []imap.Cap{imap.CapCondStore}
	if c.server.options.caps().Has(imap.CapQResync) {
		caps = append(caps, imap.CapQResync)
	}
	return caps
}

// canEnable reports whether ENABLE may turn cap on.
func (c *Conn) canEnable(cap imap.Cap) bool {
	for _, have := range c.condStoreCaps() {
		if have == cap {
			return true
		}
	}
	return false
}

// enableCaps records enabled capabilities; QRESYNC implies CONDSTORE (RFC
// 7162 3.2.3). It reports whether CONDSTORE is newly on.
func (c *Conn) enableCaps(caps []imap.Cap) (condStoreNow bool) {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	had := c.enabled.Has(imap.CapCondStore)
	for _, e := range caps {
		c.enabled[e] = struct{}{}
		if e == imap.CapQResync {
			c.enabled[imap.CapCondStore] = struct{}{}
		}
	}
	return !had && c.enabled.Has(imap.CapCondStore)
}

func (c *Conn) enabledCap(cap imap.Cap) bool {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.enabled.Has(cap)
}

// useCondStore is called by a CONDSTORE enabling command (RFC 7162 3.1)
// once it is known to be valid. If a mailbox is selected and CONDSTORE was
// off, the client learns the mailbox's HIGHESTMODSEQ at once.
func (c *Conn) useCondStore() error {
	s, ok := c.condStore()
	if !ok {
		return newClientBugError("CONDSTORE is not supported")
	}
	if c.enableCaps([]imap.Cap{imap.CapCondStore}) && c.state == imap.ConnStateSelected {
		return c.writeHighestModSeq(s.HighestModSeq())
	}
	return nil
}

// afterEnable follows ENABLE's response: CONDSTORE turned on in the
// selected state announces HIGHESTMODSEQ.
func (c *Conn) afterEnable(condStoreNow bool) error {
	if s, ok := c.condStore(); ok && condStoreNow && c.state == imap.ConnStateSelected {
		return c.writeHighestModSeq(s.HighestModSeq())
	}
	return nil
}

func (c *Conn) writeHighestModSeq(modSeq uint64) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("OK").SP()
	enc.Special('[').Atom(string(imap.ResponseCodeHighestModSeq)).SP().ModSeq(modSeq).Special(']')
	enc.SP().Text("Highest")
	return enc.CRLF()
}

// readSelectParams reads SELECT's and EXAMINE's optional parameters after
// the mailbox name (RFC 4466 2.2; RFC 7162 3.1.8 CONDSTORE, 3.2.5 QRESYNC).
func readSelectParams(dec *imapwire.Decoder, options *imap.SelectOptions) error {
	return dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		switch strings.ToUpper(name) {
		case "CONDSTORE":
			options.CondStore = true
		case "QRESYNC":
			if options.QResync != nil {
				return newClientBugError("QRESYNC given twice")
			}
			q := &imap.SelectQResync{}
			if !dec.ExpectSP() || !dec.ExpectSpecial('(') || !dec.ExpectNumber(&q.UIDValidity) || !dec.ExpectSP() || !expectModSeq(dec, &q.ModSeq, false) {
				return dec.Err()
			}
			if q.UIDValidity == 0 {
				return newClientBugError("QRESYNC: UIDVALIDITY must be positive")
			}
			if dec.SP() {
				if !dec.Special('(') {
					uids, err := expectStaticUIDSet(dec)
					if err != nil {
						return err
					}
					q.KnownUIDs = uids
				}
				if q.KnownUIDs == nil || (dec.SP() && dec.ExpectSpecial('(')) {
					m, err := readSeqMatch(dec)
					if err != nil {
						return err
					}
					q.SeqMatch = m
				} else if dec.Err() != nil {
					return dec.Err()
				}
			}
			if !dec.ExpectSpecial(')') {
				return dec.Err()
			}
			options.QResync = q
		default:
			return newClientBugError("Unknown SELECT parameter")
		}
		return nil
	})
}

// readSeqMatch reads seq-match-data after its "(" (RFC 7162 7): the two
// sets must name as many messages as each other.
func readSeqMatch(dec *imapwire.Decoder) (*imap.QResyncSeqMatch, error) {
	var seqs imap.NumSet
	if !dec.ExpectNumSet(imapwire.NumKindSeq, &seqs) || !dec.ExpectSP() {
		return nil, dec.Err()
	}
	seqSet, ok := seqs.(imap.SeqSet)
	if !ok || imap.IsSearchRes(seqs) {
		return nil, newClientBugError("QRESYNC: invalid known-sequence-set")
	}
	uids, err := expectStaticUIDSet(dec)
	if err != nil {
		return nil, err
	}
	if !dec.ExpectSpecial(')') {
		return nil, dec.Err()
	}
	n, ok1 := seqSet.Nums()
	u, ok2 := uids.Nums()
	if !ok1 || !ok2 || len(n) != len(u) {
		return nil, newClientBugError("QRESYNC: the sequence-match sets differ in size or use *")
	}
	return &imap.QResyncSeqMatch{SeqNums: seqSet, UIDs: uids}, nil
}

// expectStaticUIDSet reads a UID set without "*" or "$" (RFC 7162 7,
// known-uids).
func expectStaticUIDSet(dec *imapwire.Decoder) (imap.UIDSet, error) {
	var set imap.NumSet
	if !dec.ExpectNumSet(imapwire.NumKindUID, &set) {
		return nil, dec.Err()
	}
	uids, ok := set.(imap.UIDSet)
	if !ok || imap.IsSearchRes(set) {
		return nil, newClientBugError("invalid UID set")
	}
	if _, ok := uids.Nums(); !ok {
		return nil, newClientBugError(`"*" is not allowed in known UIDs`)
	}
	return uids, nil
}

// expectModSeq reads a mod-sequence-value, or with zero a
// mod-sequence-valzer (RFC 7162 7).
func expectModSeq(dec *imapwire.Decoder, ptr *uint64, zero bool) bool {
	if !dec.ExpectModSeq(ptr) {
		return false
	}
	if *ptr > maxModSeq || (*ptr == 0 && !zero) {
		// Reported through the decoder, as a syntax error of the client's.
		return dec.Expect(false, "mod-sequence-value (1 to 2^63-1)")
	}
	return true
}

// beginSelect checks and applies SELECT's parameters before the session's
// Select: QRESYNC needs ENABLE QRESYNC first (RFC 7162 3.2.5), and either
// parameter enables CONDSTORE.
func (c *Conn) beginSelect(options *imap.SelectOptions) error {
	if options.QResync != nil && !c.enabledCap(imap.CapQResync) {
		return newClientBugError("QRESYNC parameter without ENABLE QRESYNC")
	}
	if options.CondStore || options.QResync != nil {
		if _, ok := c.condStore(); !ok {
			return newClientBugError("CONDSTORE is not supported")
		}
		c.enableCaps([]imap.Cap{imap.CapCondStore})
	}
	return nil
}

// endSelect writes, before SELECT's tagged OK, the HIGHESTMODSEQ (RFC 7162
// 3.1.2.1: with every successful SELECT or EXAMINE, from a server that
// keeps mod-sequences, whether or not the client enabled CONDSTORE) and
// the QRESYNC resynchronisation (3.2.5).
func (c *Conn) endSelect(options *imap.SelectOptions, data *imap.SelectData) error {
	s, ok := c.condStore()
	if !ok {
		return nil
	}
	if err := c.writeHighestModSeq(data.HighestModSeq); err != nil {
		return err
	}
	q := options.QResync
	if q == nil || q.UIDValidity != data.UIDValidity {
		return nil // a new UIDVALIDITY: the client starts over
	}
	return s.Resync(&FetchWriter{conn: c}, q)
}

// readFetchModifiers reads FETCH's modifiers after the item list (RFC 4466
// 2.4; RFC 7162 3.1.4.1 CHANGEDSINCE, 3.2.6 VANISHED).
func (c *Conn) readFetchModifiers(dec *imapwire.Decoder, numKind NumKind, options *imap.FetchOptions) error {
	changedSince := false
	err := dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		switch strings.ToUpper(name) {
		case "CHANGEDSINCE":
			if !dec.ExpectSP() || !expectModSeq(dec, &options.ChangedSince, true) {
				return dec.Err()
			}
			changedSince = true
		case "VANISHED":
			options.Vanished = true
		default:
			return newClientBugError("Unknown FETCH modifier")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if options.Vanished {
		// RFC 7162 3.2.6: UID FETCH only, with CHANGEDSINCE, after ENABLE
		// QRESYNC.
		switch {
		case numKind != NumKindUID:
			return newClientBugError("VANISHED is only allowed in UID FETCH")
		case !changedSince:
			return newClientBugError("VANISHED requires CHANGEDSINCE")
		case !c.enabledCap(imap.CapQResync):
			return newClientBugError("VANISHED requires ENABLE QRESYNC")
		}
	}
	if changedSince {
		options.ModSeq = true // RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ
	}
	return nil
}

// readStoreModifiers reads STORE's modifiers after the "(" that follows the
// set (RFC 4466 2.5; RFC 7162 3.1.3 UNCHANGEDSINCE).
func readStoreModifiers(dec *imapwire.Decoder, options *imap.StoreOptions) error {
	seen := false
	for {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		if !strings.EqualFold(name, "UNCHANGEDSINCE") || seen {
			return newClientBugError("Unknown or repeated STORE modifier")
		}
		seen = true
		if !dec.ExpectSP() || !expectModSeq(dec, &options.UnchangedSince, true) {
			return dec.Err()
		}
		options.Conditional = true
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectSpecial(')') || !dec.ExpectSP() {
		return dec.Err()
	}
	return nil
}

// storeModified turns a *ModifiedError from the session into the tagged
// OK [MODIFIED set] (RFC 7162 3.1.3), after the pending updates.
func (c *Conn) storeModified(err error) error {
	m, ok := err.(*ModifiedError)
	if !ok {
		return err
	}
	if err := c.poll("STORE"); err != nil {
		return err
	}
	return &imap.Error{
		Type: imap.StatusResponseTypeOK,
		Code: imap.ResponseCode(string(imap.ResponseCodeModified) + " " + numSetString(m.Set)),
		Text: "Conditional STORE failed",
	}
}

func numSetString(set imap.NumSet) string {
	switch set := set.(type) {
	case imap.SeqSet:
		return set.String()
	case imap.UIDSet:
		return set.String()
	}
	return ""
}

// readSearchKeyModSeq reads the MODSEQ search key after its name (RFC
// 7162 3.1.5): MODSEQ [entry-name entry-type-req] mod-sequence-valzer.
func readSearchKeyModSeq(criteria *imap.SearchCriteria, dec *imapwire.Decoder) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	ms := &imap.SearchCriteriaModSeq{}
	var entry string
	if dec.Quoted(&entry) {
		var typ string
		if !dec.ExpectSP() || !dec.ExpectAtom(&typ) || !dec.ExpectSP() {
			return dec.Err()
		}
		if !strings.HasPrefix(strings.ToLower(entry), "/flags/") {
			return newClientBugError("MODSEQ entry name must be /flags/<flag>")
		}
		ms.MetadataName = entry
		switch t := imap.SearchCriteriaMetadataType(strings.ToLower(typ)); t {
		case imap.SearchCriteriaMetadataAll, imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared:
			ms.MetadataType = t
		default:
			return newClientBugError("MODSEQ entry type must be priv, shared or all")
		}
	}
	if !expectModSeq(dec, &ms.ModSeq, true) {
		return dec.Err()
	}
	if criteria.ModSeq != nil && criteria.ModSeq.ModSeq > ms.ModSeq {
		// Both must hold: the larger bound decides.
		ms.ModSeq = criteria.ModSeq.ModSeq
	}
	criteria.ModSeq = ms
	return nil
}

// searchUsesModSeq reports whether the MODSEQ key appears anywhere in the
// criteria, which makes SEARCH a CONDSTORE enabling command.
func searchUsesModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if searchUsesModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if searchUsesModSeq(&c.Or[i][0]) || searchUsesModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// WriteModSeq writes the message's MODSEQ (RFC 7162 3.1.4.2).
func (w *FetchResponseWriter) WriteModSeq(modSeq uint64) {
	w.writeItemSep()
	w.enc.Atom("MODSEQ").SP().Special('(').ModSeq(modSeq).Special(')')
}

// WriteVanished writes VANISHED (EARLIER) with the UIDs expunged (RFC 7162
// 3.2.10), for UID FETCH (VANISHED) and a QRESYNC SELECT. An empty set
// writes nothing.
func (w *FetchWriter) WriteVanished(uids imap.UIDSet) error {
	if len(uids) == 0 {
		return nil
	}
	return w.conn.writeVanished(uids, true)
}

// CondStore reports whether the client enabled CONDSTORE, so that every
// FETCH the session sends must carry UID and MODSEQ (RFC 7162 3.1.4).
func (w *FetchWriter) CondStore() bool { return w.conn != nil && w.conn.enabledCap(imap.CapCondStore) }

func (c *Conn) writeVanished(uids imap.UIDSet, earlier bool) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("VANISHED").SP()
	if earlier {
		enc.Atom("(EARLIER)").SP()
	}
	enc.NumSet(uids)
	return enc.CRLF()
}

// writeExpunged writes expunges queued on the tracker: VANISHED with their
// UIDs once QRESYNC is enabled (RFC 7162 3.2.10), else one EXPUNGE each.
func (w *UpdateWriter) writeExpunged(updates []trackerUpdate) error {
	if w.conn.enabledCap(imap.CapQResync) && updates[0].uid != 0 {
		var uids imap.UIDSet
		for _, u := range updates {
			uids.AddNum(u.uid)
		}
		return w.conn.writeVanished(uids, false)
	}
	for _, u := range updates {
		if err := w.WriteExpunge(u.expunge); err != nil {
			return err
		}
	}
	return nil
}

// writeMessageFlagsModSeq writes an unsolicited FETCH of flags, with UID and
// MODSEQ once CONDSTORE is enabled (RFC 7162 3.1.4).
func (w *UpdateWriter) writeMessageFlagsModSeq(f *trackerUpdateFetch) error {
	if f.modSeq == 0 || !w.conn.enabledCap(imap.CapCondStore) {
		return w.WriteMessageFlags(f.seqNum, f.uid, f.flags)
	}
	rw := (&FetchWriter{conn: w.conn}).CreateMessage(f.seqNum)
	rw.WriteUID(f.uid)
	rw.WriteFlags(f.flags)
	rw.WriteModSeq(f.modSeq)
	return rw.Close()
}

// QueueExpungeUID queues an expunge of the message with this sequence
// number and UID: EXPUNGE, or VANISHED for a session that enabled
// QRESYNC.
func (t *MailboxTracker) QueueExpungeUID(seqNum uint32, uid imap.UID) {
	if seqNum == 0 {
		panic("imapserver: invalid expunge message sequence number")
	}
	t.queueUpdate(&trackerUpdate{expunge: seqNum, uid: uid}, nil)
}

// QueueMessageFlagsModSeq queues a FETCH FLAGS update that carries the
// message's MODSEQ to the sessions that enabled CONDSTORE.
func (t *MailboxTracker) QueueMessageFlagsModSeq(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64, source *SessionTracker) {
	t.queueUpdate(&trackerUpdate{fetch: &trackerUpdateFetch{
		seqNum: seqNum,
		uid:    uid,
		flags:  flags,
		modSeq: modSeq,
	}}, source)
}
