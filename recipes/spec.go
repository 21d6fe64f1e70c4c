package recipes

// The recipe format, declared once. The decoder (known keys, defaults,
// enums, required keys), the JSON Schema of the format (recipe.schema.json)
// and the reference tables of reference.md are all derived from these tables;
// rules that span several keys are in validate.go, each one described in the
// Rule text of the key it checks.

// Kind is the type of a key in the recipe format.
type Kind string

// Kinds of keys.
const (
	KString     Kind = "string"
	KInt        Kind = "integer"
	KNumber     Kind = "number"
	KBool       Kind = "boolean"
	KStrings    Kind = "list of strings"
	KNames      Kind = "string or list of strings" // one name, or several in a list
	KObject     Kind = "object"
	KObjectList Kind = "list of objects"
)

// FieldSpec declares one key of a recipe object.
type FieldSpec struct {
	Key      string   // the YAML key
	Kind     Kind     // its type
	Object   string   // for KObject and KObjectList: the ObjectSpec name
	Desc     string   // what it means
	Default  string   // the default written in YAML syntax; "" means none
	Example  string   // an example value in YAML syntax
	Rule     string   // the rule it must follow, in words ("" when the type says all)
	Required bool     // the key must be present
	Derived  bool     // Default describes a value computed from other keys
	Enum     []string // the allowed values, when a closed set
}

// ObjectSpec declares one object of the recipe format.
type ObjectSpec struct {
	Name   string
	Desc   string
	Fields []FieldSpec
}

// TypeSpec declares one field type: the JSON form of its values, the
// column Migrate creates for it and the columns it serves.
type TypeSpec struct {
	Name    string   // the name written in `type`
	JSON    string   // the JSON form of a value, in words
	Creates string   // the column type Migrate creates
	Serves  []string // the column types it serves, as information_schema.columns names them (arrays as elem[])
}

// Types are the field types, declared once: validation, Migrate's
// compatibility check and the reference come from this table. Between them
// they serve every column type that sync creates (docs/type-mapping.md).
var Types = []TypeSpec{
	{Name: TypeString, JSON: "a string (no NUL, valid UTF-8)", Creates: "text",
		Serves: []string{"text", "character varying", "character", "citext"}},
	{Name: TypeInteger, JSON: "an integer within int64 and the column's range", Creates: "bigint",
		Serves: []string{"bigint", "integer", "smallint"}},
	{Name: TypeNumber, JSON: "a number (double precision)", Creates: "double precision",
		Serves: []string{"double precision", "real", "numeric"}},
	{Name: TypeDecimal, JSON: "an exact number written with the field's scale: a JSON number, or a string with shape.decimals: string; requests may send either. " +
		"Any size up to precision digits: scale 0, precision 20 serves numeric(20,0), MySQL's bigint unsigned, up to 18446744073709551615",
		Creates: "numeric(precision,scale)", Serves: []string{"numeric"}},
	{Name: TypeBoolean, JSON: "true/false, 1/0 or \"true\"/\"false\" as shape.booleans says", Creates: "boolean",
		Serves: []string{"boolean"}},
	{Name: TypeTimestamp, JSON: "a string in shape.timestamp_format (or the field's format), in UTC; a timestamp without time zone holds the UTC wall-clock time",
		Creates: "timestamp with time zone", Serves: []string{"timestamp with time zone", "timestamp without time zone"}},
	{Name: TypeDate, JSON: "a string in shape.date_format (or the field's format)", Creates: "date",
		Serves: []string{"date"}},
	{Name: TypeUUID, JSON: "a string of 32 hex digits in 8-4-4-4-12 groups", Creates: "uuid",
		Serves: []string{"uuid"}},
	{Name: TypeJSON, JSON: "any JSON value", Creates: "jsonb",
		Serves: []string{"jsonb", "json"}},
	{Name: TypeTime, JSON: "a MySQL TIME as a string [-]HH:MM:SS, with fsp fractional digits (.ffffff) when fsp > 0, from -838:59:59 to 838:59:59; " +
		"requests may write 1 to 3 hour digits and fewer fractional digits", Creates: "interval(fsp); interval for fsp 6",
		Serves: []string{"interval"}},
	{Name: TypeBits, JSON: "a string of exactly length 0s and 1s, most significant bit first (\"10101\")", Creates: "bit(length)",
		Serves: []string{"bit"}},
	{Name: TypeBinary, JSON: "a string, the bytes in base64 (RFC 4648, with padding); requests may also use the URL-safe alphabet and omit the padding, " +
		"paths and cursors use the URL-safe alphabet", Creates: "bytea", Serves: []string{"bytea"}},
	{Name: TypeSet, JSON: "an array of distinct strings, [] for the empty set; with enum, each one a member, written in enum's order as MySQL does. " +
		"default, example and query strings write it as MySQL does, members separated by commas (empty for the empty set), or as a JSON array (\"[]\" for an empty default)",
		Creates: "text[]", Serves: []string{"text[]", "character varying[]"}},
}

