// Package autoconfig builds the documents mail clients configure
// themselves from, for one hosted domain's services: Thunderbird's
// autoconfig file (clientConfig 1.1), Microsoft's autodiscover (POX, the
// Outlook schema) and an Apple configuration profile (.mobileconfig). It
// is pure: the caller says what is served (Services) and for whom; it
// reads only an autodiscover request, bounded (ParseRequest). Every
// service takes the full address as its login name, so the documents say
// so: Thunderbird's %EMAILADDRESS%, the address itself elsewhere.
package autoconfig

import (
	"net"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// Security is how a client secures a connection to a server.
type Security int

const (
	// TLS is implicit TLS from the first byte (RFC 8314 3: ports 993,
	// 465), the preferred form.
	TLS Security = iota + 1
	// STARTTLS upgrades a plain connection before authenticating (RFC
	// 3207, RFC 9051 6.2.1: ports 587, 143, 4190).
	STARTTLS
)

// Server is one way to reach a service.
type Server struct {
	Host     string // a host name, without a trailing dot
	Port     int
	Security Security
}

// Services are a domain's mail services, in the order clients should
// prefer them (implicit TLS first, RFC 8314 3).
type Services struct {
	// Domain is the mail domain (lower-case, no trailing dot).
	Domain string
	// IMAP and Submission are the servers for reading and sending; at
	// least one of each.
	IMAP       []Server
	Submission []Server
	// ManageSieve is the Sieve editing service (RFC 5804), if served.
	ManageSieve *Server
}

// Validate checks s: a domain, at least one IMAP and one submission
// server, every server with a host name, a port and a security.
func (s Services) Validate() error {
	const op = "autoconfig.Validate"
	if !hostName(s.Domain) {
		return errors.E(op, errors.Invalid, errors.Errorf("domain %q", s.Domain))
	}
	if len(s.IMAP) == 0 || len(s.Submission) == 0 {
		return errors.E(op, errors.Invalid, errors.Str("no IMAP or no submission server"))
	}
	all := append(append([]Server(nil), s.IMAP...), s.Submission...)
	if s.ManageSieve != nil {
		all = append(all, *s.ManageSieve)
	}
	for _, v := range all {
		if !hostName(v.Host) || v.Port <= 0 || v.Port > 65535 || (v.Security != TLS && v.Security != STARTTLS) {
			return errors.E(op, errors.Invalid, errors.Errorf("server %+v", v))
		}
	}
	return nil
}

// FromListeners makes the Services of domain at host from listener
// addresses ("host:port"; "" when not served, as config.Listen has them):
// implicit TLS before STARTTLS, as RFC 8314 3 asks.
func FromListeners(domain, host, imaps, imap, submissions, submission, managesieve string) Services {
	s := Services{Domain: strings.ToLower(strings.TrimSuffix(domain, "."))}
	host = strings.TrimSuffix(host, ".")
	add := func(list *[]Server, addr string, sec Security) {
		if p := port(addr); p > 0 {
			*list = append(*list, Server{Host: host, Port: p, Security: sec})
		}
	}
	add(&s.IMAP, imaps, TLS)
	add(&s.IMAP, imap, STARTTLS)
	add(&s.Submission, submissions, TLS)
	add(&s.Submission, submission, STARTTLS)
	if p := port(managesieve); p > 0 {
		s.ManageSieve = &Server{Host: host, Port: p, Security: STARTTLS}
	}
	return s
}

// port is the port of a listener address, 0 if none.
func port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return 0
	}
	return n
}

// hostName reports whether h is a host name (RFC 1123 2.1: labels of
// letters, digits and hyphens).
func hostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Address checks a mail address for the documents: local@domain, the
// domain a host name, no spaces, controls or markup characters (so
// nothing a client echoes can carry anything), at most 254 bytes (RFC
// 5321 4.5.3.1.3). It returns it with the domain lower-cased.
func Address(addr string) (local, domain string, err error) {
	const op = "autoconfig.Address"
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || len(local) > 64 || len(addr) > 254 || !hostName(domain) ||
		strings.ContainsFunc(local, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`<>&"'@\()[],;:`, r) }) {
		return "", "", errors.E(op, errors.Invalid, errors.Str("not a mail address"))
	}
	return local, strings.ToLower(domain), nil
}
