package imapserver

// Sealpost patches 30-36: the capabilities of ID, SORT, THREAD, COMPRESS,
// MULTIAPPEND, PREVIEW and SAVEDATE, each advertised when Options.Caps
// holds it and the session can answer it.

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// appendExtCaps appends the capabilities of Sealpost's patches 30-36 that
// apply in the connection's state.
func (c *Conn) appendExtCaps(caps []imap.Cap, available imap.CapSet) []imap.Cap {
	if _, ok := c.session.(SessionID); ok && available.Has(imap.CapID) {
		caps = append(caps, imap.CapID) // RFC 2971 3.1: in any state
	}
	if c.state != imap.ConnStateAuthenticated && c.state != imap.ConnStateSelected {
		return caps
	}
	if _, ok := c.session.(SessionSort); ok {
		addAvailableCaps(&caps, available, []imap.Cap{imap.CapSort, imap.CapSortDisplay, imap.CapESort})
	}
	if _, ok := c.session.(SessionThread); ok {
		var algs []string
		for cp := range available {
			if strings.HasPrefix(string(cp), "THREAD=") {
				algs = append(algs, string(cp))
			}
		}
		sort.Strings(algs) // CapSet is a map
		for _, a := range algs {
			caps = append(caps, imap.Cap(a))
		}
	}
	// Patches 35 and 36: the session answers FETCH PREVIEW (RFC 8970)
	// and FETCH SAVEDATE and its search keys (RFC 8514).
	addAvailableCaps(&caps, available, []imap.Cap{imap.CapPreview, imap.CapSaveDate})
	if _, ok := c.session.(SessionMultiAppend); ok && available.Has(imap.CapMultiAppend) {
		caps = append(caps, imap.CapMultiAppend)
	}
	if _, ok := c.session.(SessionCompress); ok && available.Has(CapCompressDeflate) && !c.deflating {
		caps = append(caps, CapCompressDeflate)
	}
	return caps
}
