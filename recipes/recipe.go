// Package recipes reads recipes — declarative descriptions of a REST service
// over PostgreSQL tables — and serves them.
//
// A recipe names a service, its resources (a table, its key, typed fields
// with their rules, relations), its endpoints (method + path template mapped
// to list, get, create, replace, patch, delete or a named read-only query),
// the JSON shape of its answers (envelope, names, formats of decimals, dates
// and booleans, null or omitted, pagination style) and the domain events its
// writes emit. Every key of the format is declared once, in spec.go: the
// decoder, the defaults, the rules, the JSON Schema of the format
// (recipe.schema.json) and the reference (reference.md) come from there.
//
// Parse and Load give a *Recipe or a *Errors naming file:line and field of
// every mistake. NewService compiles a recipe into an http.Handler that serves
// it over a pgx pool, with an OpenAPI 3.1 document at /openapi.json.
//
// Encode and EncodeWith write a *Recipe back as a recipe file that Parse
// reads to the same recipe, leaving out defaults and derived values, with
// an optional header and comments on keys and list items (EncodeOptions);
// strangler extract writes its recipes this way.
package recipes

import (
	"regexp"

	"github.com/expr-lang/expr/vm"
)

// Recipe is one service: its resources, endpoints, response shape and events.
type Recipe struct {
	Service   string     `yaml:"service"`
	Title     string     `yaml:"title"`
	Version   string     `yaml:"version"`
	BasePath  string     `yaml:"base_path"`
	MaxBody   int64      `yaml:"max_body"`
	Shape     Shape      `yaml:"shape"`
	Events    Events     `yaml:"events"`
	Resources []Resource `yaml:"resources"`
	Endpoints []Endpoint `yaml:"endpoints"`
	// Subscriptions run a statement per event of a JetStream subject (see
	// subscribe.go).
	Subscriptions []Subscription `yaml:"subscriptions"`

	// File is the path the recipe was read from.
	File string `yaml:"-"`

	pos positions
}

// Shape is how answers are written, so that a legacy API's JSON is
// reproduced byte for byte where clients depend on it.
type Shape struct {
	Envelope        string   `yaml:"envelope"`
	DataKey         string   `yaml:"data_key"`
	MetaKey         string   `yaml:"meta_key"`
	Meta            []string `yaml:"meta"`
	Casing          string   `yaml:"casing"`
	Nulls           string   `yaml:"nulls"`
	Decimals        string   `yaml:"decimals"`
	TimestampFormat string   `yaml:"timestamp_format"`
	DateFormat      string   `yaml:"date_format"`
	Booleans        string   `yaml:"booleans"`
	Pagination      string   `yaml:"pagination"`
	DefaultLimit    int      `yaml:"default_limit"`
	MaxLimit        int      `yaml:"max_limit"`
}

// Events configures where the service's domain events are delivered.
type Events struct {
	Webhook     string `yaml:"webhook"`
	NATSURL     string `yaml:"nats_url"`
	NATSSubject string `yaml:"nats_subject"`
	Backoff     string `yaml:"backoff"`
	MaxBackoff  string `yaml:"max_backoff"`
	Timeout     string `yaml:"timeout"`
	Retention   string `yaml:"retention"`
}

// Subscription runs its statement once per event of a JetStream subject,
// idempotent by event id.
type Subscription struct {
	Name       string       `yaml:"name"`
	NATSURL    string       `yaml:"nats_url"`
	Stream     string       `yaml:"stream"`
	Subject    string       `yaml:"subject"`
	Durable    string       `yaml:"durable"`
	SQL        string       `yaml:"sql"`
	Params     []EventParam `yaml:"params"`
	MaxDeliver int          `yaml:"max_deliver"`
	Backoff    string       `yaml:"backoff"`
	DeadLetter string       `yaml:"dead_letter"`

	sql   string   // the SQL with $n placeholders
	order []string // the parameter bound to $1, $2, ...
}

// EventParam is one parameter of a subscription's statement, read from
// the event.
type EventParam struct {
	Name     string `yaml:"name"`
	From     string `yaml:"from"`
	Type     string `yaml:"type"`
	Required bool   `yaml:"required"`
}

