package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// Record is everything stored about one demand.
type Record struct {
	Demand      legal.Demand // as filed, with its ID and documents
	State       legal.State  // the current state
	Decisions   []legal.Decision
	Transitions []legal.Transition // in order
	Approvals   []Approval         // by time
	Holds       []Hold             // placed for this demand, released ones included
	Notices     []Notice           // queued for this demand, sent or not
	Disclosures []Disclosure       // in order
	Filed       time.Time
	FiledBy     string
}

// Summary is one line of the list of demands.
type Summary struct {
	ID                 string
	Reference          string
	Authority          string
	Country            string
	Instrument         legal.Instrument
	State              legal.State
	Targets            int
	Received           legal.Date
	NondisclosureUntil *legal.Date
	Filed              time.Time
}

// Approval is a legal officer's approval of a demand's disclosure.
type Approval struct {
	Officer string
	At      time.Time
	Note    string
}

// Disclosure records a disclosure package handed over for a demand: the
// SHA-256 of its signed manifest and the officers who approved it.
type Disclosure struct {
	ID             int64
	ManifestSHA256 string // lower-case hex
	By             []string
	At             time.Time
}

// Duplicate is the cause of the Exist error File returns for a demand
// already filed with the same authority and reference. Find it with
// errors.As.
type Duplicate struct {
	ID string // the demand filed first
}

func (d *Duplicate) Error() string {
	return "a demand with this authority and reference is already filed as " + d.ID
}

// storedDemand is a demand as read inside a transaction.
type storedDemand struct {
	legal.Demand
	state legal.State
}

// dedupeKey is what makes two demands the same: the authority and its
// reference, case-folded with runs of white space collapsed to one space.
func dedupeKey(authority, reference string) string {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	return norm(authority) + "\x00" + norm(reference)
}

// File stores a new demand in one transaction and returns it with its ID.
//
// It assigns d.ID ("D-<year filed>-<number>", the number counting every
// demand ever filed; any ID the caller set is replaced), stores the demand
// in state received with its targets (normalized), its documents, the
// policy's decisions (one per target at most, each for a target of the
// demand), and the events demand.filed and one demand.decided per decision.
//
// docs holds the bytes of every document d.Documents lists, by name, and
// nothing else; each must match its listed SHA-256 (and size, if given;
// the stored size is the actual one), else Invalid. The bytes are written
// and fsynced under the documents folder before the transaction commits.
//
// A demand with the same authority and reference as one already filed
// (case and spacing ignored) is an Exist error whose cause is a *Duplicate
// naming it. On any error nothing is stored.
func (s *Store) File(ctx context.Context, d legal.Demand, docs map[string][]byte, decisions []legal.Decision, filedBy string, at time.Time) (legal.Demand, error) {
	const op = "store.File"
	d, decisions, err := checkFiling(d, docs, decisions, filedBy, at)
	if err != nil {
		return legal.Demand{}, errors.E(op, err)
	}
	for _, doc := range d.Documents {
		if err := s.putDocument(doc.SHA256, docs[doc.Name]); err != nil {
			return legal.Demand{}, errors.E(op, err)
		}
	}
	key := dedupeKey(d.Authority, d.Reference)
	err = s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var first string
		err := tx.QueryRowContext(ctx, `SELECT id FROM demands WHERE dedupe_key = ?`, key).Scan(&first)
		if err == nil {
			return errors.E(errors.Exist, &Duplicate{ID: first})
		}
		if err != sql.ErrNoRows {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM demands`).Scan(&seq); err != nil {
			return err
		}
		d.ID = fmt.Sprintf("D-%04d-%06d", at.UTC().Year(), seq)
		body, err := json.Marshal(d)
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO demands (seq, id, dedupe_key, state, demand, filed, filed_by)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, seq, d.ID, key, string(legal.Received), string(body), at.UnixNano(), filedBy); err != nil {
			return err
		}
		for _, t := range d.Targets {
			if _, err := tx.ExecContext(ctx, `INSERT INTO targets (demand, address) VALUES (?, ?)`, d.ID, t); err != nil {
				return err
			}
		}
		for _, doc := range d.Documents {
			if _, err := tx.ExecContext(ctx, `INSERT INTO documents (demand, name, sha256, size) VALUES (?, ?, ?, ?)`,
				d.ID, doc.Name, doc.SHA256, doc.Size); err != nil {
				return err
			}
		}
		detail := demandDetail(d)
		detail["state"] = string(legal.Received)
		detail["targets"] = strconv.Itoa(len(d.Targets))
		detail["documents"] = strconv.Itoa(len(d.Documents))
		if err := addEvent(ctx, tx, sealpost.EventDemandFiled, "", filedBy, at, detail); err != nil {
			return err
		}
		for _, dec := range decisions {
			b, err := json.Marshal(dec)
			if err != nil {
				return errors.E(errors.Internal, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (demand, target, decision, policy_version, body) VALUES (?, ?, ?, ?, ?)`,
				d.ID, dec.Target, string(dec.Decision), dec.PolicyVersion, string(b)); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, sealpost.EventDemandDecided, dec.Target, ActorPolicy, at, decisionDetail(d, dec)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return legal.Demand{}, err
	}
	return d, nil
}

