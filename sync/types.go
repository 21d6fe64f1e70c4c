package sync

import (
	"fmt"
	"strconv"
	"strings"
)

// kind is how values of one column are converted; it is chosen once per
// column from the column's definition, never guessed from values.
type kind uint8

const (
	kindInt       kind = iota + 1 // signed integer of any width -> smallint/integer/bigint
	kindUint                      // unsigned integer: binlog values are reinterpreted unsigned
	kindBool                      // tinyint(1) -> boolean; values other than 0/1 are errors
	kindDecimal                   // decimal(p,s) -> numeric(p,s)
	kindFloat                     // float -> real
	kindDouble                    // double -> double precision
	kindBitBool                   // bit(1) -> boolean
	kindBit                       // bit(n), n > 1 -> bit(n)
	kindDate                      // date -> date
	kindDatetime                  // datetime(fsp) -> timestamp(fsp)
	kindTimestamp                 // timestamp(fsp) -> timestamptz(fsp)
	kindTime                      // time(fsp) -> interval
	kindYear                      // year -> smallint
	kindText                      // char/varchar/text -> varchar(n)/text
	kindBinary                    // binary/varbinary/blob -> bytea
	kindEnum                      // enum -> text with a CHECK of the members
	kindSet                       // set -> text[]
	kindJSON                      // json -> jsonb
)

var kindNames = map[kind]string{kindInt: "int", kindUint: "uint", kindBool: "bool", kindDecimal: "decimal",
	kindFloat: "float", kindDouble: "double", kindBitBool: "bit1", kindBit: "bit", kindDate: "date",
	kindDatetime: "datetime", kindTimestamp: "timestamp", kindTime: "time", kindYear: "year", kindText: "text",
	kindBinary: "binary", kindEnum: "enum", kindSet: "set", kindJSON: "json"}

// String names the kind, for errors and logs.
func (k kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// spatialTypes are MySQL's geometry types; they are refused unless excluded.
var spatialTypes = map[string]bool{"geometry": true, "point": true, "linestring": true, "polygon": true,
	"multipoint": true, "multilinestring": true, "multipolygon": true, "geometrycollection": true,
	"geomcollection": true}

// SourceColumn is one column of a source table as information_schema
// describes it: a row of information_schema.COLUMNS, plus what ReadColumns
// learns elsewhere (MariaDB's JSON is a longtext with a json_valid CHECK).
// ReadColumns fills it from a server; code that already holds these values
// (a dump, a test) may build one by hand.
type SourceColumn struct {
	// Name is COLUMN_NAME, as the source spells it.
	Name string
	// ColumnType is COLUMN_TYPE, the full declaration: "bigint(20) unsigned",
	// "enum('a','b')", "varchar(40)". Unsigned and enum/set members are read
	// from it.
	ColumnType string
	// DataType is DATA_TYPE, the type name alone: "bigint", "enum",
	// "varchar". Any case.
	DataType string
	// Nullable is IS_NULLABLE = 'YES'.
	Nullable bool
	// Charset is CHARACTER_SET_NAME; "" for non-text columns.
	Charset string
	// CharLen is CHARACTER_MAXIMUM_LENGTH, in characters; 0 for non-text
	// columns (and for char(0)).
	CharLen int64
	// Precision is NUMERIC_PRECISION: digits of a decimal, bits of a bit(n);
	// 0 when not numeric.
	Precision int
	// Scale is NUMERIC_SCALE: digits after the point of a decimal.
	Scale int
	// FSP is DATETIME_PRECISION: fractional second digits (0 to 6) of
	// datetime, timestamp and time columns.
	FSP int
	// Generated is a VIRTUAL or STORED generated column (EXTRA says
	// GENERATED); such columns are mapped but not copied.
	Generated bool
	// JSON is a MariaDB longtext with CHECK (json_valid(col)), mapped like
	// MySQL's json.
	JSON bool
}

// MapColumn is the one type mapper of strangler: it chooses the PostgreSQL
// type of one source column and how its values are converted, as
// LoadTableMap does for every column of a table and `strangler extract`
// does for the tables it writes recipes for. override is the column's
// tables[].types entry ("" for none). p are the pipeline's policies (zero
// values take the defaults): under zero_dates null a NOT NULL date,
// datetime or timestamp column maps to a nullable target column.
//
// The result's Target is the source name (renames are the table's
// business), Skip is set for generated columns, and Kind names the
// conversion. Columns excluded from sync are never mapped: an unsupported
// type is an error naming the table and column, as LoadTableMap refuses it.
func MapColumn(table string, c SourceColumn, override string, p Policies) (Column, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return Column{}, fmt.Errorf("table %s: column %s: %w", table, c.Name, err)
	}
	out, err := mapType(table, c, override)
	if err != nil {
		return Column{}, err
	}
	if out.Generated {
		out.Skip = true
	}
	if !out.Skip && !out.Nullable && p.ZeroDates == ZeroDatesNull && out.kind.isDate() {
		out.Nullable, out.zeroNull = true, true
	}
	if err := out.prepare(); err != nil {
		return Column{}, fmt.Errorf("table %s: column %s: %w", table, c.Name, err)
	}
	return out, nil
}

