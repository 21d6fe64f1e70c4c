package main

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// otlpSpan is one span as an in-process OTLP/HTTP receiver got it.
type otlpSpan struct {
	Service, Name     string
	Trace, ID, Parent string
	Start, End        time.Time
	Attrs             map[string]string
}

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []otlpSpan
	srv   *httptest.Server
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var ex coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &ex)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.ResourceSpans {
			service := ""
			for _, a := range rs.Resource.GetAttributes() {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sp := otlpSpan{Service: service, Name: s.Name, Trace: hex.EncodeToString(s.TraceId), ID: hex.EncodeToString(s.SpanId),
						Parent: hex.EncodeToString(s.ParentSpanId), Start: time.Unix(0, int64(s.StartTimeUnixNano)),
						End: time.Unix(0, int64(s.EndTimeUnixNano)), Attrs: map[string]string{}}
					for _, a := range s.Attributes {
						v := a.Value.GetStringValue()
						if v == "" {
							v = strings.Trim(fmt.Sprint(a.Value.GetValue()), "&{}")
						}
						sp.Attrs[a.Key] = v
					}
					r.spans = append(r.spans, sp)
				}
			}
		}
		r.mu.Unlock()
		raw, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(raw)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// trace returns the spans of one trace, parents before children.
func (r *otlpReceiver) trace(id string) []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpSpan
	for _, s := range r.spans {
		if s.Trace == id {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// tree writes a trace as an indented tree, for the test log and the docs.
func tree(spans []otlpSpan, root string) string {
	var b strings.Builder
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			if s.Parent != parent {
				continue
			}
			keys := make([]string, 0, len(s.Attrs))
			for k := range s.Attrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var attrs []string
			for _, k := range keys {
				attrs = append(attrs, k+"="+s.Attrs[k])
			}
			fmt.Fprintf(&b, "%s%s  [%s] %s  %s\n", strings.Repeat("  ", depth), s.Name, s.Service, s.End.Sub(s.Start).Round(10*time.Microsecond),
				strings.Join(attrs, " "))
			walk(s.ID, depth+1)
		}
	}
	walk(root, 0)
	return b.String()
}

// TestTraceFromClientToDatabase runs `strangler serve` and `strangler proxy`
// with tracing on against an in-process OTLP receiver: a request carrying
// a client's traceparent gives one trace, the facade's span a child of the
// client's, the upstream attempt under it, the recipe service's span under
// that, and its SQL statements under the recipe's span; the facade's log
// line carries the trace id.
func TestTraceFromClientToDatabase(t *testing.T) {
	t.Setenv(envAdminToken, routesTestToken)
	t.Setenv(envAdmin, "")
	otlp := newOTLPReceiver(t)
	legacy := pxBackend(t, "legacy")
	dsn := dbtest.Postgres(t)
	listen, admin, svc := freeAddr(t), freeAddr(t), freeAddr(t)
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	dir := t.TempDir()
	project := filepath.Join(dir, "strangler.yaml")
	require.NoError(t, os.WriteFile(project, []byte(fmt.Sprintf(`listen: %s
legacy: %s
admin: {listen: %s}
databases:
  new: %s
routes:
  - name: orders-read
    match: {path: /api/orders/{id}, methods: [GET]}
    target: http://%s
    mode: new
services:
  - recipe: %s
    listen: %s
tracing:
  otlp: %s
  sample: 0
`, listen, legacy.URL, admin, dsn, svc, abs, svc, otlp.srv.URL)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	serveErr := &lockedBuffer{}
	serveDone := make(chan int, 1)
	go func() { serveDone <- run(ctx, []string{"-c", project, "serve", "--migrate"}, io.Discard, serveErr) }()
	var once sync.Once
	stopServe := func() {
		once.Do(func() {
			cancel()
			select {
			case <-serveDone:
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
	}
	defer stopServe()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + svc + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "serve: %s", serveErr)
	code, body := post(t, "http://"+svc+"/api/customers", `{"name":"Ada","email":"ada@example.com"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = post(t, "http://"+svc+"/api/orders", `{"customerId":1,"total":"12.50"}`)
	require.Equal(t, http.StatusCreated, code, body)

	p := startProxy(t, project, listen, admin)
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, err := http.NewRequest(http.MethodGet, "http://"+listen+"/api/orders/1", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "proxy: %s", p.stderr)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Untraced requests (sample 0, no traceparent) record nothing.
	resp, err = http.Get("http://" + listen + "/api/orders/1")
	require.NoError(t, err)
	resp.Body.Close()

	// Stopping flushes the batched spans.
	require.Equal(t, exitOK, p.stop(t))
	stopServe()

	spans := otlp.trace(clientTrace)
	t.Logf("the trace:\n%s", tree(spans, clientSpan))
	byName := map[string]otlpSpan{}
	for _, s := range spans {
		if _, ok := byName[s.Name]; !ok {
			byName[s.Name] = s
		}
	}
	facade, ok := byName["facade orders-read"]
	require.True(t, ok, "the facade's span: %v", spans)
	assert.Equal(t, "strangler-proxy", facade.Service)
	assert.Equal(t, clientSpan, facade.Parent, "a child of the client's span")
	assert.Equal(t, "new", facade.Attrs["strangler.backend"])
	assert.Equal(t, "new", facade.Attrs["strangler.mode"])
	assert.Equal(t, "closed", facade.Attrs["strangler.breaker"])
	up, ok := byName["upstream new"]
	require.True(t, ok)
	assert.Equal(t, facade.ID, up.Parent)
	var recipe otlpSpan
	for _, s := range spans {
		if s.Service == "strangler-serve" && s.Parent == up.ID {
			recipe = s
		}
	}
	require.NotEmpty(t, recipe.ID, "the recipe service continues the trace under the upstream attempt")
	assert.Equal(t, "orders GET /api/orders/1", recipe.Name)
	var sql []string
	for _, s := range spans {
		if s.Parent == recipe.ID {
			sql = append(sql, s.Name)
			assert.Contains(t, s.Attrs["db.query.text"], `FROM "public".`)
		}
	}
	assert.Contains(t, sql, "db SELECT", "the statements are children of the recipe's span")

	otlp.mu.Lock()
	traces := map[string]bool{}
	for _, s := range otlp.spans {
		if s.Service == "strangler-proxy" {
			traces[s.Trace] = true
		}
	}
	otlp.mu.Unlock()
	assert.Equal(t, map[string]bool{clientTrace: true}, traces, "sample 0: only the client's sampled trace is recorded by the facade")
	assert.Contains(t, p.stderr.String(), `"trace_id":"`+clientTrace+`"`, "the facade's log lines carry the trace id")
}
