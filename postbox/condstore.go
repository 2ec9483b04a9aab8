package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// UIDRange is an inclusive range of UIDs.
type UIDRange struct{ Start, Stop sealpost.UID }

// ChangedSince returns the messages whose MODSEQ is above modSeq, by UID
// (RFC 7162 3.1.4.1 CHANGEDSINCE, 3.2.5 QRESYNC): the live state is the
// mailbox's, so no store read is needed.
func (m *Mailbox) ChangedSince(modSeq uint64) []sealpost.Message {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []sealpost.Message
	for _, msg := range m.msgs {
		if msg.ModSeq > modSeq {
			out = append(out, msg)
		}
	}
	return out
}

// Vanished returns the UIDs within the given ranges (ascending, not
// overlapping) that are no longer in the mailbox and were expunged after
// modSeq (RFC 7162 3.2.5 and 3.2.6: VANISHED (EARLIER)), as ascending
// ranges. The store's tombstones answer exactly (sealpost.MessageStore.
// Vanished); when they do not reach back to modSeq, the answer is every
// UID below UIDNEXT that is not in the mailbox, which RFC 7162 3.2.5.2
// allows a server that cannot tell when a message went (a client ignores
// UIDs it never knew). Either way its size is bounded by the mailbox's,
// the tombstones' and within's, whatever the UIDs.
func (m *Mailbox) Vanished(ctx context.Context, modSeq uint64, within []UIDRange) ([]UIDRange, error) {
	// Under the read lock no expunge of this mailbox can commit (they
	// take the lock), so the tombstones and msgs agree.
	m.mu.RLock()
	defer m.mu.RUnlock()
	uids, complete, err := m.svc.store.Vanished(ctx, m.info.ID, modSeq)
	if err != nil {
		return nil, errors.E("postbox.Vanished", err)
	}
	var gone []UIDRange
	if complete {
		gone = make([]UIDRange, 0, len(uids))
		for _, u := range uids {
			if n := len(gone); n > 0 && gone[n-1].Stop+1 == u {
				gone[n-1].Stop = u
			} else {
				gone = append(gone, UIDRange{u, u})
			}
		}
	} else {
		next := sealpost.UID(1)
		for _, msg := range m.msgs {
			if msg.UID > next {
				gone = append(gone, UIDRange{next, msg.UID - 1})
			}
			next = msg.UID + 1
		}
		if m.info.UIDNext > next {
			gone = append(gone, UIDRange{next, m.info.UIDNext - 1})
		}
	}
	return intersect(gone, within), nil
}

// intersect returns the UIDs in both a and b, each ascending and not
// overlapping, as ranges.
func intersect(a, b []UIDRange) []UIDRange {
	var out []UIDRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Start, b[j].Start), min(a[i].Stop, b[j].Stop)
		if lo <= hi {
			out = append(out, UIDRange{lo, hi})
		}
		if a[i].Stop < b[j].Stop {
			i++
		} else {
			j++
		}
	}
	return out
}

// SetFlagsUnchangedSince is SetFlags with STORE's UNCHANGEDSINCE (RFC 7162
// 3.1.3): a message whose MODSEQ is above unchangedSince is left as it is
// and returned in modified. The test and the change happen under the
// mailbox's lock, which every change to the mailbox takes, so a change made
// by another session cannot come between them.
func (m *Mailbox) SetFlagsUnchangedSince(ctx context.Context, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag, unchangedSince uint64, by *Watch) (updated []sealpost.Message, modified []sealpost.UID, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pass := make([]sealpost.UID, 0, len(uids))
	for _, uid := range uids {
		i := m.index(uid)
		switch {
		case i < 0: // expunged meanwhile: neither changed nor modified
		case m.msgs[i].ModSeq > unchangedSince:
			modified = append(modified, uid)
		default:
			pass = append(pass, uid)
		}
	}
	if len(pass) == 0 {
		return nil, modified, nil
	}
	updated, err = m.setFlagsLocked(ctx, pass, op, flags, by)
	if err != nil {
		return nil, nil, errors.E("postbox.SetFlagsUnchangedSince", err)
	}
	return updated, modified, nil
}
