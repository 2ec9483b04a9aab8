package imapserver

// Sealpost patch 36: SAVEDATE (RFC 8514): FETCH SAVEDATE and the search keys
// SAVEDBEFORE, SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED.

import (
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// readSaveDateKey reads a SAVEDATE search key (RFC 8514 4), after its name;
// several intersect.
func readSaveDateKey(criteria *imap.SearchCriteria, dec *imapwire.Decoder, key string) error {
	if criteria.SaveDate == nil {
		criteria.SaveDate = &imap.SearchCriteriaSaveDate{}
	}
	sd := criteria.SaveDate
	if key == "SAVEDATESUPPORTED" {
		sd.Supported = true
		return nil
	}
	if !dec.ExpectSP() {
		return dec.Err()
	}
	t, err := internal.ExpectDate(dec)
	if err != nil {
		return err
	}
	since, before := time.Time{}, time.Time{}
	switch key {
	case "SAVEDSINCE":
		since = t
	case "SAVEDBEFORE":
		before = t
	case "SAVEDON":
		since, before = t, t.Add(24*time.Hour)
	}
	if !since.IsZero() && since.After(sd.Since) {
		sd.Since = since
	}
	if !before.IsZero() && (sd.Before.IsZero() || before.Before(sd.Before)) {
		sd.Before = before
	}
	return nil
}

// WriteSaveDate writes the message's save date (RFC 8514 3), NIL when the
// server does not know it.
func (w *FetchResponseWriter) WriteSaveDate(t time.Time) {
	w.writeItemSep()
	w.enc.Atom("SAVEDATE").SP()
	if t.IsZero() {
		w.enc.NIL()
		return
	}
	w.enc.String(t.Format(internal.DateTimeLayout))
}