// checkFiling checks a filing's integrity and returns the demand and
// decisions with addresses normalized and document sizes filled in.
func checkFiling(d legal.Demand, docs map[string][]byte, decisions []legal.Decision, filedBy string, at time.Time) (legal.Demand, []legal.Decision, error) {
	bad := func(format string, args ...any) (legal.Demand, []legal.Decision, error) {
		return legal.Demand{}, nil, errors.E(errors.Invalid, errors.Errorf(format, args...))
	}
	switch {
	case strings.TrimSpace(d.Reference) == "":
		return bad("no reference")
	case strings.TrimSpace(d.Authority) == "":
		return bad("no authority")
	case d.Country == "":
		return bad("no country")
	case d.Instrument == "":
		return bad("no instrument")
	case len(d.Targets) == 0:
		return bad("no targets")
	case at.IsZero():
		return bad("no filing time")
	}
	if err := checkText("filer", filedBy); err != nil {
		return legal.Demand{}, nil, err
	}
	d.ID = ""
	d.Targets = slices.Clone(d.Targets)
	for i, t := range d.Targets {
		t = normalizeAddress(t)
		if t == "" {
			return bad("empty target")
		}
		if slices.Contains(d.Targets[:i], t) {
			return bad("target %s named twice", t)
		}
		d.Targets[i] = t
	}
	d.Documents = slices.Clone(d.Documents)
	seen := make(map[string]bool)
	for i, doc := range d.Documents {
		if strings.TrimSpace(doc.Name) == "" {
			return bad("document without a name")
		}
		if seen[doc.Name] {
			return bad("document %q named twice", doc.Name)
		}
		seen[doc.Name] = true
		b, ok := docs[doc.Name]
		if !ok {
			return bad("document %q: no content", doc.Name)
		}
		if !isSHA256(doc.SHA256) {
			return bad("document %q: sha256 %q is not 64 lower-case hex digits", doc.Name, doc.SHA256)
		}
		if sum := sha256Hex(b); sum != doc.SHA256 {
			return bad("document %q: content has SHA-256 %s, not %s", doc.Name, sum, doc.SHA256)
		}
		if doc.Size != 0 && doc.Size != int64(len(b)) {
			return bad("document %q: content is %d bytes, not %d", doc.Name, len(b), doc.Size)
		}
		d.Documents[i].Size = int64(len(b))
	}
	for name := range docs {
		if !seen[name] {
			return bad("document %q is not listed in the demand", name)
		}
	}
	decisions = slices.Clone(decisions)
	decided := make(map[string]bool)
	for i := range decisions {
		t := normalizeAddress(decisions[i].Target)
		switch {
		case !slices.Contains(d.Targets, t):
			return bad("decision for %q, not a target of the demand", decisions[i].Target)
		case decided[t]:
			return bad("two decisions for %s", t)
		case decisions[i].Decision == "":
			return bad("decision for %s is empty", t)
		}
		decided[t] = true
		decisions[i].Target = t
	}
	return d, decisions, nil
}

// isSHA256 reports whether s is a SHA-256 in lower-case hex.
func isSHA256(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Demand returns everything stored about a demand. NotExist if there is no
// such demand.
func (s *Store) Demand(ctx context.Context, id string) (Record, error) {
	const op = "store.Demand"
	var rec Record
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		var body string
		var filed int64
		err := tx.QueryRowContext(ctx, `SELECT state, demand, filed, filed_by FROM demands WHERE id = ?`, id).
			Scan(&rec.State, &body, &filed, &rec.FiledBy)
		if err == sql.ErrNoRows {
			return errors.E(errors.NotExist, errors.Errorf("no demand %q", id))
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &rec.Demand); err != nil {
			return errors.E(errors.Internal, err)
		}
		rec.Filed = fromNanos(filed)
		if rec.Decisions, err = decisionsOf(ctx, tx, id, rec.Demand.Targets); err != nil {
			return err
		}
		if rec.Transitions, err = transitionsOf(ctx, tx, id); err != nil {
			return err
		}
		if rec.Approvals, err = approvalsOf(ctx, tx, id); err != nil {
			return err
		}
		if rec.Holds, err = queryHolds(ctx, tx, `WHERE demand = ? ORDER BY id`, id); err != nil {
			return err
		}
		if rec.Notices, err = queryNotices(ctx, tx, `WHERE demand = ? ORDER BY id`, id); err != nil {
			return err
		}
		rec.Disclosures, err = disclosuresOf(ctx, tx, id)
		return err
	})
	return rec, err
}

