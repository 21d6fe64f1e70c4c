// Package config reads strangler.yaml, the one project file every subcommand
// shares: the facade, the databases, the routes, the sync pipelines and the
// recipe services.
//
// There is one path to a valid configuration: Load parses the file (unknown
// keys are errors), fills defaults in one place (setDefaults) and runs
// Validate, whose errors name the file, line, field and value. A Config that
// did not come from Load or Parse has no positions for its errors and no
// defaults; build one with Parse when you need one in code.
package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// DefaultFile is the project file read when -c is not given.
const DefaultFile = "strangler.yaml"

// Modes a route can be in, in the order a route moves through them.
const (
	ModeLegacy = "legacy" // legacy answers
	ModeShadow = "shadow" // legacy answers; a copy goes to the target and is compared
	ModeCanary = "canary" // a share of requests goes to the target
	ModeNew    = "new"    // the target answers
)

// Modes lists every route mode, in lifecycle order.
var Modes = []string{ModeLegacy, ModeShadow, ModeCanary, ModeNew}

// CheckMode refuses a string that is not a route mode. The project file,
// the admin API and the facade all check modes through it.
func CheckMode(mode string) error {
	if !slices.Contains(Modes, mode) {
		return fmt.Errorf("%q is not one of legacy, shadow, canary, new", mode)
	}
	return nil
}

// CheckPercent refuses a canary percent outside 0 to 100 (or NaN).
func CheckPercent(p float64) error {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return fmt.Errorf("%v is not between 0 and 100", p)
	}
	return nil
}

// Sync directions.
const (
	DirectionLegacyToNew = "legacy-to-new"
	DirectionNewToLegacy = "new-to-legacy"
	DirectionBoth        = "both"
)

// The conflict winners and ID strategies of a both-ways pipeline.
const (
	RecordLegacy  = "legacy"
	RecordNew     = "new"
	WinsRecord    = "record"
	WinsNewest    = "newest"
	IDsInterleave = "interleave"
	IDsNone       = "none"
)

// Directions lists every sync direction.
var Directions = []string{DirectionLegacyToNew, DirectionNewToLegacy, DirectionBoth}

// Config is the whole project file.
type Config struct {
	// Listen is the address client traffic is served on (host:port).
	// Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// Legacy is the base URL of the monolith; every unmatched request goes
	// there. Required as soon as the file has routes or the facade runs.
	Legacy string `yaml:"legacy"`
	// Admin is the admin API listener.
	Admin Admin `yaml:"admin"`
	// State is where route state (modes, percents, history) survives
	// restarts: a file path (relative to the project file) or a postgres://
	// URL shared by several facade replicas. Default "routes.state.json".
	State string `yaml:"state"`
	// Databases names the legacy and new databases.
	Databases Databases `yaml:"databases"`
	// Proxy holds facade-wide settings.
	Proxy Proxy `yaml:"proxy"`
	// Shadow configures the shadow engine: its queue, workers and store.
	Shadow Shadow `yaml:"shadow"`
	// Routes are the routes the facade knows, matched in order.
	Routes []Route `yaml:"routes"`
	// Sync lists the change-data sync pipelines.
	Sync []Pipeline `yaml:"sync"`
	// Services lists the recipes `strangler serve` runs.
	Services []Service `yaml:"services"`
	// Tracing exports OpenTelemetry traces. Nil: off.
	Tracing *Tracing `yaml:"tracing"`

	// File is the path the configuration was read from ("" when parsed
	// from bytes without a name).
	File string `yaml:"-"`
	// Warnings are dangerous but legal settings found at load time.
	Warnings []string `yaml:"-"`

	pos positions
}

// Admin configures the admin API.
type Admin struct {
	// Listen is the admin listener (host:port). Default "127.0.0.1:9901".
	// A non-loopback address requires a token.
	Listen string `yaml:"listen"`
	// TokenEnv names the environment variable holding the bearer token.
	// Default "STRANGLER_ADMIN_TOKEN". An empty variable means no token,
	// which is only accepted on a loopback listener.
	TokenEnv string `yaml:"token_env"`
}

// Databases names the two databases of the migration. Both accept
// ${VAR} references to environment variables, so that passwords need not be
// written in the file.
type Databases struct {
	// Legacy is the MySQL/MariaDB DSN: mysql://user:pass@host:port/db or a
	// go-sql-driver DSN (user:pass@tcp(host:port)/db). Empty: not configured.
	Legacy string `yaml:"legacy"`
	// New is the PostgreSQL URL or keyword/value DSN. Empty: not configured.
	New string `yaml:"new"`
}

