package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/outbound"
	"github.com/sealpost/sealpost/smtpserver"
)

// Sessions says what a listener's sessions are, for sealpost_sessions_open.
type Sessions int

// The kinds of listener.
const (
	// NoSessions: not a mail protocol (the web app, metrics).
	NoSessions Sessions = iota
	// EveryConnection: each connection is a session (the MX).
	EveryConnection
	// Authenticated: a session is a connection that logged in (IMAP,
	// submission, ManageSieve).
	Authenticated
)

type namedListener struct {
	name     string
	l        *netlimit.Listener
	sessions Sessions
}

// Listener adds a bound listener's connections (and sessions) under the
// label listener=name, a name from the configuration's fixed set.
func (r *Registry) Listener(name string, l *netlimit.Listener, s Sessions) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, namedListener{name, l, s})
}

// listenerCollector reads each listener's counts at a scrape.
type listenerCollector struct {
	r                             *Registry
	open, total, refused, session *prometheus.Desc
}

func newListenerCollector(r *Registry) listenerCollector {
	return listenerCollector{r: r,
		open: prometheus.NewDesc(namespace+"_connections_open",
			"Connections a listener holds now.", []string{"listener"}, nil),
		total: prometheus.NewDesc(namespace+"_connections_total",
			"Connections a listener accepted (within its bounds).", []string{"listener"}, nil),
		refused: prometheus.NewDesc(namespace+"_connections_refused_total",
			"Connections a listener refused, by the bound that refused them (listener, source, preauth, server).",
			[]string{"listener", "reason"}, nil),
		session: prometheus.NewDesc(namespace+"_sessions_open",
			"Sessions open now: MX connections; IMAP, submission and ManageSieve connections that logged in.",
			[]string{"listener"}, nil),
	}
}

func (c listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.total
	ch <- c.refused
	ch <- c.session
}

func (c listenerCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	ls := c.r.listeners
	c.r.mu.Unlock()
	for _, nl := range ls {
		st := nl.l.Stats()
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.Open), nl.name)
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(st.Accepted), nl.name)
		for i, n := range st.Refused {
			ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), nl.name, netlimit.RefusedName(i))
		}
		switch nl.sessions {
		case EveryConnection:
			ch <- prometheus.MustNewConstMetric(c.session, prometheus.GaugeValue, float64(st.Open), nl.name)
		case Authenticated:
			ch <- prometheus.MustNewConstMetric(c.session, prometheus.GaugeValue, float64(st.Authed), nl.name)
		}
	}
}

type namedSMTP struct {
	name string
	st   *smtpserver.Stats
}

// SMTP adds an SMTP listener's results (MX or submission) under
// listener=name.
func (r *Registry) SMTP(name string, st *smtpserver.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.smtp = append(r.smtp, namedSMTP{name, st})
}

// smtpCollector reads each SMTP listener's results at a scrape.
type smtpCollector struct {
	r    *Registry
	desc *prometheus.Desc
}

func newSMTPCollector(r *Registry) smtpCollector {
	return smtpCollector{r, prometheus.NewDesc(namespace+"_smtp_results_total",
		"SMTP results given: per recipient at RCPT, per message at the end of DATA; accepted, refused (5xx) or tempfail (4xx), "+
			"refusals by their RFC 3463 class (address, mailbox, system, network, protocol, content, policy).",
		[]string{"listener", "stage", "result", "kind"}, nil)}
}

func (c smtpCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c smtpCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	ss := c.r.smtp
	c.r.mu.Unlock()
	for _, s := range ss {
		for stage := range smtpserver.NumStages {
			for res := range smtpserver.NumResults {
				for kind := range smtpserver.NumKinds {
					if res == smtpserver.Accepted && kind != 0 {
						continue // accepted has no kind (a refusal without an enhanced code has none either)
					}
					ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(s.st.Count(stage, res, kind)),
						s.name, smtpserver.StageName(stage), smtpserver.ResultName(res), smtpserver.KindName(kind))
				}
			}
		}
	}
}

