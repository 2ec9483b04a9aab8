package server

import (
	"github.com/sealpost/sealpost/autoconfig"
)

// clientServices are the mail services clients of a hosted domain
// configure themselves for (web.EnableAutoconfig): this server's name and,
// for each service, the port its listener is bound to (the configured one,
// or the one the system chose for a ":0"), implicit TLS first.
func (s *Server) clientServices(domain string) autoconfig.Services {
	l := s.cfg.Listen
	addrs := map[string]string{"imaps": l.IMAPS, "imap": l.IMAP, "submissions": l.Submissions,
		"submission": l.Submission, "managesieve": l.ManageSieve}
	for _, b := range s.Listeners() {
		if _, ok := addrs[b[0]]; ok {
			addrs[b[0]] = b[1]
		}
	}
	return autoconfig.FromListeners(domain, s.cfg.Hostname, addrs["imaps"], addrs["imap"], addrs["submissions"],
		addrs["submission"], addrs["managesieve"])
}