// Proxy holds facade-wide settings.
type Proxy struct {
	// MaxBodyCopy is the largest request body, in bytes, copied for modes
	// that need a copy (shadow, capture, fallback of unsafe requests).
	// Larger bodies are streamed and not copied. Default 1048576 (1 MiB);
	// zero means the default.
	MaxBodyCopy int64 `yaml:"max_body_copy"`
	// Timeout bounds one request to an upstream when the route sets none.
	// Default 30s; zero means the default.
	Timeout Duration `yaml:"timeout"`
	// ShutdownTimeout is how long in-flight requests may finish on shutdown.
	// Default 15s; zero means the default.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// TrustedProxies lists the peers, as CIDRs (10.0.0.0/8) or bare IP
	// addresses, whose X-Forwarded-For the facade appends to and whose
	// X-Forwarded-Host, X-Forwarded-Proto and Forwarded it keeps. From
	// every other peer those headers are replaced by what the facade saw.
	// Default: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Shadow configures the shadow engine, which sends the copies, compares
// the answers and keeps the results.
type Shadow struct {
	// Store is where results are kept: a directory (relative to the
	// project file) for one facade, or a postgres:// URL that several
	// replicas share, so that they report together. Default "shadow".
	Store string `yaml:"store"`
	// Retention bounds the example records kept (diffs and errors);
	// counters are kept whole.
	Retention ShadowRetention `yaml:"retention"`
	// Queue is the number of copies that may wait for a worker; further
	// copies are dropped and counted. Default 1000; zero means the default.
	Queue int `yaml:"queue"`
	// QueueBytes bounds, in bytes, what the waiting copies hold (request
	// and answer bodies, header names and values, the URL); a copy that
	// would go over it is dropped and counted. Default 67108864 (64 MiB);
	// zero means the default.
	QueueBytes int64 `yaml:"queue_bytes"`
	// Workers is the number of copies sent and compared at once. Default 4;
	// zero means the default.
	Workers int `yaml:"workers"`
}

// ShadowRetention bounds the example records of the shadow store.
type ShadowRetention struct {
	// Max is the most records kept. Default 100000; zero means the default.
	Max int `yaml:"max"`
	// Age is the longest a record is kept. Default 168h; zero means the
	// default.
	Age Duration `yaml:"age"`
}

// RouteShadow says which requests of a route are compared, and how. In
// mode shadow legacy answers the client and the copy goes to the target; in
// mode canary a sample of the requests is compared the other way too: a
// request the target answered is sent to legacy (safe methods only).
type RouteShadow struct {
	// Sample is the percent of the route's requests compared, 0 to 100.
	// Nil: 100 in mode shadow, 10 in mode canary.
	Sample *float64 `yaml:"sample"`
	// Writes lets unsafe methods (POST, PUT, PATCH, DELETE) be copied to
	// the target, with X-Strangler-Shadow: 1, which the recipe runtime
	// honours by rolling its transaction back. Never to legacy. Default
	// false: only GET, HEAD and OPTIONS are copied.
	Writes bool `yaml:"writes"`
	// MaxBody is the largest request or answer body, in bytes, of a
	// compared request; above it the copy is dropped and counted.
	// Zero: proxy.max_body_copy, which is also its upper bound.
	MaxBody int64 `yaml:"max_body"`
	// DropHeaders are request headers not sent with the copy.
	DropHeaders []string `yaml:"drop_headers"`
	// Headers are the response headers compared, beside the status.
	Headers []string `yaml:"headers"`
	// Ignore are paths whose values are not compared ($.meta.request_id,
	// $.items[*].updated_at, $..etag).
	Ignore []string `yaml:"ignore"`
	// Sets are arrays compared as sets: "$.data.items", or matched by a key
	// field: "$.data.items:id".
	Sets []string `yaml:"sets"`
	// Tolerance maps a path to the absolute difference allowed between two
	// numbers there.
	Tolerance map[string]float64 `yaml:"tolerance"`
	// Normalize rewrites string values before they are compared.
	Normalize []ShadowNormalize `yaml:"normalize"`
	// NullEqualsMissing makes a null member equal a missing one. Default
	// false.
	NullEqualsMissing bool `yaml:"null_equals_missing"`
	// LearnNoise asks legacy a second time on a sample of compared safe
	// requests; paths whose values differ between its two answers are
	// noise, silenced from then on. Nil: true.
	LearnNoise *bool `yaml:"learn_noise"`
	// LearnSample is the percent of compared safe requests asked twice.
	// Default 10; zero means the default.
	LearnSample float64 `yaml:"learn_sample"`
}

// ShadowNormalize is one rewrite of string values before comparison.
type ShadowNormalize struct {
	// Path is the pattern of the values it applies to; empty: every
	// string value, compared header and text body.
	Path string `yaml:"path"`
	// Pattern is a Go regular expression, or one of uuid, timestamp and
	// number.
	Pattern string `yaml:"pattern"`
	// Replace is the replacement (regexp syntax, $1 for groups). Default
	// "<normalized>".
	Replace string `yaml:"replace"`
}

// Route is one route of the facade.
type Route struct {
	// Name identifies the route in the CLI, the admin API and metrics.
	// Required; letters, digits, '-', '_' and '.'.
	Name string `yaml:"name"`
	// Match selects the requests of the route.
	Match Match `yaml:"match"`
	// Target is the base URL of the new service. Required.
	Target string `yaml:"target"`
	// Rewrite is the path template sent to the target, using the variables
	// of Match.Path ("/orders/{id}"). Empty: the path is sent unchanged.
	Rewrite string `yaml:"rewrite"`
	// Mode is legacy, shadow, canary or new. Default legacy.
	Mode string `yaml:"mode"`
	// Percent is the share of requests, 0 to 100 (fractions allowed), that
	// canary mode sends to the target. Default 0.
	Percent float64 `yaml:"percent"`
	// Sticky keeps one client on one side in canary mode: "header:NAME" or
	// "cookie:NAME". Empty: each request is drawn on its own.
	Sticky string `yaml:"sticky"`
	// Fallback is "legacy" to send a request to legacy when the target's
	// breaker is open or the target refuses the connection, or "none".
	// Default "none".
	Fallback string `yaml:"fallback"`
	// Timeout bounds one request to an upstream. Zero: proxy.timeout.
	Timeout Duration `yaml:"timeout"`
	// Shadow says which requests of the route are compared and how. Nil:
	// the defaults of RouteShadow.
	Shadow *RouteShadow `yaml:"shadow"`
	// Breaker configures the circuit breaker guarding the target.
	Breaker Breaker `yaml:"breaker"`
	// Capture records samples of legacy traffic for `strangler extract`.
	// Nil: no capture.
	Capture *Capture `yaml:"capture"`
	// RateLimit is the route's token bucket (docs/gateway.md). Nil: no
	// limit.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Auth is the route's authentication check (docs/gateway.md). Nil:
	// every request passes through untouched.
	Auth *Auth `yaml:"auth"`
	// Owner is who owns the route in the catalog: a team or a person, free
	// text. Empty: its service's owner (services[].owner), else none.
	Owner string `yaml:"owner"`
	// Service names the service that answers the route in the catalog: a
	// services[].name, or a service run elsewhere. Empty: the route is
	// listed under no service.
	Service string `yaml:"service"`
	// SLO is the route's service-level objective, judged in the catalog over
	// the rollout window (1m without a rollout). Nil: its service's
	// (services[].slo), else none.
	SLO *SLO `yaml:"slo"`
	// Rollout lets the controller move the route by itself. Nil: manual.
	Rollout *Rollout `yaml:"rollout"`
}

// Match selects requests. Exactly one of Path and Prefix is set.
type Match struct {
	// Path is a gorilla/mux path template ("/api/orders/{id}").
	Path string `yaml:"path"`
	// Prefix matches every path that starts with it ("/api/reports/").
	Prefix string `yaml:"prefix"`
	// Methods limits the route to these HTTP methods. Empty: all methods.
	Methods []string `yaml:"methods"`
	// Host limits the route to one host (a mux host template). Empty: any.
	Host string `yaml:"host"`
	// Headers limits the route to requests carrying these header values.
	Headers map[string]string `yaml:"headers"`
}

// Breaker configures one route's circuit breaker.
type Breaker struct {
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row. Default 5; zero means the default.
	ConsecutiveFailures uint32 `yaml:"consecutive_failures"`
	// FailureRatio trips the breaker when at least MinRequests were seen in
	// the interval and this share of them (0 to 1) failed. Default 0.5;
	// zero means the default.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is the number of requests in the interval before
	// FailureRatio is considered. Default 20; zero means the default.
	MinRequests uint32 `yaml:"min_requests"`
	// HalfOpenRequests caps the probes let through while half-open.
	// Default 3; zero means the default.
	HalfOpenRequests uint32 `yaml:"half_open_requests"`
	// OpenTimeout is how long the breaker stays open before probing.
	// Default 10s; zero means the default.
	OpenTimeout Duration `yaml:"open_timeout"`
	// Interval is the closed-state window after which counts reset.
	// Default 60s; zero means the default.
	Interval Duration `yaml:"interval"`
}

// Capture records request and legacy response pairs as JSON lines.
type Capture struct {
	// Sample is the share of requests recorded, 0 to 1. Default 0.01.
	Sample float64 `yaml:"sample"`
	// Max is the most samples recorded per run. Default 1000.
	Max int `yaml:"max"`
	// File receives the samples (JSON lines), relative to the project file.
	// Default "captures/<route>.jsonl".
	File string `yaml:"file"`
	// Redact lists further names to redact, matched without regard to
	// case, in headers, query parameters, form fields, JSON fields at any
	// depth and path variables (in the path too), beside those always
	// redacted: Authorization, Proxy-Authorization, Cookie, Set-Cookie,
	// X-Api-Key, X-Auth-Token, X-Access-Token, X-Csrf-Token, X-Xsrf-Token,
	// X-Amz-Security-Token, password, passwd, secret, token, access_token,
	// refresh_token, id_token, api_key, apikey and client_secret.
	Redact []string `yaml:"redact"`
}

// Rollout is an automatic progression of a route through stages, moved by
// the rollout controller of `strangler proxy` (see docs/rollout.md).
type Rollout struct {
	// Stages are modes or canary percents, in order: [shadow, 5, 25, new].
	Stages []Stage `yaml:"stages"`
	// Window is how long the gates must hold before the next stage, and
	// the span they are judged over. Default 1m; zero means the default.
	Window Duration `yaml:"window"`
	// Gates decide whether a stage holds.
	Gates Gates `yaml:"gates"`
	// Abort is how a broken gate sends the route back to legacy: "instant"
	// (the default), or a duration ("2m") over which the target's share is
	// ramped down to 0 before the route goes to legacy.
	Abort Abort `yaml:"abort"`
}

// Abort is a rollout's way back: zero for instant, else the ramp's length.
type Abort Duration

// D returns the ramp's length; zero for an instant abort.
func (a Abort) D() time.Duration { return time.Duration(a) }

// String writes "instant" or the ramp's length.
func (a Abort) String() string {
	if a == 0 {
		return AbortInstant
	}
	return time.Duration(a).String()
}

// AbortInstant is the rollout abort that sends a route to legacy at once.
const AbortInstant = "instant"

// Stage is one step of a rollout: a mode, or a canary percent.
type Stage struct {
	Mode    string  // shadow, canary or new
	Percent float64 // for canary stages
}

// String writes the stage as the file does: a mode, or a percent.
func (s Stage) String() string {
	if s.Mode == ModeCanary {
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return s.Mode
}

// Gates are the thresholds a stage must hold over the window.
type Gates struct {
	// MatchRate is the least share, in percent, of shadow comparisons that
	// match. Default 99.5.
	MatchRate float64 `yaml:"match_rate"`
	// ErrorRate is the largest share, in percent, of the target's requests
	// that fail (5xx, or a failed attempt legacy answered). Default 1.
	ErrorRate float64 `yaml:"error_rate"`
	// P99Ratio is the largest ratio of the target's p99 latency to
	// legacy's over the same window. Default 1.3.
	P99Ratio float64 `yaml:"p99_ratio"`
	// MinRequests is the least number of requests to the target in the
	// window (in a shadow stage: comparisons) before the gates are judged.
	// Default 200.
	MinRequests int `yaml:"min_requests"`
	// SyncLag is the largest lag of the sync pipelines carrying the route's
	// tables. Default 30s; it applies only to routes whose service's tables
	// a pipeline carries.
	SyncLag Duration `yaml:"sync_lag"`
}

// StatsWindow is the longest span the facade and the shadow engine keep
// each route's recent traffic for: 5 minutes, or the longest rollout window
// when that is longer.
func (c *Config) StatsWindow() time.Duration {
	w := 5 * time.Minute
	for _, r := range c.Routes {
		if r.Rollout != nil {
			w = max(w, r.Rollout.Window.D())
		}
	}
	return w
}

// Pipeline is one change-data sync pipeline.
type Pipeline struct {
	// Name identifies the pipeline in status, metrics and checkpoints.
	// Required.
	Name string `yaml:"name"`
	// Direction is legacy-to-new, new-to-legacy or both.
	// Default legacy-to-new.
	Direction string `yaml:"direction"`
	// Source overrides databases.legacy for this pipeline. Empty: that.
	Source string `yaml:"source"`
	// Target overrides databases.new for this pipeline. Empty: that.
	Target string `yaml:"target"`
	// Tables are the synced tables: names, or objects with options.
	Tables []Table `yaml:"tables"`
	// ZeroDates is the policy for MySQL zero dates ('0000-00-00'):
	// "null" or "error". Default "null".
	ZeroDates string `yaml:"zero_dates"`
	// NulBytes is the policy for NUL bytes in text: "strip" or "error".
	// Default "error".
	NulBytes string `yaml:"nul_bytes"`
	// BatchSize is the most changes applied in one target transaction.
	// Default 1000; zero means the default.
	BatchSize int `yaml:"batch_size"`
	// ChunkSize is the number of rows read per snapshot chunk.
	// Default 10000; zero means the default.
	ChunkSize int `yaml:"chunk_size"`
	// Record is the system of record of a both-ways pipeline: the side
	// whose change wins a conflict, "legacy" or "new". Default legacy.
	Record string `yaml:"record"`
	// Route, in a both-ways pipeline, makes the system of record follow a
	// route of the facade: legacy until the route's mode is new, then new.
	// Empty: Record alone decides.
	Route string `yaml:"route"`
	// IDs is how a both-ways pipeline keeps keys generated on both sides
	// apart: "interleave" (MySQL auto_increment_increment/offset and a
	// PostgreSQL generator on the other residue, set up and checked by the
	// pipeline) or "none" (no synced table's key is generated on both
	// sides). Default interleave.
	IDs string `yaml:"ids"`
}

// Conflict is a table's conflict policy in a both-ways pipeline: which
// version wins when the same key changed on both sides before either
// change arrived.
type Conflict struct {
	// Wins is "record" (the pipeline's system of record) or "newest" (the
	// version with the later Column; a tie, or a deleted row, goes to the
	// system of record). Default record.
	Wins string `yaml:"wins"`
	// Column is the timestamp column "newest" compares (the source name).
	Column string `yaml:"column"`
	// Add names numeric columns whose changes add up: when both sides
	// updated the row, each side's change of them (after minus before) is
	// added to the other's, whichever side Wins; the other columns follow
	// Wins. For counters such as a stock quantity. Empty: none.
	Add []string `yaml:"add"`
}

// Table is one synced table; in the file either a name or an object.
type Table struct {
	// Name is the source table. Required.
	Name string `yaml:"name"`
	// Target is the target table name. Default: the source name.
	Target string `yaml:"target"`
	// Rename maps source column names to target column names.
	Rename map[string]string `yaml:"rename"`
	// Exclude lists source columns that are not copied.
	Exclude []string `yaml:"exclude"`
	// Types overrides the target type of columns (column -> PostgreSQL type).
	Types map[string]string `yaml:"types"`
	// Key names the columns of a unique not-null key to use when the table
	// has no primary key. Empty: the primary key.
	Key []string `yaml:"key"`
	// Conflict is the table's conflict policy in a both-ways pipeline.
	// Nil: the system of record wins.
	Conflict *Conflict `yaml:"conflict"`
}

// Service is one recipe served by `strangler serve`.
type Service struct {
	// Recipe is the recipe file, relative to the project file. Required.
	Recipe string `yaml:"recipe"`
	// Listen is the service's address (host:port). Required.
	Listen string `yaml:"listen"`
	// Database is the PostgreSQL URL (or keyword/value DSN) the recipe's
	// tables and outbox live in. Default: databases.new. Empty after
	// defaults means none is configured; `strangler serve --database` then
	// has to name one.
	Database string `yaml:"database"`
	// Name is the service's name in the catalog, which routes name in their
	// service key: letters, digits, '-' and '_', starting with a letter.
	// Empty: the recipe's own service name (its service key), read where
	// the recipe is loaded (`strangler serve`, the catalog).
	Name string `yaml:"name"`
	// Owner is who owns the service in the catalog, free text. Empty: none.
	Owner string `yaml:"owner"`
	// SLO is the service's objective over all its routes, and the one of
	// each of its routes that sets none. Nil: none.
	SLO *SLO `yaml:"slo"`
}

// Duration is a time.Duration written as "1m30s" in the file.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as Go does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
