package config

import "time"

// Limits bounds what clients may send and hold.
type Limits struct {
	// MaxMessageSize in bytes (SMTP SIZE, IMAP APPENDLIMIT). Default 64 MiB.
	MaxMessageSize int64 `toml:"max_message_size"`
	// MaxRecipients per SMTP transaction. Default 100.
	MaxRecipients int `toml:"max_recipients"`

	// Connections bounds the connections held at once on all listeners
	// together; 0 (the default) takes the descriptor limit, which the
	// server raises to its hard limit at start, less an eighth.
	Connections int `toml:"connections"`
	// ListenerShare is the most, in percent of Connections, that one
	// listener may hold, so that a flood on one port leaves room on the
	// others. Default 60.
	ListenerShare int `toml:"listener_share"`
	// PerSource bounds each listener's connections from one source (an
	// IPv4 address, an IPv6 /64).
	PerSource PerSource `toml:"per_source"`
	// PreAuthPerSource bounds, on submission and IMAP, a source's
	// connections that have not authenticated yet; PreAuthTime is how
	// long one may stay so. Defaults 20 and 2 min.
	PreAuthPerSource int      `toml:"preauth_per_source"`
	PreAuthTime      Duration `toml:"preauth_time"`
	// HandshakeTime bounds a new connection's first exchange: the TLS
	// handshake on the implicit-TLS ports. Default 10 s.
	HandshakeTime Duration `toml:"handshake_time"`
	// WebReadTime bounds reading a whole web request, body included (a
	// client sending a byte every few seconds), and WebIdleTime a
	// keep-alive connection's wait for its next request. Defaults 1 min.
	WebReadTime Duration `toml:"web_read_time"`
	WebIdleTime Duration `toml:"web_idle_time"`

	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (runtime/debug.SetMemoryLimit): as the process's Go memory (heap,
	// goroutine stacks, the runtime's own) nears it, the garbage collector
	// runs sooner and freed memory goes back to the system at once, where
	// by default the heap may grow to twice what is live before a
	// collection. Set it to what the machine can give the server, with
	// room for what the runtime does not count (the binary, about 30 MB).
	// It is a soft limit: the server does not fail at it, it collects
	// more often (at most half the CPU goes to collection when live
	// memory alone exceeds it). 0 (the default): none, or the GOMEMLIMIT
	// environment variable's.
	MemoryLimit int64 `toml:"memory_limit"`
}

// minMemoryLimit is the smallest memory_limit accepted: below it the
// collector would run without pause on an ordinary load.
const minMemoryLimit = 64 << 20

// PerSource is a per-source connection bound for each kind of listener.
// Defaults: MX 50 (Postfix's smtpd_client_connection_count_limit),
// submission 50, IMAP 100 (a few users behind one address, each client
// holding several connections), web 50.
type PerSource struct {
	MX         int `toml:"mx"`
	Submission int `toml:"submission"`
	IMAP       int `toml:"imap"`
	Web        int `toml:"web"`
}

// DefaultLimits are the limits without configuration.
var DefaultLimits = Limits{
	MaxMessageSize:   64 << 20,
	MaxRecipients:    100,
	ListenerShare:    60,
	PerSource:        PerSource{MX: 50, Submission: 50, IMAP: 100, Web: 50},
	PreAuthPerSource: 20,
	PreAuthTime:      Duration(2 * time.Minute),
	HandshakeTime:    Duration(10 * time.Second),
	WebReadTime:      Duration(time.Minute),
	WebIdleTime:      Duration(time.Minute),
}

func (l *Limits) validate(bad func(string, ...any)) {
	if l.MaxMessageSize < 1024 || l.MaxMessageSize > 1<<30 {
		bad("limits.max_message_size: %d is outside 1 KiB to 1 GiB", l.MaxMessageSize)
	}
	if l.MaxRecipients < 1 || l.MaxRecipients > 10000 {
		bad("limits.max_recipients: %d is outside 1 to 10000", l.MaxRecipients)
	}
	if l.Connections < 0 {
		bad("limits.connections: %d is negative", l.Connections)
	}
	if l.ListenerShare < 1 || l.ListenerShare > 100 {
		bad("limits.listener_share: %d is outside 1 to 100 (percent)", l.ListenerShare)
	}
	for name, n := range map[string]int{"per_source.mx": l.PerSource.MX, "per_source.submission": l.PerSource.Submission,
		"per_source.imap": l.PerSource.IMAP, "per_source.web": l.PerSource.Web, "preauth_per_source": l.PreAuthPerSource} {
		if n < 1 {
			bad("limits.%s: %d is below 1", name, n)
		}
	}
	if d := l.PreAuthTime.D(); d < 5*time.Second || d > time.Hour {
		bad("limits.preauth_time: %v is outside 5s to 1h", d)
	}
	if d := l.HandshakeTime.D(); d < time.Second || d > 5*time.Minute {
		bad("limits.handshake_time: %v is outside 1s to 5m", d)
	}
	if l.MemoryLimit != 0 && l.MemoryLimit < minMemoryLimit {
		bad("limits.memory_limit: %d is below 64 MiB (0: none)", l.MemoryLimit)
	}
	for name, d := range map[string]time.Duration{"web_read_time": l.WebReadTime.D(), "web_idle_time": l.WebIdleTime.D()} {
		if d < time.Second || d > time.Hour {
			bad("limits.%s: %v is outside 1s to 1h", name, d)
		}
	}
}