// decisionsOf returns a demand's decisions in the order of its targets.
func decisionsOf(ctx context.Context, tx *sql.Tx, id string, targets []string) ([]legal.Decision, error) {
	rows, err := tx.QueryContext(ctx, `SELECT body FROM decisions WHERE demand = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []legal.Decision
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var dec legal.Decision
		if err := json.Unmarshal([]byte(body), &dec); err != nil {
			return nil, errors.E(errors.Internal, err)
		}
		out = append(out, dec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b legal.Decision) int {
		return slices.Index(targets, a.Target) - slices.Index(targets, b.Target)
	})
	return out, nil
}

func transitionsOf(ctx context.Context, tx *sql.Tx, id string) ([]legal.Transition, error) {
	rows, err := tx.QueryContext(ctx, `SELECT from_state, to_state, actor, at, note FROM transitions WHERE demand = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []legal.Transition
	for rows.Next() {
		var t legal.Transition
		var at int64
		if err := rows.Scan(&t.From, &t.To, &t.Actor, &at, &t.Note); err != nil {
			return nil, err
		}
		t.At = fromNanos(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

func approvalsOf(ctx context.Context, tx *sql.Tx, id string) ([]Approval, error) {
	rows, err := tx.QueryContext(ctx, `SELECT officer, at, note FROM approvals WHERE demand = ? ORDER BY at, officer`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		var at int64
		if err := rows.Scan(&a.Officer, &at, &a.Note); err != nil {
			return nil, err
		}
		a.At = fromNanos(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

func disclosuresOf(ctx context.Context, tx *sql.Tx, id string) ([]Disclosure, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.manifest_sha256, d.at, o.officer
		FROM disclosures d JOIN disclosure_officers o ON o.disclosure = d.id
		WHERE d.demand = ? ORDER BY d.id, o.officer`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Disclosure
	for rows.Next() {
		var d Disclosure
		var at int64
		var officer string
		if err := rows.Scan(&d.ID, &d.ManifestSHA256, &at, &officer); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == d.ID {
			out[n-1].By = append(out[n-1].By, officer)
			continue
		}
		d.At = fromNanos(at)
		d.By = []string{officer}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Demands lists every demand in the order filed.
func (s *Store) Demands(ctx context.Context) ([]Summary, error) {
	const op = "store.Demands"
	var out []Summary
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT state, demand, filed FROM demands ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state legal.State
			var body string
			var filed int64
			if err := rows.Scan(&state, &body, &filed); err != nil {
				return err
			}
			var d legal.Demand
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				return errors.E(errors.Internal, err)
			}
			out = append(out, Summary{
				ID: d.ID, Reference: d.Reference, Authority: d.Authority, Country: d.Country,
				Instrument: d.Instrument, State: state, Targets: len(d.Targets), Received: d.Received,
				NondisclosureUntil: d.NondisclosureUntil, Filed: fromNanos(filed),
			})
		}
		return rows.Err()
	})
	return out, err
}

// Document returns a demand's document by name, after checking its bytes
// against the SHA-256 recorded when it was filed. NotExist if the demand
// has no such document; Internal if its file is missing or corrupted.
func (s *Store) Document(ctx context.Context, id, name string) ([]byte, error) {
	const op = "store.Document"
	var sum string
	var size int64
	err := s.db.R.QueryRowContext(ctx, `SELECT sha256, size FROM documents WHERE demand = ? AND name = ?`, id, name).Scan(&sum, &size)
	if err == sql.ErrNoRows {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("demand %q has no document %q", id, name))
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	b, err := s.readDocument(sum, size)
	if err != nil {
		return nil, errors.E(op, errors.Errorf("demand %s document %q: %w", id, name, err))
	}
	return b, nil
}

// demandDetail is the part of every demand event's detail that describes
// the demand: never its targets' data, never a secret.
func demandDetail(d legal.Demand) map[string]string {
	m := map[string]string{
		"demand":     d.ID,
		"authority":  d.Authority,
		"country":    d.Country,
		"instrument": string(d.Instrument),
		"received":   d.Received.String(),
	}
	if d.RequestingCountry != "" {
		m["requesting_country"] = d.RequestingCountry
	}
	if len(d.Categories) > 0 {
		cs := make([]string, len(d.Categories))
		for i, c := range d.Categories {
			cs[i] = string(c)
		}
		m["categories"] = strings.Join(cs, ",")
	}
	if d.NondisclosureUntil != nil {
		m["nondisclosure_until"] = d.NondisclosureUntil.String()
	}
	return m
}

// decisionDetail describes one target's decision.
func decisionDetail(d legal.Demand, dec legal.Decision) map[string]string {
	m := demandDetail(d)
	m["decision"] = string(dec.Decision)
	m["policy_version"] = dec.PolicyVersion
	if dec.Route != "" {
		m["route"] = dec.Route
	}
	if dec.Yields != "" {
		m["yields"] = dec.Yields
	}
	if dec.Preserve {
		m["preserve"] = "true"
	}
	if len(dec.Categories) > 0 {
		cs := make([]string, len(dec.Categories))
		for i, c := range dec.Categories {
			cs[i] = string(c.Category) + ":" + string(c.Decision)
		}
		m["category_decisions"] = strings.Join(cs, ",")
	}
	return m
}