// Outbound adds a region's delivery outcomes to other servers.
func (r *Registry) Outbound(region sealpost.RegionID, svc *outbound.Service) {
	help := "Outbound delivery outcomes, one per recipient per attempt: delivered, deferred (tried again) or bounced."
	for _, res := range []struct {
		name string
		get  func(outbound.Stats) uint64
	}{
		{"delivered", func(s outbound.Stats) uint64 { return s.Delivered }},
		{"deferred", func(s outbound.Stats) uint64 { return s.Deferred }},
		{"bounced", func(s outbound.Stats) uint64 { return s.Bounced }},
	} {
		r.counter("outbound_deliveries_total", help, prometheus.Labels{"region": string(region), "result": res.name},
			func() float64 { return float64(res.get(svc.Stats())) })
	}
}

// Logins adds the password checks' counts (the Guard) and the login
// queue's length; wire the queue's Waited to ArgonWaited for its wait.
func (r *Registry) Logins(g *authguard.Guard, q *authguard.Queue) {
	if g != nil {
		r.counter("login_failures_total", "Failed password checks (wrong password or unknown account), every service.", nil,
			func() float64 { return float64(g.Stats().Failures) })
		r.counter("login_throttled_total", "Password checks made to wait a penalty (action=delayed), and those refused after it (action=refused).",
			prometheus.Labels{"action": "delayed"}, func() float64 { return float64(g.Stats().Delayed) })
		r.counter("login_throttled_total", "Password checks made to wait a penalty (action=delayed), and those refused after it (action=refused).",
			prometheus.Labels{"action": "refused"}, func() float64 { return float64(g.Stats().Refused) })
	}
	if q != nil {
		r.gauge("argon2_queue_waiting", "Password derivations waiting for a place in the login queue.", nil,
			func() float64 { return float64(q.Waiting()) })
		r.gauge("argon2_queue_running", "Password derivations running now.", nil,
			func() float64 { return float64(q.Busy() - q.Waiting()) })
	}
}

// TreeSize adds the transparency log's size (entries), read from size.
func (r *Registry) TreeSize(size func() uint64) {
	r.gauge("tlog_tree_size", "Entries in the transparency log (its tree size).", nil,
		func() float64 { return float64(size()) })
}

type regionQueue struct {
	region sealpost.RegionID
	q      sealpost.QueueStore
}

// Queue adds a region's outbound queue: its size and the age of its
// oldest entry, read from the store at each scrape (one read of the
// queue's metadata, bounded by queueReadTime).
func (r *Registry) Queue(region sealpost.RegionID, q sealpost.QueueStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queues = append(r.queues, regionQueue{region, q})
}

// queueReadTime bounds a scrape's read of one region's queue.
const queueReadTime = 5 * time.Second

// queueCollector reads each region's queue at a scrape.
type queueCollector struct {
	r         *Registry
	size, age *prometheus.Desc
}

func newQueueCollector(r *Registry) queueCollector {
	return queueCollector{r: r,
		size: prometheus.NewDesc(namespace+"_queue_messages",
			"Messages in a region's outbound queue (held ones included).", []string{"region"}, nil),
		age: prometheus.NewDesc(namespace+"_queue_oldest_age_seconds",
			"Age of the oldest message in a region's outbound queue; 0 when empty.", []string{"region"}, nil),
	}
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.age
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	qs := c.r.queues
	c.r.mu.Unlock()
	for _, rq := range qs {
		ctx, cancel := context.WithTimeout(context.Background(), queueReadTime)
		msgs, err := rq.q.Queue(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.size, err)
			continue
		}
		var age float64
		now := time.Now()
		for _, m := range msgs {
			age = max(age, now.Sub(m.Queued).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(len(msgs)), string(rq.region))
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, string(rq.region))
	}
}