// isDate reports whether the kind holds dates, which MySQL may hold as
// zero dates.
func (k kind) isDate() bool { return k == kindDate || k == kindDatetime || k == kindTimestamp }

// Kind names how the column's values are converted, one of:
//
//	int        signed integer -> smallint, integer or bigint (tinyint(1) with an integer override too)
//	uint       unsigned integer -> a wider integer, numeric(20,0) for bigint unsigned
//	bool       tinyint(1) -> boolean
//	decimal    decimal(p,s) -> numeric(p,s)
//	float      float -> real
//	double     double -> double precision
//	bit1       bit(1) -> boolean
//	bit        bit(n), n > 1 -> bit(n); with an integer override (bit(1) too) the number
//	date       date -> date
//	datetime   datetime(fsp) -> timestamp(fsp) without time zone
//	timestamp  timestamp(fsp) -> timestamp(fsp) with time zone
//	time       time(fsp) -> interval (interval(fsp) for fsp < 6)
//	year       year -> smallint
//	text       char, varchar, *text -> varchar(n) or text
//	binary     binary, varbinary, *blob (and char with charset binary) -> bytea
//	enum       enum(...) -> text with a CHECK of the members (Values)
//	set        set(...) -> text[] (members in Values)
//	json       json (and MariaDB's json_valid longtext) -> jsonb
//
// TargetType says the PostgreSQL type, an override included; Kind says
// what the values are. It is "" for a column that was not mapped (one
// excluded with tables[].exclude).
func (c Column) Kind() string {
	if c.kind == 0 {
		return ""
	}
	return c.kind.String()
}

// mapType chooses the target type and the conversion of one column. The
// error names the table and column.
func mapType(table string, ci SourceColumn, override string) (Column, error) {
	dt := strings.ToLower(ci.DataType)
	ct := strings.ToLower(ci.ColumnType)
	c := Column{
		Name: ci.Name, Target: ci.Name, SourceType: ci.ColumnType, DataType: dt,
		Nullable: ci.Nullable, Unsigned: strings.Contains(ct, "unsigned"), Charset: strings.ToLower(ci.Charset),
		Precision: ci.Precision, Scale: ci.Scale, FSP: ci.FSP, Length: ci.CharLen, Generated: ci.Generated,
	}
	fail := func(format string, args ...any) (Column, error) {
		return Column{}, fmt.Errorf("table %s: column %s: %s", table, ci.Name, fmt.Sprintf(format, args...))
	}
	switch dt {
	case "tinyint":
		if ct == "tinyint(1)" || ct == "tinyint(1) unsigned" {
			c.kind, c.TargetType = kindBool, "boolean"
		} else {
			c.kind, c.TargetType = kindInt, "smallint"
		}
	case "smallint":
		c.kind, c.TargetType = kindInt, "smallint"
		if c.Unsigned {
			c.TargetType = "integer"
		}
	case "mediumint":
		c.kind, c.TargetType = kindInt, "integer"
	case "int", "integer":
		c.kind, c.TargetType = kindInt, "integer"
		if c.Unsigned {
			c.TargetType = "bigint"
		}
	case "bigint":
		c.kind, c.TargetType = kindInt, "bigint"
		if c.Unsigned {
			c.TargetType = "numeric(20,0)"
		}
	case "decimal", "numeric", "fixed":
		c.kind, c.TargetType = kindDecimal, fmt.Sprintf("numeric(%d,%d)", ci.Precision, ci.Scale)
	case "float":
		c.kind, c.TargetType = kindFloat, "real"
	case "double", "real", "double precision":
		c.kind, c.TargetType = kindDouble, "double precision"
	case "bit":
		n := ci.Precision
		if n <= 0 {
			n = parenInt(ct, 1)
		}
		c.Length = int64(n)
		if n == 1 {
			c.kind, c.TargetType = kindBitBool, "boolean"
		} else {
			c.kind, c.TargetType = kindBit, fmt.Sprintf("bit(%d)", n)
		}
	case "date":
		c.kind, c.TargetType = kindDate, "date"
	case "datetime":
		c.kind, c.TargetType = kindDatetime, fmt.Sprintf("timestamp(%d) without time zone", ci.FSP)
	case "timestamp":
		c.kind, c.TargetType = kindTimestamp, fmt.Sprintf("timestamp(%d) with time zone", ci.FSP)
	case "time":
		c.kind, c.TargetType = kindTime, "interval"
		if ci.FSP < 6 {
			c.TargetType = fmt.Sprintf("interval(%d)", ci.FSP)
		}
	case "year":
		c.kind, c.TargetType = kindYear, "smallint"
	case "char", "varchar":
		c.kind, c.TargetType = kindText, fmt.Sprintf("varchar(%d)", ci.CharLen)
		if ci.CharLen < 1 {
			c.TargetType = "text" // char(0)/varchar(0): PostgreSQL has no varchar(0)
		}
		if c.Charset == "binary" {
			c.kind, c.TargetType = kindBinary, "bytea"
		}
	case "tinytext", "text", "mediumtext", "longtext":
		c.kind, c.TargetType = kindText, "text"
		if ci.JSON {
			c.kind, c.TargetType = kindJSON, "jsonb"
		}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		c.kind, c.TargetType = kindBinary, "bytea"
	case "enum", "set":
		vals, err := parseMembers(ci.ColumnType)
		if err != nil {
			return fail("reading the members of %s: %v", ci.ColumnType, err)
		}
		c.Values = vals
		if dt == "enum" {
			c.kind, c.TargetType = kindEnum, "text"
		} else {
			c.kind, c.TargetType = kindSet, "text[]"
		}
	case "json":
		c.kind, c.TargetType = kindJSON, "jsonb"
	default:
		if spatialTypes[dt] {
			return fail("spatial type %s is not supported; exclude it with tables[].exclude", dt)
		}
		return fail("type %s is not supported; exclude it with tables[].exclude", ci.ColumnType)
	}
	if c.kind == kindText && c.Charset != "" {
		if _, err := charsetDecoder(c.Charset); err != nil {
			return fail("%v", err)
		}
	}
	if override != "" {
		if err := applyOverride(&c, override); err != nil {
			return fail("types override %q: %v", override, err)
		}
	}
	if c.kind == kindInt && c.Unsigned {
		c.kind = kindUint
	}
	c.intMin, c.intMax, _ = targetIntRange(c.TargetType)
	return c, nil
}

