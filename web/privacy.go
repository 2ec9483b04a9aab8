package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/transparency"
)

// This file is the owner's privacy page, /me: where their mail lives,
// their keys, every entry of the transparency log about them (with the data
// /static/verify.js needs to check each one against the latest signed
// checkpoint in the owner's browser), a download of each entry's proof, the
// mailbox move, and the mail filter (filter.go).

// ownerTTL bounds an owner's session on the privacy page.
const ownerTTL = 2 * time.Hour

// newOwnerDoor is the privacy page's sign-in, its sessions on the clock
// now.
func newOwnerDoor(now func() time.Time) *door {
	return &door{ss: newSessions(ownerTTL, now), cookie: "sealpost_owner", loginCookie: "sealpost_owner_login",
		path: "/me", login: "/me/login"}
}

// ownerCSP is the Content-Security-Policy of the owner's and the public
// pages: nothing but this origin's own script, style and images, and no
// framing.
const ownerCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"

// mePage is what the owner's templates show.
type mePage struct {
	Title string
	Owner string // the signed-in address, "" on the sign-in page
	CSRF  string
	Error string
	Flash string
	Addr  string // the address typed on the sign-in page

	Res       *Residence
	Key       *KeyStatus
	Rows      []entryRow
	Secret    string // hex account secret
	Filter    *filterPart
	Size      uint64 // of the checkpoint the proofs are against
	ProofData *proofData
}

// Area puts a privacy page in the owner's part of the app.
func (d mePage) Area() area {
	return area{Name: "your privacy", Home: "/me", Logout: "/me/logout", User: d.Owner,
		Footer: `Every access to a mailbox by anyone but its owner, and every step of every government demand, is recorded in a <a href="/transparency">public, append-only log</a> that no one, the operator included, can rewrite without being caught.`}
}

// FieldErrors: the privacy pages have none.
func (d mePage) FieldErrors() any { return nil }

// entryRow is one log entry about the owner, in words.
type entryRow struct {
	Index      uint64
	Time       string             // as logged
	When       string             // for people
	Kind       sealpost.EventKind // as logged
	What       string             // the kind in words
	Demand     string
	Country    string
	Instrument string
	Outcome    string
}

// proofData is what verify.js checks, embedded in the page as JSON.
type proofData struct {
	Checkpoint  string       `json:"checkpoint"`  // the signed note, text
	VerifierKey string       `json:"verifierKey"` // note verifier key, text
	Secret      string       `json:"secret"`      // hex account secret
	Entries     []proofEntry `json:"entries"`
}

type proofEntry struct {
	Index string   `json:"index"` // decimal (a uint64 may not fit a JS number)
	Entry string   `json:"entry"` // base64 of the entry as logged
	Salt  string   `json:"salt"`  // hex
	Proof []string `json:"proof"` // base64 hashes, leaf first
}

func (s *Server) renderOwner(w http.ResponseWriter, name string, code int, d mePage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ownerCSP)
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error("web render", "page", name, "err", err)
	}
}

// ownerPage wraps a handler that needs a signed-in owner (see
// door.signedIn); a POST's form may be at most maxForm bytes.
func (s *Server) ownerPage(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return s.me.signedIn(maxForm, fn)
}

