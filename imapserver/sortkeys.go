package imapserver

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
)

// sortKeys are what SORT and THREAD need of a message's header (RFC 5256,
// RFC 5957), parsed from its decrypted header. Strings that are compared
// are folded as i;ascii-casemap compares them (ASCII letters in upper case).
type sortKeys struct {
	sent        time.Time // the Date field; zero if missing or unparseable
	subject     string    // base subject (RFC 5256 2.1), folded
	reply       bool      // base subject extraction removed a reply/forward marker
	from, to    string    // addr-mailbox of the first address, folded
	cc          string
	displayFrom string // RFC 5957: display name, or addr-spec, folded
	displayTo   string
	msgID       string   // Message-ID, without angle brackets
	refs        []string // References, or In-Reply-To's first msg-id
}

// Bounds on what one message's keys may hold in the session's memory: a
// longer value sorts as its prefix, and a thread keeps the last
// maxRefs references (the parent is the last).
const (
	maxKeyLen = 512
	maxRefs   = 64
	// maxKeyCache bounds a session's cache of sort keys, counted as the
	// strings' bytes plus a per-message overhead: about 15,000 typical
	// messages. Beyond it keys are computed for each command. (An account
	// may hold many sessions, each with its own cache.)
	maxKeyCache = 8 << 20
	keyOverhead = 200
)

// keyCache holds the sort keys of messages this session has decrypted,
// by message ID (a message's content never changes), in memory only: the
// keys are plaintext and never reach disk. It is dropped with the session's
// keys (Unauthenticate, Close).
type keyCache struct {
	mu    sync.Mutex
	keys  map[sealpost.MessageID]*sortKeys
	bytes int
}

func (c *keyCache) get(id sealpost.MessageID) *sortKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[id]
}

func (c *keyCache) put(id sealpost.MessageID, k *sortKeys) {
	n := k.size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes+n > maxKeyCache {
		return
	}
	if c.keys == nil {
		c.keys = make(map[sealpost.MessageID]*sortKeys)
	}
	if _, ok := c.keys[id]; !ok {
		c.keys[id] = k
		c.bytes += n
	}
}

func (c *keyCache) reset() {
	c.mu.Lock()
	c.keys, c.bytes = nil, 0
	c.mu.Unlock()
}

func (k *sortKeys) size() int {
	n := keyOverhead + len(k.subject) + len(k.from) + len(k.to) + len(k.cc) +
		len(k.displayFrom) + len(k.displayTo) + len(k.msgID)
	for _, r := range k.refs {
		n += len(r) + 16
	}
	return n
}

// sortItem is a message taking part in a SORT or THREAD.
type sortItem struct {
	seq  uint32
	msg  sealpost.Message
	keys *sortKeys
}

// date is the message's sent date, its internal date when the Date field is
// missing or unparseable (RFC 5256 2.2).
func (it *sortItem) date() time.Time {
	if it.keys.sent.IsZero() {
		return it.msg.InternalDate
	}
	return it.keys.sent
}

