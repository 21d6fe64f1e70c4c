package proxy

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// findMetric returns the metric of a family whose label values are want,
// in label-name order as registered, or nil.
func findMetric(t *testing.T, f *Facade, name string, want ...string) *dto.Metric {
	t.Helper()
	fams, err := f.Registry().Gather()
	require.NoError(t, err)
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
	metrics:
		for _, m := range fam.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			vals := map[string]string{}
			for _, l := range m.GetLabel() {
				vals[l.GetName()] = l.GetValue()
			}
			names := labelOrder[name]
			for i, w := range want {
				if vals[names[i]] != w {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

var labelOrder = map[string][]string{
	"strangler_requests_total":           {"route", "backend", "code"},
	"strangler_request_duration_seconds": {"route", "backend"},
	"strangler_breaker_state":            {"route"},
	"strangler_shadow_comparisons_total": {"route", "result"},
	"strangler_route_version":            {},
	"strangler_fallbacks_total":          {"route", "reason"},
}

func counterValue(t *testing.T, f *Facade, name string, labels ...string) float64 {
	m := findMetric(t, f, name, labels...)
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

func gaugeValue(t *testing.T, f *Facade, name string, labels ...string) float64 {
	m := findMetric(t, f, name, labels...)
	require.NotNil(t, m, "%s%v", name, labels)
	return m.GetGauge().GetValue()
}
