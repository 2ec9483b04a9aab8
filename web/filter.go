package web

import (
	"context"
	"net/http"

	"github.com/sealpost/sealpost/errors"
)

// This file is the privacy page's "Filters" section: the account's Sieve
// script (RFC 5228), run at delivery, and its spam classifier, with the
// owner's switch to the strictest mode, where the server runs no script and
// scores nothing because it can open neither without the owner. Every
// change asks the password again, through the throttle, as a move does.
//
// The script's text is the owner's: it is shown back to them (escaped by
// html/template) and passed to Owners.SetFilter, and never logged.

// Bounds of the script form. The form is posted as multipart/form-data, so
// that the script travels as typed (URL-encoding could triple it); its body
// is bounded to maxScriptForm, the script itself to maxScript.
const (
	// maxScript bounds a script saved from the page (as a ManageSieve
	// server bounds PUTSCRIPT, answering QUOTA/MAXSIZE: RFC 5804 1.3).
	maxScript = 64 << 10
	// maxScriptForm is a script with the rest of its form: the CSRF
	// token, the password and the multipart framing.
	maxScriptForm = maxScript + 8<<10
)

// filterPart is what the Filters section shows.
type filterPart struct {
	FilterView
	// Editable: the page shows the script in a form to edit. Not in the
	// strictest mode when the server cannot open the script.
	Editable bool
	// Text is the textarea's: the active script, or the owner's own text
	// after a save that failed (so that a typo costs nothing).
	Text      string
	MaxScript int
}

// filterPart describes addr's filter; draft, if not nil, is the text the
// owner last posted, shown instead of the saved script.
func (s *Server) filterPart(ctx context.Context, addr string, draft []byte) (*filterPart, error) {
	v, err := s.owners.Filter(ctx, addr)
	if err != nil {
		return nil, err
	}
	p := &filterPart{FilterView: v, Editable: v.Script != nil || !v.NoServerFilter, Text: string(v.Script), MaxScript: maxScript}
	if draft != nil && p.Editable {
		p.Text = string(draft)
	}
	return p, nil
}

// The forms' outcomes, as the page says them.
const (
	filterWrong    = "Your filter was not changed. Check your password and try again."
	filterFailed   = "Your filter could not be changed just now. Please try again later."
	scriptInvalid  = "Your script was not saved: "
	scriptTooLarge = "Your script was not saved: it is larger than 64 KiB."
)

// saveScript replaces the active script with the posted one (an empty one
// turns scripts off).
func (s *Server) saveScript(w http.ResponseWriter, r *http.Request, sess *session) {
	text, ok := r.PostForm["script"]
	if !ok || len(text) != 1 {
		s.showMe(w, r, sess, http.StatusBadRequest, "The form had no script.", "")
		return
	}
	script := []byte(text[0])
	if len(script) > maxScript {
		s.showMe(w, r, sess, http.StatusRequestEntityTooLarge, scriptTooLarge, "")
		return
	}
	flash := "Your script is saved and active. It runs on mail that arrives from now on."
	if len(script) == 0 {
		flash = "Your scripts are turned off: no script runs on mail that arrives."
	}
	s.changeFilter(w, r, sess, FilterChange{Script: script}, flash)
}

// setServerFilter turns server-side filtering on or off (the strictest
// mode off or on).
func (s *Server) setServerFilter(w http.ResponseWriter, r *http.Request, sess *session) {
	var off bool
	switch r.PostForm.Get("server_filter") {
	case "on":
	case "off":
		off = true
	default:
		s.showMe(w, r, sess, http.StatusBadRequest, "Choose whether the server filters your mail.", "")
		return
	}
	flash := "Server-side filtering is on."
	if off {
		flash = "Server-side filtering is off."
	}
	s.changeFilter(w, r, sess, FilterChange{NoServerFilter: &off}, flash)
}

// changeFilter checks the posted password through the throttle, as a move
// does (a stolen session must not become a way to guess it), then asks
// Owners to make change (SetFilter checks the password once more itself).
// On failure the page shows the owner's script as they posted it.
func (s *Server) changeFilter(w http.ResponseWriter, r *http.Request, sess *session, change FilterChange, flash string) {
	pass := r.PostForm.Get("password")
	err := s.checkPassword(r, LoginOwnerFilter, sess.owner, func(ctx context.Context) error {
		return s.owners.Authenticate(ctx, sess.owner, pass)
	})
	if err != nil {
		code, msg := s.refused(w, err, LoginOwnerFilter, filterWrong)
		if code == http.StatusUnauthorized {
			code = http.StatusForbidden // signed in, but not this
		}
		s.showMeDraft(w, r, sess, code, msg, "", change.Script)
		return
	}
	if err := s.owners.SetFilter(r.Context(), sess.owner, pass, change); err != nil {
		code, msg := http.StatusInternalServerError, filterFailed
		switch errors.KindOf(err) {
		case errors.Permission:
			code, msg = http.StatusForbidden, filterWrong
		case errors.Invalid:
			// The compiler's message, line:column, for the owner.
			code, msg = http.StatusBadRequest, scriptInvalid+lastCause(err)
		case errors.TooLarge:
			code, msg = http.StatusRequestEntityTooLarge, scriptInvalid+lastCause(err)
		case errors.Unavailable:
			code = http.StatusServiceUnavailable
			fallthrough
		default:
			// The error, never the script or the password.
			s.log.Error("web filter", "kind", errors.KindOf(err).String(), "err", err)
		}
		s.showMeDraft(w, r, sess, code, msg, "", change.Script)
		return
	}
	s.showMe(w, r, sess, http.StatusOK, "", flash)
}
