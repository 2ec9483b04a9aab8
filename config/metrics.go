package config

import "net"

// Metrics configures the Prometheus metrics listener (package metrics):
// one HTTP endpoint, /metrics, on its own address. Its labels never
// carry an address, a name, a domain or a folder: listener, region,
// result and reason only.
type Metrics struct {
	// Listen is the address of the metrics listener, e.g.
	// "127.0.0.1:9090"; empty (the default) serves no metrics. It speaks
	// plain HTTP: bind it to loopback or to a private network that only
	// the scraper reaches.
	Listen string `toml:"listen"`
}

func (m *Metrics) validate(bad func(string, ...any)) {
	if m.Listen == "" {
		return
	}
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		bad("metrics.listen: %v", err)
	}
}
