package config

import "net/url"

// Tracing exports OpenTelemetry traces over OTLP/HTTP (see docs/tracing.md).
type Tracing struct {
	// OTLP is the base URL of the OTLP/HTTP receiver
	// ("http://127.0.0.1:4318"); spans are posted to its /v1/traces.
	// Required.
	OTLP string `yaml:"otlp"`
	// Sample is the share of traces recorded, 0 to 1, for requests that
	// arrive without a sampled traceparent; a request whose traceparent
	// is sampled is always recorded. Nil: 1 (every request).
	Sample *float64 `yaml:"sample"`
}

// SampleRatio is the configured share of traces recorded.
func (t *Tracing) SampleRatio() float64 {
	if t.Sample == nil {
		return 1
	}
	return *t.Sample
}

func (c *Config) validateTracing(v *validator) {
	t := c.Tracing
	if t == nil {
		return
	}
	if t.OTLP == "" {
		v.fail("tracing.otlp", "is required: the OTLP/HTTP receiver's URL, such as http://127.0.0.1:4318")
	} else if u, err := url.Parse(t.OTLP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail("tracing.otlp", "%q is not an http(s) URL such as http://127.0.0.1:4318", t.OTLP)
	}
	if s := t.Sample; s != nil && (*s < 0 || *s > 1) {
		v.fail("tracing.sample", "%v is not between 0 and 1", *s)
	}
}
