package transparency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"golang.org/x/mod/sumdb/note"
)

// The warrant canary is a signed statement, renewed on a schedule, that no
// request of the kinds the policy names (national-security requests, by
// default) has been received. It is never withdrawn: once such a request is
// received, the ledger stops renewing it, and the last statement expires on
// its own. Every statement issued is also an entry of the log
// (canary.signed, with its SHA-256 and expiry), so the operator cannot
// later pretend to have issued one it did not, nor hide a gap.

// CanaryOptions configure the warrant canary.
type CanaryOptions struct {
	// Signer signs statements (a note key of its own, not the log's).
	Signer note.Signer
	// Issuer names the deployment in the statement (its host name).
	Issuer string
	// Every is how long a statement is valid; it is renewed at half that
	// age. Zero means 24 hours.
	Every time.Duration
	// LapseOn lists the instruments whose receipt ends renewal.
	LapseOn []string
}

// SourceCanary is the Src of canary entries; their Seq is the statement's
// issue time in Unix seconds.
const SourceCanary = "canary"

func (o CanaryOptions) every() time.Duration {
	if o.Every <= 0 {
		return 24 * time.Hour
	}
	return o.Every
}

func (l *Ledger) canaryPath() string { return filepath.Join(l.dir, "canary.txt") }

// RefreshCanary issues a new statement if the current one is at least half
// its validity old and no request in LapseOn has been received. It reports
// whether it issued one.
func (l *Ledger) RefreshCanary(ctx context.Context) (bool, error) {
	const op = "transparency.RefreshCanary"
	if l.o.Canary.Signer == nil {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.catchUp(ctx); err != nil { // see Sync
		return false, errors.E(op, err)
	}
	lapse, err := l.meta(ctx, l.db.W, "canary_lapse")
	if err != nil {
		return false, errors.E(op, errors.Internal, err)
	}
	if lapse != "" {
		return false, nil
	}
	now := l.o.Now().UTC().Truncate(time.Second)
	if cur, _ := os.ReadFile(l.canaryPath()); cur != nil {
		if issued, _, err := canaryTimes(cur); err == nil && now.Sub(issued) < l.o.Canary.every()/2 {
			return false, nil
		}
	}
	expires := now.Add(l.o.Canary.every())
	text := CanaryText(l.o.Canary.Issuer, now, expires, l.o.Canary.LapseOn, l.o.Log.Origin(), l.o.Log.Size())
	signed, err := note.Sign(&note.Note{Text: text}, l.o.Canary.Signer)
	if err != nil {
		return false, errors.E(op, errors.Internal, err)
	}
	sum := sha256.Sum256(signed)
	ev := sealpost.SequencedEvent{Seq: now.Unix()}
	ev.Time, ev.Kind, ev.Actor = now, sealpost.EventCanarySigned, "system"
	ev.Detail = map[string]string{"statement_sha256": hex.EncodeToString(sum[:]), "expires": expires.Format(time.RFC3339)}
	pub, _ := l.o.Blinder.Build(SourceCanary, ev.Seq, ev.Event, Withholding{}, nil)
	i, err := l.o.Log.Append(ctx, pub.Marshal())
	if err != nil {
		return false, errors.E(op, err)
	}
	if err := l.index(ctx, i, SourceCanary, ev, nil); err != nil {
		return false, errors.E(op, err)
	}
	if err := durable.WriteFile(l.canaryPath(), signed, 0o644); err != nil {
		return false, errors.E(op, err)
	}
	return true, nil
}

// Canary returns the latest statement and whether it has lapsed (expired,
// or never issued).
func (l *Ledger) Canary() ([]byte, bool) {
	cur, err := os.ReadFile(l.canaryPath())
	if err != nil {
		return nil, true
	}
	_, expires, err := canaryTimes(cur)
	return cur, err != nil || !l.o.Now().Before(expires)
}

// CanaryText is the text of a statement.
func CanaryText(issuer string, issued, expires time.Time, lapseOn []string, origin string, size uint64) string {
	kinds := "national-security request"
	if len(lapseOn) > 0 {
		ws := make([]string, len(lapseOn))
		for i, k := range lapseOn {
			ws[i] = strings.ReplaceAll(k, "_", " ")
		}
		kinds = strings.Join(ws, ", ")
	}
	return fmt.Sprintf(`Sealpost warrant canary
issuer: %s
issued: %s
expires: %s
log: %s %d

As of the time above, %s has received no %s for any user's data,
and no order to keep such a request secret. This statement is renewed
every %s. If it has expired and not been renewed, assume that it can
no longer be made.
`, issuer, issued.UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339), origin, size, issuer, kinds, durationWords(expires.Sub(issued)/2))
}

func durationWords(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// canaryTimes reads the issued and expires lines of a statement.
func canaryTimes(signed []byte) (issued, expires time.Time, err error) {
	for _, line := range bytes.Split(signed, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), ": ")
		if !ok {
			continue
		}
		switch k {
		case "issued":
			issued, err = time.Parse(time.RFC3339, v)
		case "expires":
			expires, err = time.Parse(time.RFC3339, v)
		}
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if issued.IsZero() || expires.IsZero() {
		return time.Time{}, time.Time{}, errors.Str("not a canary statement")
	}
	return issued, expires, nil
}
