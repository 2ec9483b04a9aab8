package imapserver

// Sealpost patch 35: FETCH PREVIEW (RFC 8970).

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// readPreviewMods reads what follows the PREVIEW fetch-att: [SP "("
// preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY" (RFC 8970 7).
// LAZY lets the server answer NIL rather than compute a preview; a server
// may compute it anyway, so it is accepted and not reported.
func readPreviewMods(dec *imapwire.Decoder, options *imap.FetchOptions) error {
	options.Preview = true
	if !dec.Peek(" (") {
		return nil // a space here separates fetch-atts
	}
	dec.SP()
	dec.Special('(')
	for {
		var mod string
		if !dec.ExpectAtom(&mod) {
			return dec.Err()
		}
		if !strings.EqualFold(mod, "LAZY") {
			return newClientBugError("Unknown PREVIEW modifier " + mod)
		}
		if dec.Special(')') {
			return nil
		}
		if !dec.ExpectSP() {
			return dec.Err()
		}
	}
}

// WritePreview writes the message's preview (RFC 8970 3), at most 256
// characters of UTF-8; NIL when there is none to give.
func (w *FetchResponseWriter) WritePreview(text string, ok bool) {
	w.writeItemSep()
	w.enc.Atom("PREVIEW").SP()
	if !ok {
		w.enc.NIL()
		return
	}
	w.enc.String(text)
}