func (s *Server) routesPrivacy() {
	s.mux.HandleFunc("GET /me/login", func(w http.ResponseWriter, r *http.Request) {
		if _, sess := s.me.session(r); sess != nil {
			http.Redirect(w, r, "/me", http.StatusSeeOther)
			return
		}
		s.showLogin(w, http.StatusOK, s.me.newLoginToken(w, r), "", "")
	})
	s.mux.HandleFunc("POST /me/login", func(w http.ResponseWriter, r *http.Request) {
		if !readForm(w, r, maxForm) {
			return
		}
		// The sign-in form carries a token matching a cookie set with it
		// (double submit), so no other site can sign a visitor in to an
		// account of its choosing.
		tok := s.me.loginToken(r)
		if tok == "" {
			s.showLogin(w, http.StatusForbidden, s.me.newLoginToken(w, r), "", "The form had expired. Please sign in again.")
			return
		}
		addr := sealpost.NormalizeAddress(r.PostForm.Get("address"))
		err := s.checkPassword(r, LoginOwner, addr, func(ctx context.Context) error {
			return s.owners.Authenticate(ctx, addr, r.PostForm.Get("password"))
		})
		if err != nil {
			// The same page, token included, for a wrong password and
			// an unknown address (which it shows as typed).
			code, msg := s.refused(w, err, LoginOwner, "Wrong address or password.")
			s.showLogin(w, code, tok, addr, msg)
			return
		}
		s.me.signIn(w, r, session{owner: addr})
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /me/logout", s.me.signOutHandler())
	s.mux.HandleFunc("GET /me", s.ownerPage(func(w http.ResponseWriter, r *http.Request, sess *session) {
		s.showMe(w, r, sess, http.StatusOK, "", "")
	}))
	s.mux.HandleFunc("GET /me/proof/{index}", s.ownerPage(s.proof))
	s.mux.HandleFunc("POST /me/move", s.ownerPage(s.move))
	s.mux.HandleFunc("POST /me/filter/script", s.me.signedIn(maxScriptForm, s.saveScript))
	s.mux.HandleFunc("POST /me/filter/mode", s.ownerPage(s.setServerFilter))
}

// showLogin renders the sign-in form with its CSRF token tok.
func (s *Server) showLogin(w http.ResponseWriter, code int, tok, addr, msg string) {
	s.renderOwner(w, "me_login.html", code, mePage{Title: "Your privacy: sign in", CSRF: tok, Addr: addr, Error: msg})
}

// showMe renders the privacy page.
func (s *Server) showMe(w http.ResponseWriter, r *http.Request, sess *session, code int, errMsg, flash string) {
	s.showMeDraft(w, r, sess, code, errMsg, flash, nil)
}

// showMeDraft renders the privacy page, its Filters section showing draft,
// if not nil, instead of the saved script.
func (s *Server) showMeDraft(w http.ResponseWriter, r *http.Request, sess *session, code int, errMsg, flash string, draft []byte) {
	ctx := r.Context()
	addr := sess.owner
	d := mePage{Title: "Your privacy", Owner: addr, CSRF: sess.csrf, Error: errMsg, Flash: flash}
	var problems []string
	if res, err := s.owners.Residence(ctx, addr); err == nil {
		d.Res = &res
	} else {
		s.log.Error("web privacy page", "part", "residence", "err", err)
		problems = append(problems, "where your mail lives")
	}
	if ks, err := s.owners.KeyStatus(ctx, addr); err == nil {
		d.Key = &ks
	} else {
		s.log.Error("web privacy page", "part", "keys", "err", err)
		problems = append(problems, "your key status")
	}
	if fp, err := s.filterPart(ctx, addr, draft); err == nil {
		d.Filter = fp
	} else {
		s.log.Error("web privacy page", "part", "filter", "err", err)
		problems = append(problems, "your mail filter")
	}
	secret := s.tl.AccountSecret(addr)
	d.Secret = hex.EncodeToString(secret)
	checked, err := s.tl.Owned(ctx, addr, s.now())
	if err != nil {
		s.log.Error("web privacy page", "part", "log", "err", err)
		problems = append(problems, "the log entries about you")
	} else {
		d.Rows, d.ProofData = rowsOf(checked, d.Secret)
		d.Size = checkpointSize(checked.Checkpoint)
	}
	if len(problems) > 0 && d.Error == "" {
		d.Error = "This page could not show " + strings.Join(problems, ", ") + " just now. Please try again later."
	}
	s.renderOwner(w, "me.html", code, d)
}

// rowsOf describes the owner's entries and gathers what verify.js checks.
func rowsOf(c transparency.Checked, secret string) ([]entryRow, *proofData) {
	pd := &proofData{Checkpoint: string(c.Checkpoint), VerifierKey: c.VerifierKey, Secret: secret, Entries: []proofEntry{}}
	var rows []entryRow
	for _, o := range c.Entries {
		e := o.Entry
		when := e.Time
		if t, err := e.When(); err == nil && len(e.Time) > len(time.DateOnly) {
			when = t.Format("2006-01-02 15:04")
		}
		rows = append(rows, entryRow{Index: o.Index, Time: e.Time, When: when, Kind: e.Kind, What: kindInWords(e.Kind),
			Demand: e.Detail["demand"], Country: e.Detail["country"], Instrument: words(e.Detail["instrument"]),
			Outcome: outcome(e)})
		pe := proofEntry{Index: strconv.FormatUint(o.Index, 10), Entry: base64.StdEncoding.EncodeToString(o.Data),
			Salt: o.Salt, Proof: make([]string, len(o.Proof))}
		for i, h := range o.Proof {
			pe.Proof[i] = base64.StdEncoding.EncodeToString(h[:])
		}
		pd.Entries = append(pd.Entries, pe)
	}
	return rows, pd
}

// checkpointSize reads the tree size of a checkpoint (C2SP tlog-checkpoint:
// origin line, then size), for display only: verify.js checks it.
func checkpointSize(cp []byte) uint64 {
	lines := strings.SplitN(string(cp), "\n", 3)
	if len(lines) < 3 {
		return 0
	}
	n, _ := strconv.ParseUint(lines[1], 10, 64)
	return n
}

// kinds says in words what each kind of event was, as its owner reads it.
// Every kind whose events name an account (transparency.Treatment.Account)
// has its words here (TestEveryAccountKindInWords); any other kind is shown
// as its name in words.
var kinds = map[sealpost.EventKind]string{
	sealpost.EventDemandFiled:          "A demand was filed",
	sealpost.EventDemandDecided:        "The policy decided on a demand naming you",
	sealpost.EventDemandTransition:     "A demand naming you moved to a new step",
	sealpost.EventDemandApproval:       "A disclosure was approved",
	sealpost.EventDemandDisclosure:     "Data was handed over",
	sealpost.EventHoldPlaced:           "A legal hold was placed on your mailbox",
	sealpost.EventHoldReleased:         "The legal hold on your mailbox was released",
	sealpost.EventNoticeQueued:         "A notice to you was prepared",
	sealpost.EventNoticeSent:           "You were notified",
	sealpost.EventMailboxMoveRequested: "A move of your mailbox was requested",
	sealpost.EventMailboxMoveCompleted: "Your mailbox moved",
	sealpost.EventAccountReset:         "Your key was reset by an administrator",
	sealpost.EventAccountDeleted:       "Your account was deleted",
	transparency.KindWithheld:          "A withheld event",
}

func kindInWords(kind sealpost.EventKind) string {
	if w, ok := kinds[kind]; ok {
		return w
	}
	return words(string(kind))
}

// words turns an identifier (reject_out_of_jurisdiction, support.access)
// into words.
func words(s string) string {
	return strings.NewReplacer("_", " ", ".", " ").Replace(s)
}

// outcome is the decision, route or step an entry records, in words.
func outcome(e transparency.Entry) string {
	d := e.Detail
	var parts []string
	switch {
	case d["decision"] != "":
		parts = append(parts, words(d["decision"]))
		if d["route"] != "" {
			parts = append(parts, "route: "+d["route"])
		}
		if d["yields"] != "" {
			parts = append(parts, "yields: "+words(d["yields"]))
		}
	case d["to"] != "" && d["from"] != "":
		parts = append(parts, words(d["from"])+" → "+words(d["to"]))
	case d["to_region"] != "":
		parts = append(parts, "to region "+d["to_region"])
		if d["phase"] != "" {
			parts = append(parts, words(d["phase"]))
		}
	case d["state"] != "":
		parts = append(parts, words(d["state"]))
	}
	if d["nondisclosure_until"] != "" {
		parts = append(parts, "nondisclosure order until "+d["nondisclosure_until"])
	}
	return strings.Join(parts, "; ")
}

// proof serves the C2SP tlog-proof of one of the owner's own entries.
func (s *Server) proof(w http.ResponseWriter, r *http.Request, sess *session) {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	checked, err := s.tl.Owned(r.Context(), sess.owner, s.now())
	if err != nil {
		s.log.Error("web proof", "err", err)
		http.Error(w, "The log is not available just now.", http.StatusServiceUnavailable)
		return
	}
	if !slices.ContainsFunc(checked.Entries, func(o transparency.Owned) bool { return o.Index == idx }) {
		http.NotFound(w, r) // not theirs, or not yet theirs to see
		return
	}
	b, err := s.tl.ProofBundle(r.Context(), idx)
	if err != nil {
		s.log.Error("web proof", "index", idx, "err", err)
		http.Error(w, "The proof is not available just now.", http.StatusServiceUnavailable)
		return
	}
	attachment(w, "application/octet-stream", "sealpost-log-entry-"+strconv.FormatUint(idx, 10)+".proof")
	w.Write(b)
}

// move asks Owners to move the mailbox, the password checked again.
func (s *Server) move(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	to := r.PostForm.Get("region")
	res, err := s.owners.Residence(ctx, sess.owner)
	if err != nil {
		s.log.Error("web move", "err", err)
		s.showMe(w, r, sess, http.StatusServiceUnavailable, "Your mailbox could not be moved just now. Please try again later.", "")
		return
	}
	i := slices.IndexFunc(res.Elsewhere, func(c RegionChoice) bool { return c.ID == to })
	if i < 0 {
		s.showMe(w, r, sess, http.StatusBadRequest, "Choose one of the regions listed.", "")
		return
	}
	// The password, asked again, is checked through the throttle as at
	// sign-in (a stolen session must not become a way to guess it), and
	// only then is the move, which may take long, made (Move checks it
	// once more itself).
	const wrong = "Your mailbox could not be moved. Check your password and try again."
	pass := r.PostForm.Get("password")
	err = s.checkPassword(r, LoginOwnerMove, sess.owner, func(ctx context.Context) error {
		return s.owners.Authenticate(ctx, sess.owner, pass)
	})
	if err != nil {
		code, msg := s.refused(w, err, LoginOwnerMove, wrong)
		if code == http.StatusUnauthorized {
			code = http.StatusForbidden // signed in, but not this
		}
		s.showMe(w, r, sess, code, msg, "")
		return
	}
	if err := s.owners.Move(ctx, sess.owner, pass, to); err != nil {
		code, msg := http.StatusInternalServerError, wrong
		switch errors.KindOf(err) {
		case errors.Permission:
			code = http.StatusForbidden
		case errors.Unavailable:
			code, msg = http.StatusServiceUnavailable, lastCause(err)
		case errors.Invalid:
			code, msg = http.StatusBadRequest, lastCause(err)
		default:
			s.log.Error("web move", "to", to, "err", err)
		}
		s.showMe(w, r, sess, code, msg, "")
		return
	}
	s.showMe(w, r, sess, http.StatusOK, "", "Your mailbox is moving to "+res.Elsewhere[i].Name+". The move is recorded in the log.")
}