// sortItems returns the messages of the selected mailbox that match
// search, in mailbox order, with their sort keys: from the session's cache,
// or decrypted by the FETCH pipeline's workers and then cached.
func (s *session) sortItems(search *imap.SearchCriteria) ([]sortItem, error) {
	sel := s.sel
	if sel == nil {
		return nil, noSelected
	}
	data, err := s.Search(goimap.NumKindUID, search, &imap.SearchOptions{ReturnAll: true})
	if err != nil {
		return nil, err
	}
	matched, _ := data.All.(imap.UIDSet)
	var items []sortItem
	sel.mbox.Read(func(_ sealpost.Mailbox, all []sealpost.Message) {
		r := 0 // Search built matched in ascending order, without overlaps
		for i, m := range all {
			uid := imap.UID(m.UID)
			for r < len(matched) && matched[r].Stop < uid {
				r++
			}
			if r == len(matched) {
				break
			}
			if uid < matched[r].Start {
				continue
			}
			if seq := sel.tracker.EncodeSeqNum(uint32(i + 1)); seq != 0 {
				items = append(items, sortItem{seq: seq, msg: m})
			}
		}
	})
	var missing []target
	var index []int
	for i := range items {
		if k := s.sortKeys.get(items[i].msg.ID); k != nil {
			items[i].keys = k
		} else {
			missing = append(missing, target{seq: items[i].seq, msg: items[i].msg})
			index = append(index, i)
		}
	}
	if len(missing) == 0 {
		return items, nil
	}
	err = s.pipeline(missing, func(ctx context.Context, t target) any {
		raw, err := s.body(ctx, t.msg)
		if err != nil {
			return err
		}
		return parseSortKeys(parseMessage(raw))
	}, func(i int, v any) error {
		k, ok := v.(*sortKeys)
		if !ok {
			// A message that cannot be read sorts with empty keys
			// (and its internal date), uncached.
			if s.ctx.Err() == nil {
				s.log.Warn("sort: message not read", "message", missing[i].msg.ID, "err", v)
			}
			k = &sortKeys{}
		} else {
			s.sortKeys.put(missing[i].msg.ID, k)
		}
		items[index[i]].keys = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// parseSortKeys extracts the sort keys of a message's header.
func parseSortKeys(e *entity) *sortKeys {
	k := &sortKeys{}
	if v, ok := e.get("Date"); ok {
		k.sent = parseDate(v)
	}
	subj, _ := e.get("Subject")
	base, reply := baseSubject(subj)
	k.subject, k.reply = casemap(bound(base)), reply
	k.from, k.displayFrom = headerAddressKeys(e, "From")
	k.to, k.displayTo = headerAddressKeys(e, "To")
	k.cc, _ = headerAddressKeys(e, "Cc")
	if v, ok := e.get("Message-Id"); ok {
		if ids := msgIDs(v); len(ids) > 0 {
			k.msgID = bound(ids[0])
		}
	}
	// RFC 5256 4 (1): References, or if it has no valid msg-id, the
	// first valid one of In-Reply-To.
	var refs []string
	for _, v := range e.values("References") {
		refs = append(refs, msgIDs(v)...)
	}
	if len(refs) == 0 {
		if v, ok := e.get("In-Reply-To"); ok {
			if ids := msgIDs(v); len(ids) > 0 {
				refs = ids[:1]
			}
		}
	}
	if len(refs) > maxRefs {
		refs = refs[len(refs)-maxRefs:]
	}
	for i := range refs {
		refs[i] = bound(refs[i])
	}
	k.refs = refs
	return k
}

// addressKeys returns the SORT key (addr-mailbox, RFC 5256 3) and the
// DISPLAY key (RFC 5957 3: the display name, or the addr-spec when it has
// none) of the first address of a list, both folded; empty for none. The
// first address is as ENVELOPE gives it (RFC 3501 7.4.2): a group's start,
// (NIL NIL "group" NIL), counts, its name as both keys, and an address
// without a host ("From: d") is its mailbox alone, as Dovecot sorts them
// (imaptest's sort-addresses and sort-display-* scripts).
func addressKeys(list []imap.Address) (mailbox, display string) {
	for _, a := range list {
		if a.Mailbox == "" && a.Host == "" {
			continue // a group's end
		}
		display = strings.TrimSpace(decodeHeader(a.Name))
		switch {
		case display != "":
		case a.Host != "":
			display = a.Mailbox + "@" + a.Host
		default:
			display = a.Mailbox
		}
		return casemap(bound(a.Mailbox)), casemap(bound(display))
	}
	return "", ""
}

// headerAddressKeys is addressKeys of a header field's first address. A
// field that is one bare local part ("To: d", no host), which ENVELOPE
// cannot carry (its NIL host means a group), still sorts by that name, as
// Dovecot sorts it.
func headerAddressKeys(e *entity, name string) (mailbox, display string) {
	if mailbox, display = addressKeys(e.addresses(name)); mailbox != "" {
		return mailbox, display
	}
	v, _ := e.get(name)
	if v = strings.TrimSpace(stripComments(v)); v != "" && !strings.ContainsAny(v, "@,:;<>\" \t") {
		return casemap(bound(v)), casemap(bound(v))
	}
	return "", ""
}

// bound cuts a key to maxKeyLen bytes.
func bound(s string) string {
	if len(s) > maxKeyLen {
		return s[:maxKeyLen]
	}
	return s
}

// casemap folds s for the i;ascii-casemap comparator (RFC 4790 9.2): ASCII
// letters in upper case, other bytes as they are.
func casemap(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
