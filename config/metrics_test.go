package config

import (
	"strings"
	"testing"
)

// [metrics] listen is off by default and, when set, must be an address.
func TestMetricsConfig(t *testing.T) {
	if Default().Metrics.Listen != "" {
		t.Error("metrics on by default")
	}
	for _, c := range []struct {
		listen string
		ok     bool
	}{{"", true}, {"127.0.0.1:9090", true}, {"[::1]:9090", true}, {":9090", true}, {"9090", false}, {"localhost", false}} {
		var problems []string
		m := Metrics{Listen: c.listen}
		m.validate(func(f string, a ...any) { problems = append(problems, f) })
		if (len(problems) == 0) != c.ok {
			t.Errorf("listen %q: problems %v, want ok %v", c.listen, problems, c.ok)
		}
		if !c.ok && !strings.HasPrefix(problems[0], "metrics.listen") {
			t.Errorf("listen %q: %q does not name the key", c.listen, problems[0])
		}
	}
}