// Field-type names accepted by `type` (of a field and of a query parameter).
var fieldTypes = typeNames()

func typeNames() []string {
	out := make([]string, len(Types))
	for i, t := range Types {
		out[i] = t.Name
	}
	return out
}

// typeSpec finds a field type by name.
func typeSpec(name string) *TypeSpec {
	for i := range Types {
		if Types[i].Name == name {
			return &Types[i]
		}
	}
	return nil
}

// Spec is the recipe format: the root object first, then every nested
// object in the order the reference lists them.
var Spec = []ObjectSpec{
	{Name: "recipe", Desc: "A recipe file: one service.", Fields: []FieldSpec{
		{Key: "service", Kind: KString, Required: true, Desc: "Name of the service; used in metrics, events and the outbox.", Example: "orders",
			Rule: "letters, digits, '-' and '_', starting with a letter"},
		{Key: "title", Kind: KString, Desc: "Title of the OpenAPI document.", Default: "", Example: "Orders API"},
		{Key: "version", Kind: KString, Desc: "Version of the API, written into the OpenAPI document.", Default: "1.0.0", Example: "2.3.0"},
		{Key: "base_path", Kind: KString, Desc: "Prefix of every endpoint path.", Default: "", Example: "/api",
			Rule: "empty or starts with '/' and does not end with '/'"},
		{Key: "max_body", Kind: KInt, Desc: "Largest request body accepted, in bytes; larger bodies get 413.", Default: "1048576", Example: "65536",
			Rule: "at least 1"},
		{Key: "shape", Kind: KObject, Object: "shape", Desc: "How answers are written (envelope, names, formats)."},
		{Key: "events", Kind: KObject, Object: "events", Desc: "Where domain events are delivered."},
		{Key: "resources", Kind: KObjectList, Object: "resource", Required: true, Desc: "The tables the service serves.",
			Rule: "at least one; names unique"},
		{Key: "endpoints", Kind: KObjectList, Object: "endpoint", Required: true, Desc: "The routes of the service.",
			Rule: "at least one; no two with the same method and path"},
		{Key: "subscriptions", Kind: KObjectList, Object: "subscription", Desc: "Events of other services the service acts on: a statement per event, once per event id.",
			Rule: "names unique"},
	}},
	{Name: "shape", Desc: "The JSON shape of answers, chosen to reproduce a legacy API.", Fields: []FieldSpec{
		{Key: "envelope", Kind: KString, Desc: "`data` wraps answers as {\"data\": ..., \"meta\": {...}}; `bare` writes the object or array alone.",
			Default: "data", Enum: []string{"data", "bare"}},
		{Key: "data_key", Kind: KString, Desc: "Name of the data member of the envelope.", Default: "data", Example: "items"},
		{Key: "meta_key", Kind: KString, Desc: "Name of the meta member of the envelope (lists only).", Default: "meta", Example: "pagination"},
		{Key: "meta", Kind: KStrings, Desc: "Members of meta in lists: total, limit, offset, next_cursor (renamed by casing).", Default: "[total, limit, offset]",
			Rule: "each one of total, limit, offset, next_cursor; total/offset need offset pagination, next_cursor cursor pagination"},
		{Key: "casing", Kind: KString, Desc: "How field names are written in JSON, unless a field sets `json`.", Default: "snake",
			Enum: []string{"snake", "camel", "pascal", "kebab", "as_is"}},
		{Key: "nulls", Kind: KString, Desc: "`null` writes a null field as null; `omit` leaves it out.", Default: "null", Enum: []string{"null", "omit"}},
		{Key: "decimals", Kind: KString, Desc: "`string` writes decimals as \"12.50\"; `number` as 12.50 (always with the field's scale).",
			Default: "number", Enum: []string{"number", "string"}},
		{Key: "timestamp_format", Kind: KString, Desc: "Go time layout of timestamps, or `rfc3339`; requests accept it and RFC 3339.",
			Default: "rfc3339", Example: "2006-01-02 15:04:05"},
		{Key: "date_format", Kind: KString, Desc: "Go time layout of dates.", Default: "2006-01-02", Example: "02/01/2006"},
		{Key: "booleans", Kind: KString, Desc: "`bool` writes true/false, `int` 1/0, `string` \"true\"/\"false\"; requests accept the same.",
			Default: "bool", Enum: []string{"bool", "int", "string"}},
		{Key: "pagination", Kind: KString, Desc: "`offset`: ?offset=&limit= with a total; `cursor`: ?cursor=&limit= in key order with next_cursor.",
			Default: "offset", Enum: []string{"offset", "cursor"}},
		{Key: "default_limit", Kind: KInt, Desc: "Page size when ?limit= is absent.", Default: "20", Rule: "between 1 and max_limit"},
		{Key: "max_limit", Kind: KInt, Desc: "Largest ?limit= accepted; a larger one gets 400.", Default: "100", Rule: "at least 1"},
	}},
	{Name: "events", Desc: "Delivery of domain events from the outbox: at least once, in order per key, with an id for idempotent consumers.", Fields: []FieldSpec{
		{Key: "webhook", Kind: KString, Desc: "URL each event is POSTed to (header Idempotency-Key: event id).", Default: "", Example: "http://127.0.0.1:9200/events",
			Rule: "an http or https URL"},
		{Key: "nats_url", Kind: KString, Desc: "NATS server whose JetStream receives the events (Nats-Msg-Id: event id).", Default: "", Example: "nats://127.0.0.1:4222"},
		{Key: "nats_subject", Kind: KString, Desc: "Subject events are published to; `{type}` is replaced by the event type.", Default: "", Example: "shop.orders.{type}",
			Rule: "required with nats_url; the stream that captures it must exist"},
		{Key: "backoff", Kind: KString, Desc: "First retry delay after a failed delivery; doubles per attempt.", Default: "500ms", Example: "1s",
			Rule: "a Go duration, more than 0"},
		{Key: "max_backoff", Kind: KString, Desc: "Longest retry delay.", Default: "30s", Example: "1m", Rule: "a Go duration, at least backoff"},
		{Key: "timeout", Kind: KString, Desc: "Time allowed for one delivery attempt.", Default: "5s", Example: "2s", Rule: "a Go duration, more than 0"},
		{Key: "retention", Kind: KString, Desc: "How long a delivered event stays in the outbox (for audit and replay) before the dispatcher deletes it; `0s` keeps delivered events for ever.", Default: "168h", Example: "24h",
			Rule: "a Go duration, 0 or more"},
	}},
	{Name: "resource", Desc: "A PostgreSQL table served as a REST resource.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the resource; endpoints and relations refer to it.", Example: "order",
			Rule: "an identifier; unique in the recipe"},
		{Key: "table", Kind: KString, Desc: "The PostgreSQL table.", Default: "the resource name", Derived: true, Example: "orders"},
		{Key: "schema", Kind: KString, Desc: "The PostgreSQL schema of the table.", Default: "public", Example: "shop"},
		{Key: "key", Kind: KNames, Desc: "The field that identifies a row, or a list of the fields of a composite key (the table's primary key, in order); " +
			"path parameters of get/replace/patch/delete bind to them, one per field, and lists are in key order.", Default: "id", Example: "[book_id, tag]",
			Rule: "names fields, each once; relations of kind one cannot point at a composite-key resource, nor kind many leave one"},
		{Key: "fields", Kind: KObjectList, Object: "field", Required: true, Desc: "The columns served.", Rule: "at least one; names unique"},
		{Key: "relations", Kind: KObjectList, Object: "relation", Desc: "References to other resources that endpoints may embed."},
		{Key: "rules", Kind: KObjectList, Object: "rule", Desc: "Validation rules over several fields, in the expr language (expr-lang.org); a broken rule gets 422."},
	}},
	{Name: "field", Desc: "A column of a resource.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the field.", Example: "customer_id", Rule: "an identifier; unique in the resource"},
		{Key: "column", Kind: KString, Desc: "The column.", Default: "the field name", Derived: true, Example: "cust_id"},
		{Key: "json", Kind: KString, Desc: "Name in JSON, overriding shape.casing.", Default: "the field name in shape.casing", Derived: true, Example: "customerId"},
		{Key: "type", Kind: KString, Required: true, Desc: "Type of the field: its JSON form and the columns it serves are in the table of field types.", Enum: fieldTypes},
		{Key: "nullable", Kind: KBool, Desc: "The field may be null.", Default: "false"},
		{Key: "default", Kind: KString, Desc: "Value used when a create or replace omits the field; `now` for the current time.", Default: "", Example: "new",
			Rule: "a valid value of the field's type and rules"},
		{Key: "example", Kind: KString, Desc: "Value the OpenAPI document shows as the field's example, written like `default`. Without it the example is derived: " +
			"the default; for a field holding a related key, that key's example; the first enum member; a string built from pattern, trying a few lengths " +
			"within min_length and max_length; a number within minimum and maximum, at the field's scale; a fixed instant in the field's layout; a fixed value of a time, bits, binary or set field (a set's first enum members).",
			Default: "derived from the field's default, type and rules", Derived: true, Example: "ABC-0001",
			Rule: "a valid value of the field's type and rules; required when no derived value passes them (a pattern no generated string matches)"},
		{Key: "generated", Kind: KBool, Desc: "The database generates the value (identity for integers, gen_random_uuid() for uuids); read-only.", Default: "false",
			Rule: "only on integer and uuid fields"},
		{Key: "unique", Kind: KBool, Desc: "No two rows share a value; a duplicate gets 409.", Default: "false"},
		{Key: "read_only", Kind: KBool, Desc: "Written by the service, never accepted in a request body.", Default: "false"},
		{Key: "write_only", Kind: KBool, Desc: "Accepted in request bodies, never written in answers.", Default: "false", Rule: "not with read_only; not on the key"},
		{Key: "enum", Kind: KStrings, Desc: "The allowed values; of a set field, the allowed members, in the order sets are written.", Default: "[]", Example: "[new, paid, shipped]",
			Rule: "string and set fields only; members of a set distinct and without commas"},
		{Key: "min_length", Kind: KInt, Desc: "Shortest string accepted, in characters.", Example: "1", Rule: "string fields; at least 0"},
		{Key: "max_length", Kind: KInt, Desc: "Longest string accepted, in characters.", Example: "200", Rule: "string fields; at least min_length"},
		{Key: "minimum", Kind: KNumber, Desc: "Smallest value accepted.", Example: "0", Rule: "integer, number and decimal fields"},
		{Key: "maximum", Kind: KNumber, Desc: "Largest value accepted.", Example: "100000", Rule: "integer, number and decimal fields; at least minimum"},
		{Key: "pattern", Kind: KString, Desc: "Regular expression (RE2) a string must match.", Example: "^[A-Z]{2}-[0-9]+$", Rule: "compiles; string fields"},
		{Key: "scale", Kind: KInt, Desc: "Digits after the decimal point of a decimal, in storage and in JSON.", Default: "2", Rule: "decimal fields; 0 to 12"},
		{Key: "precision", Kind: KInt, Desc: "Total digits of a decimal in storage.", Default: "18", Rule: "decimal fields; more than scale, at most 38"},
		{Key: "format", Kind: KString, Desc: "Time layout overriding shape.timestamp_format or shape.date_format for this field.", Default: "",
			Example: "2006-01-02T15:04:05Z07:00", Rule: "timestamp and date fields"},
		{Key: "length", Kind: KInt, Desc: "Number of bits of a bits field: the column is bit(length) and every value has exactly that many.", Example: "8",
			Rule: "bits fields, where it is required; 1 to 83886080"},
		{Key: "fsp", Kind: KInt, Desc: "Fractional second digits of a time field, as MySQL's time(fsp): in storage (interval(fsp)) and in JSON.", Default: "0",
			Rule: "time fields; 0 to 6"},
		{Key: "doc", Kind: KString, Desc: "Description written into the OpenAPI schema.", Default: ""},
	}},
	{Name: "relation", Desc: "A link to another resource, through a field holding a key.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the relation; `embed` refers to it.", Example: "customer", Rule: "an identifier; not a field name"},
		{Key: "resource", Kind: KString, Required: true, Desc: "The related resource.", Example: "customer", Rule: "names a resource"},
		{Key: "field", Kind: KString, Required: true, Desc: "For kind one, this resource's field holding the related key; for kind many, the related resource's field holding this resource's key.", Example: "customer_id",
			Rule: "names a field (of this resource for one, of the related one for many) of the same type as the key it holds"},
		{Key: "kind", Kind: KString, Desc: "`one` embeds the related object (or null); `many` embeds the list of related rows, in key order.", Default: "one",
			Enum: []string{"one", "many"}},
		{Key: "json", Kind: KString, Desc: "Name of the embedded object in JSON.", Default: "the relation name in shape.casing", Derived: true, Example: "buyer"},
	}},
	{Name: "rule", Desc: "An expr-lang expression over `self`, the row being written (a map of field name to value).", Fields: []FieldSpec{
		{Key: "expr", Kind: KString, Required: true, Desc: "The expression; it must evaluate to true for the write to pass.",
			Example: "self.status != 'shipped' || self.total > 0", Rule: "compiles to a boolean at load time; names only fields of the resource"},
		{Key: "field", Kind: KString, Desc: "The field named in the 422 error.", Default: "", Example: "total", Rule: "names a field"},
		{Key: "message", Kind: KString, Desc: "The message of the 422 error.", Default: "the expression", Derived: true, Example: "a shipped order has a total"},
	}},
	{Name: "endpoint", Desc: "A method and path template mapped to an action.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Desc: "Name used in metrics and as the OpenAPI operationId.", Default: "action + resource", Derived: true, Example: "listOrders",
			Rule: "unique in the recipe"},
		{Key: "method", Kind: KString, Required: true, Desc: "HTTP method.", Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
			Rule: "GET for list, get and query; POST for create; PUT for replace; PATCH for patch; DELETE for delete"},
		{Key: "path", Kind: KString, Required: true, Desc: "Path template after base_path, with {parameters}.", Example: "/orders/{id}",
			Rule: "starts with '/'; each parameter names a field (the key for get/replace/patch/delete) or a query parameter"},
		{Key: "resource", Kind: KString, Desc: "The resource acted on.", Example: "order", Rule: "names a resource; required unless action is query"},
		{Key: "action", Kind: KString, Required: true, Desc: "What the endpoint does.",
			Enum: []string{ActionList, ActionGet, ActionCreate, ActionReplace, ActionPatch, ActionDelete, ActionQuery}},
		{Key: "filters", Kind: KStrings, Desc: "Fields a list may be filtered on: ?status=paid, ?total[gte]=10 (eq, ne, gt, gte, lt, lte).", Default: "[]",
			Example: "[status, total]", Rule: "list only; each names a field that is not write-only"},
		{Key: "sort", Kind: KStrings, Desc: "Fields a list may be sorted on: ?sort=-total,id (offset pagination only).", Default: "[]", Example: "[placed_at, total]",
			Rule: "list only; each names a field that is not write-only"},
		{Key: "embed", Kind: KStrings, Desc: "Relations whose objects are nested in the answer.", Default: "[]", Example: "[customer]",
			Rule: "list, get, create, replace, patch; each names a relation of the resource"},
		{Key: "event", Kind: KString, Desc: "Domain event written to the outbox in the write's transaction.", Default: "", Example: "OrderPlaced",
			Rule: "create, replace, patch and delete only; an identifier"},
		{Key: "query", Kind: KObject, Object: "query", Desc: "The named query of a query endpoint.", Rule: "required for, and only for, action query"},
		{Key: "doc", Kind: KString, Desc: "Summary written into the OpenAPI operation.", Default: ""},
	}},
	{Name: "query", Desc: "A named read-only SQL query; it runs in a READ ONLY transaction.", Fields: []FieldSpec{
		{Key: "sql", Kind: KString, Required: true, Desc: "The SQL text; :name marks a parameter, always bound, never concatenated.",
			Example: "select status, count(*) as n from orders where customer_id = :customer group by status",
			Rule:    "each :name is a declared parameter"},
		{Key: "params", Kind: KObjectList, Object: "param", Desc: "Its typed parameters, read from the path or the query string."},
		{Key: "single", Kind: KBool, Desc: "The query returns one row, answered as an object (404 when none).", Default: "false"},
	}},
	{Name: "param", Desc: "A parameter of a named query.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the parameter in the SQL (:name), the path or the query string.", Example: "customer",
			Rule: "an identifier; unique in the query"},
		{Key: "type", Kind: KString, Required: true, Desc: "Type of the parameter.", Enum: fieldTypes},
		{Key: "required", Kind: KBool, Desc: "A request without it gets 400 (path parameters are always required).", Default: "false"},
		{Key: "default", Kind: KString, Desc: "Value used when the request omits it; without one the parameter is NULL.", Default: "", Example: "paid"},
	}},
	{Name: "subscription", Desc: "A durable JetStream consumer that runs a statement per event, in one transaction with a record of the event's id, " +
		"so that an event delivered twice is applied once; a failed event is retried with backoff and, after max_deliver attempts " +
		"or when it cannot be applied at all, published to the dead-letter subject.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the subscription, in metrics and the processed-events table.", Example: "decrementStock",
			Rule: "an identifier; unique in the recipe"},
		{Key: "nats_url", Kind: KString, Required: true, Desc: "NATS server with JetStream.", Example: "nats://127.0.0.1:4222"},
		{Key: "stream", Kind: KString, Required: true, Desc: "The stream that holds the events.", Example: "SHOP",
			Rule: "an existing stream capturing subject"},
		{Key: "subject", Kind: KString, Required: true, Desc: "The subject consumed (wildcards allowed).", Example: "shop.orders.OrderPlaced"},
		{Key: "durable", Kind: KString, Desc: "Name of the durable consumer; it remembers what was acknowledged across restarts.",
			Default: "strangler-SERVICE-NAME", Derived: true, Example: "inventory-orders", Rule: "letters, digits, '-' and '_'"},
		{Key: "sql", Kind: KString, Required: true, Desc: "The statement run per event; :name marks a parameter, always bound, never concatenated.",
			Example: "update stock set quantity = quantity - :quantity where product_id = :product",
			Rule:    "each :name is a declared parameter"},
		{Key: "params", Kind: KObjectList, Object: "event_param", Desc: "Its typed parameters, read from the event."},
		{Key: "max_deliver", Kind: KInt, Desc: "Attempts before a failing event goes to the dead-letter subject.", Default: "5", Rule: "at least 1"},
		{Key: "backoff", Kind: KString, Desc: "Wait before the second attempt; it doubles per attempt, up to one minute.", Default: "1s", Example: "500ms",
			Rule: "a Go duration, more than 0"},
		{Key: "dead_letter", Kind: KString, Desc: "Subject failed events are published to, with headers saying why; a stream should capture it.",
			Default: "strangler.dead.SERVICE.NAME", Derived: true, Example: "shop.dead.inventory"},
	}},
	{Name: "event_param", Desc: "A parameter of a subscription's statement.", Fields: []FieldSpec{
		{Key: "name", Kind: KString, Required: true, Desc: "Name of the parameter in the SQL (:name).", Example: "quantity",
			Rule: "an identifier; unique in the subscription"},
		{Key: "from", Kind: KString, Desc: "Where in the event the value is: id, type, key, service, occurred_at, or data.FIELD (nested with dots); " +
			"an object or array is bound as its JSON text.", Default: "data.NAME", Derived: true, Example: "data.items"},
		{Key: "type", Kind: KString, Required: true, Desc: "Type of the parameter, read as the service's shape writes it.", Enum: fieldTypes},
		{Key: "required", Kind: KBool, Desc: "An event without it goes to the dead-letter subject; without required it is NULL.", Default: "false"},
	}},
}

// specByName finds an object spec by name.
func specByName(name string) *ObjectSpec {
	for i := range Spec {
		if Spec[i].Name == name {
			return &Spec[i]
		}
	}
	return nil
}