// applyOverride replaces the target type. Integer targets turn boolean
// mappings (tinyint(1), bit(1)) back into integers; other overrides keep
// the conversion and change only the declared type (for example json ->
// text, enum -> a PostgreSQL enum type the user created, set -> text).
func applyOverride(c *Column, override string) error {
	o := strings.ToLower(strings.TrimSpace(override))
	if o == "" || strings.ContainsAny(o, ";") {
		return fmt.Errorf("not a type name")
	}
	c.TargetType = o
	c.Overridden = true
	if _, _, ok := targetIntRange(o); ok {
		switch c.kind {
		case kindBool, kindBitBool, kindInt, kindUint, kindYear:
			if c.kind == kindBitBool {
				c.kind = kindBit
				c.bitAsInt = true
			} else if c.kind != kindYear {
				c.kind = kindInt
			}
			return nil
		}
	}
	return nil
}

// targetIntRange is the range of the integer PostgreSQL types; ok is false
// for other types (numeric(20,0) holds every MySQL integer).
func targetIntRange(t string) (lo, hi int64, ok bool) {
	switch t {
	case "smallint", "int2":
		return -1 << 15, 1<<15 - 1, true
	case "integer", "int", "int4":
		return -1 << 31, 1<<31 - 1, true
	case "bigint", "int8":
		return -1 << 63, 1<<63 - 1, true
	}
	return 0, 0, false
}

// parenInt reads the first integer in parentheses of a column type, or def.
func parenInt(ct string, def int) int {
	i := strings.IndexByte(ct, '(')
	j := strings.IndexByte(ct, ')')
	if i < 0 || j < i {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(ct[i+1 : j]))
	if err != nil {
		return def
	}
	return n
}

// parseMembers reads the members of an enum or set COLUMN_TYPE such as
//
//	enum('a','it''s','b\\c')
//
// Quotes inside members are doubled; MySQL shows backslashes as they are.
func parseMembers(ct string) ([]string, error) {
	i := strings.IndexByte(ct, '(')
	if i < 0 || !strings.HasSuffix(ct, ")") {
		return nil, fmt.Errorf("no member list")
	}
	s := ct[i+1 : len(ct)-1]
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, fmt.Errorf("member does not start with a quote at %q", s)
		}
		var b strings.Builder
		j := 1
		for {
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated member")
			}
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j += 2
					continue
				}
				j++
				break
			}
			b.WriteByte(s[j])
			j++
		}
		out = append(out, b.String())
		s = s[j:]
		if len(s) > 0 {
			if s[0] != ',' {
				return nil, fmt.Errorf("expected a comma at %q", s)
			}
			s = s[1:]
		}
	}
	return out, nil
}
