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
// ranges. The answer is every UID below UIDNEXT that is not in the
// mailbox, which RFC 7162 3.2.5.2 allows a server that cannot tell when a
// message went (a client ignores UIDs it never knew); its size is bounded
// by the mailbox's and within's, whatever the UIDs.
func (m *Mailbox) Vanished(ctx context.Context, modSeq uint64, within []UIDRange) ([]UIDRange, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	gaps := make([]UIDRange, 0, 8)
	next := sealpost.UID(1)
	for _, msg := range m.msgs {
		if msg.UID > next {
			gaps = append(gaps, UIDRange{next, msg.UID - 1})
		}
		next = msg.UID + 1
	}
	if m.info.UIDNext > next {
		gaps = append(gaps, UIDRange{next, m.info.UIDNext - 1})
	}
	return intersect(gaps, within), nil
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
