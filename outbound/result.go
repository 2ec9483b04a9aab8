package outbound

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// recordTimeout bounds the recording of an outcome, which goes on after
// the service is told to stop: an outcome known is an outcome kept.
const recordTimeout = 30 * time.Second

// finish records an entry's outcome. Delivered and bounced recipients
// leave the entry; the others are tried again after a backoff, until the
// queue lifetime ends and they bounce too. The sender's notice (a bounce,
// or once a delay warning) is filed before the queue is changed, so that a
// crash in between can repeat it but never lose it. msg is the message as
// sent, if it was opened (a bounce carries its header).
func (s *Service) finish(ctx context.Context, m sealpost.QueuedMessage, outs []outcome, msg []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := s.o.Now()
	var failed, temp []outcome
	sent := 0
	for _, o := range outs {
		switch o.kind {
		case delivered:
			sent++
		case permanent:
			failed = append(failed, o)
		default:
			temp = append(temp, o)
		}
	}
	if len(temp) > 0 && !now.Before(m.Queued.Add(s.o.Lifetime)) {
		// RFC 5321 4.5.4.1: give up after the lifetime, and say why.
		for _, o := range temp {
			o.kind = permanent
			o.status = [3]int{4, 4, 7}
			o.text = "Delivery time expired; the last attempt said: " + o.text
			failed = append(failed, o)
		}
		temp = nil
	}
	if len(failed) > 0 && m.From != "" {
		if err := s.notify(ctx, m, msg, failed, dsnFailed, now); err != nil {
			// The sender could not be told: keep every recipient queued
			// and try again, rather than drop the news.
			s.log.Error("bounce not filed", "id", m.ID, "err", err)
			temp = append(temp, failed...)
			failed = nil
		}
	}
	if len(temp) > 0 && s.o.DelayWarning > 0 && !m.Warned && m.From != "" && !now.Before(m.Queued.Add(s.o.DelayWarning)) {
		if err := s.notify(ctx, m, msg, temp, dsnDelayed, now); err != nil {
			s.log.Warn("delay notice not filed", "id", m.ID, "err", err)
		} else {
			m.Warned = true
		}
	}
	s.stats.delivered.Add(uint64(sent))
	s.stats.bounced.Add(uint64(len(failed)))
	s.stats.deferred.Add(uint64(len(temp)))
	s.log.Info("delivery attempt", "id", m.ID, "delivered", sent, "bounced", len(failed), "deferred", len(temp),
		"remote", remoteOf(outs), "status", statusOf(outs))
	if len(temp) == 0 {
		blobs, err := s.o.Queue.Dequeue(ctx, m.ID)
		if err != nil && !errors.Is(errors.NotExist, err) {
			s.log.Error("dequeue", "id", m.ID, "err", err)
		}
		for _, b := range blobs {
			if err := s.o.Blobs.Delete(ctx, b); err != nil {
				s.log.Warn("delete queued blob", "id", m.ID, "err", err)
			}
		}
		return
	}
	m.Recipients = m.Recipients[:0:0]
	for _, o := range temp {
		m.Recipients = append(m.Recipients, o.rcpt)
	}
	m.Attempts++
	m.LastError = temp[0].text
	m.NextTry = now.Add(s.backoff(m.Attempts))
	if err := s.o.Queue.UpdateQueued(ctx, m); err != nil && !errors.Is(errors.NotExist, err) {
		s.log.Error("reschedule", "id", m.ID, "err", err)
	}
}

// Stats counts a service's delivery outcomes, one per recipient per
// attempt, since it was made.
type Stats struct {
	Delivered uint64 // accepted by the receiving server
	Deferred  uint64 // to be tried again
	Bounced   uint64 // refused for good, or out of time: the sender told
}

type stats struct{ delivered, deferred, bounced atomic.Uint64 }

// Stats returns the service's counts.
func (s *Service) Stats() Stats {
	return Stats{Delivered: s.stats.delivered.Load(), Deferred: s.stats.deferred.Load(), Bounced: s.stats.bounced.Load()}
}

// notify files a delivery status notification for outs in the sender's
// INBOX.
func (s *Service) notify(ctx context.Context, m sealpost.QueuedMessage, msg []byte, outs []outcome, kind dsnKind, now time.Time) error {
	if msg == nil {
		// The header section only; a blob that cannot be read leaves the
		// notice without it.
		msg, _ = s.open(ctx, m)
	}
	dsn := buildDSN(dsnInput{
		kind: kind, hostname: s.o.Hostname, sender: m.From, queued: m.Queued, now: now,
		retryUntil: m.Queued.Add(s.o.Lifetime), outs: outs, original: msg,
	})
	if err := s.o.Notify(ctx, m.From, dsn); err != nil {
		return errors.E("outbound.notify", err)
	}
	return nil
}

// remoteOf and statusOf summarize outcomes for the log (no addresses).
func remoteOf(outs []outcome) string {
	for _, o := range outs {
		if o.remote != "" {
			return o.remote
		}
	}
	return ""
}

func statusOf(outs []outcome) string {
	for _, o := range outs {
		if o.kind != delivered {
			return statusCode(o)
		}
	}
	if len(outs) > 0 {
		return "2.0.0"
	}
	return ""
}

// statusCode is an outcome's RFC 3463 status: the one the reply gave, or
// the class of its reply code (or of its kind) with subject and detail 0.
func statusCode(o outcome) string {
	if o.status[0] != 0 {
		return fmt.Sprintf("%d.%d.%d", o.status[0], o.status[1], o.status[2])
	}
	switch {
	case o.kind == delivered:
		return "2.0.0"
	case o.code >= 500 || o.kind == permanent && o.code == 0:
		return "5.0.0"
	}
	return "4.0.0"
}
