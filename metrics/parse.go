package metrics

import (
	"io"
	"maps"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sealpost/sealpost/errors"
)

// Families is a parsed scrape: metric families by name. Tests and tools
// read /metrics with it.
type Families map[string]*dto.MetricFamily

// Parse reads the text exposition format (what /metrics serves by
// default, version 0.0.4).
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, errors.E("metrics.Parse", errors.Invalid, err)
	}
	return Families(f), nil
}

// Value is the value of the metric name whose labels include every
// pair of labels (name, value, name, value...), summed over the metrics
// that match: a counter's or gauge's value, a histogram's sample count.
// ok is false when none matches.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	mf := f[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// LabelValues returns every label value in the scrape, sorted, each once.
func (f Families) LabelValues() []string {
	set := map[string]bool{}
	for _, mf := range f {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				set[lp.GetValue()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}
