package samples_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/require"
)

// record is a captured exchange; target is a path with an optional query.
func record(method, target string, status int, body string) capture.Record {
	path, query, _ := strings.Cut(target, "?")
	r := capture.Record{Route: "legacy", Request: capture.Request{Method: method, Path: path, Query: query},
		Response: capture.Response{Status: status, Body: body}}
	if body != "" {
		r.Response.Header = http.Header{"Content-Type": {"application/json"}}
	}
	return r
}

func get(target, body string) capture.Record { return record(http.MethodGet, target, 200, body) }

// endpoint finds the endpoint of a method and template.
func endpoint(t *testing.T, res *samples.Result, method, template string) *samples.Endpoint {
	t.Helper()
	for i := range res.Endpoints {
		if ep := &res.Endpoints[i]; ep.Method == method && ep.Template == template {
			return ep
		}
	}
	require.Failf(t, "no such endpoint", "%s %s among %v", method, template, routes(res))
	return nil
}

// routes lists the endpoints as "METHOD template".
func routes(res *samples.Result) []string {
	out := make([]string, len(res.Endpoints))
	for i, ep := range res.Endpoints {
		out[i] = ep.Method + " " + ep.Template
	}
	return out
}

// field finds a field by JSON path (customer.vip).
func field(t *testing.T, fs []samples.FieldObs, path string) samples.FieldObs {
	t.Helper()
	head, rest, nested := strings.Cut(path, ".")
	for _, f := range fs {
		if f.JSON == head {
			if nested {
				return field(t, f.Fields, rest)
			}
			return f
		}
	}
	require.Failf(t, "no such field", "%s among %v", path, jsonNames(fs))
	return samples.FieldObs{}
}

func jsonNames(fs []samples.FieldObs) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.JSON
	}
	return out
}

// objects writes n answers of one object each from a template with %d.
func objects(n int, path, body string) []capture.Record {
	out := make([]capture.Record, n)
	for i := range out {
		out[i] = get(fmt.Sprintf(path, i+1), fmt.Sprintf(body, i+1))
	}
	return out
}