// Resource is one PostgreSQL table served as a REST resource.
type Resource struct {
	Name   string `yaml:"name"`
	Table  string `yaml:"table"`
	Schema string `yaml:"schema"`
	// Key is the key field when the key has one field, and the first key
	// field of a composite key. A Resource built in Go may set Key alone
	// for a single-field key; Parse fills it from Keys.
	Key string `yaml:"-"`
	// Keys are the key fields in order: the primary key of the table. The
	// recipe writes `key: id` for one field and `key: [book_id, tag]` for
	// several. After Parse it always holds the key fields (one for a
	// single key). Empty in a Resource built in Go: Key alone is the key;
	// when both are set, Keys wins.
	Keys      []string   `yaml:"key"`
	Fields    []Field    `yaml:"fields"`
	Relations []Relation `yaml:"relations"`
	Rules     []Rule     `yaml:"rules"`
}

// Field is one column of a resource.
type Field struct {
	Name      string   `yaml:"name"`
	Column    string   `yaml:"column"`
	JSON      string   `yaml:"json"`
	Type      string   `yaml:"type"`
	Nullable  bool     `yaml:"nullable"`
	Default   string   `yaml:"default"`
	Example   string   `yaml:"example"`
	Generated bool     `yaml:"generated"`
	Unique    bool     `yaml:"unique"`
	ReadOnly  bool     `yaml:"read_only"`
	WriteOnly bool     `yaml:"write_only"`
	Enum      []string `yaml:"enum"`
	MinLength *int     `yaml:"min_length"`
	MaxLength *int     `yaml:"max_length"`
	Minimum   *float64 `yaml:"minimum"`
	Maximum   *float64 `yaml:"maximum"`
	Pattern   string   `yaml:"pattern"`
	Scale     int      `yaml:"scale"`
	Precision int      `yaml:"precision"`
	Format    string   `yaml:"format"`
	Length    int      `yaml:"length"`
	FSP       int      `yaml:"fsp"`
	Doc       string   `yaml:"doc"`

	pattern *regexp.Regexp
	example any // the example's value, set at load time (examples.go)
}

// Relation links a resource to another: kind one when the resource's field
// holds the other's key (an order's customer), kind many when the other's
// field holds this resource's key (a customer's orders). Endpoints may embed
// the related object, or list, under the relation's name.
type Relation struct {
	Name     string `yaml:"name"`
	Resource string `yaml:"resource"`
	Field    string `yaml:"field"`
	Kind     string `yaml:"kind"`
	JSON     string `yaml:"json"`
}

// Rule is a validation rule written in the expr language over the
// resource's fields.
type Rule struct {
	Expr    string `yaml:"expr"`
	Field   string `yaml:"field"`
	Message string `yaml:"message"`

	prog *vm.Program
}

// Endpoint maps a method and path template to an action on a resource, or
// to a named read-only query.
type Endpoint struct {
	Name     string   `yaml:"name"`
	Method   string   `yaml:"method"`
	Path     string   `yaml:"path"`
	Resource string   `yaml:"resource"`
	Action   string   `yaml:"action"`
	Filters  []string `yaml:"filters"`
	Sort     []string `yaml:"sort"`
	Embed    []string `yaml:"embed"`
	Event    string   `yaml:"event"`
	Query    *Query   `yaml:"query"`
	Doc      string   `yaml:"doc"`

	params    []string // parameters of the path template, in order
	keyParams []string // get, replace, patch, delete: the parameter of each key field, in key order
}

// Query is a named read-only SQL query with typed, always bound parameters.
type Query struct {
	SQL    string  `yaml:"sql"`
	Params []Param `yaml:"params"`
	Single bool    `yaml:"single"`

	sql   string   // the SQL with $n placeholders
	order []string // the parameter bound to $1, $2, ...
}

// Param is one parameter of a named query, read from the path or the query
// string.
type Param struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Required bool   `yaml:"required"`
	Default  string `yaml:"default"`
}

// Actions an endpoint may perform.
const (
	ActionList    = "list"
	ActionGet     = "get"
	ActionCreate  = "create"
	ActionReplace = "replace"
	ActionPatch   = "patch"
	ActionDelete  = "delete"
	ActionQuery   = "query"
)

// Field types; Types (spec.go) says what each one serves and how its
// values are written.
const (
	TypeString    = "string"
	TypeInteger   = "integer"
	TypeNumber    = "number"
	TypeDecimal   = "decimal"
	TypeBoolean   = "boolean"
	TypeTimestamp = "timestamp"
	TypeDate      = "date"
	TypeUUID      = "uuid"
	TypeJSON      = "json"
	TypeTime      = "time"   // a MySQL TIME, -838:59:59 to 838:59:59, in an interval column
	TypeBits      = "bits"   // a bit(n) column, as a string of n 0s and 1s
	TypeBinary    = "binary" // a bytea column, as base64
	TypeSet       = "set"    // a text[] column (a MySQL SET), as an array of distinct strings
)
