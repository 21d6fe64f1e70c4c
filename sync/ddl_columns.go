package sync

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// clone copies a map deeply enough for DDL to change its columns.
func (m *TableMap) clone() *TableMap {
	n := *m
	n.Columns = slices.Clone(m.Columns)
	for i := range n.Columns {
		n.Columns[i].Values = slices.Clone(n.Columns[i].Values)
	}
	n.Key = slices.Clone(m.Key)
	n.Notes = slices.Clone(m.Notes)
	n.copied = slices.Clone(m.copied)
	return &n
}

// reindex recomputes Copied after columns moved (the key is kept by name).
func (m *TableMap) reindex() error {
	m.copied = m.copied[:0]
	for i, c := range m.Columns {
		if !c.Skip {
			m.copied = append(m.copied, i)
		}
	}
	return nil
}

func (m *TableMap) columnIndex(name string) int {
	for i, c := range m.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// defaultCharset is the charset given to text columns added without one:
// that of the table's existing text columns, else utf8mb4.
func (m *TableMap) defaultCharset() string {
	for _, c := range m.Columns {
		if c.Charset != "" && c.Charset != "binary" {
			return c.Charset
		}
	}
	return "utf8mb4"
}

// addColumn reads one column definition of ADD COLUMN and adds it to m.
func addColumn(m *TableMap, tbl string, p *tokens) (apply []string, note, why string) {
	name := p.next()
	if !name.ident() {
		return nil, "", "ADD COLUMN without a column name"
	}
	if m.columnIndex(name.text) >= 0 {
		return nil, "", "column " + name.text + " exists already"
	}
	d, err := readColumnDef(name.text, p)
	if err != nil {
		return nil, "", err.Error()
	}
	if d.ci.Charset == "" && isTextType(d.ci.DataType) {
		d.ci.Charset = m.defaultCharset()
	}
	c, err := MapColumn(m.Name, d.ci, "", m.policies)
	if err != nil {
		return nil, "", err.Error()
	}
	// Insert at the position the statement names: binlog rows follow it.
	at := len(m.Columns)
	switch d.position {
	case "FIRST":
		at = 0
	case "":
	default:
		i := m.columnIndex(d.position)
		if i < 0 {
			return nil, "", "AFTER names an unknown column " + d.position
		}
		at = i + 1
	}
	m.Columns = slices.Insert(m.Columns, at, c)
	for k := range m.Key {
		if m.Key[k] >= at {
			m.Key[k]++
		}
	}
	if c.Skip {
		return nil, "generated column " + c.Name + " added, not copied", ""
	}
	def := ""
	switch {
	case d.defExpr:
		return nil, "", "column " + c.Name + " is added with a default expression, which gives existing rows different values on each side"
	case d.defLiteral != nil:
		lit, err := literalSQL(c, d.defLiteral.text, m.policies)
		if err != nil {
			return nil, "", fmt.Sprintf("column %s: default %q: %v", c.Name, d.defLiteral.text, err)
		}
		def = " DEFAULT " + lit
	case !c.Nullable:
		lit, err := implicitDefault(c)
		if err != nil {
			return nil, "", fmt.Sprintf("column %s: %v", c.Name, err)
		}
		def = " DEFAULT " + lit
	}
	s := fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s%s", tbl, c.columnDef(), def)
	if chk := c.checkSQL(m.Target); chk != "" {
		s += ", ADD " + chk
	}
	return []string{s}, "column " + c.Name + " " + c.TargetType + " added", ""
}

func isTextType(dt string) bool {
	switch dt {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return true
	}
	return false
}

// modifyColumn handles MODIFY and CHANGE of column old (renamed to name).
func modifyColumn(m *TableMap, tbl, old, name string, p *tokens) (apply []string, note, why string) {
	i := m.columnIndex(old)
	if i < 0 {
		return nil, "", "column " + old + " is not in the synced table"
	}
	if !strings.EqualFold(old, name) {
		return nil, "", "column " + old + " is renamed to " + name
	}
	d, err := readColumnDef(name, p)
	if err != nil {
		return nil, "", err.Error()
	}
	if d.position != "" {
		return nil, "", "column " + old + " moves, which changes the binlog column order"
	}
	oc := m.Columns[i]
	if d.ci.Charset == "" && isTextType(d.ci.DataType) {
		d.ci.Charset = oc.Charset
		if d.ci.Charset == "" {
			d.ci.Charset = m.defaultCharset()
		}
	}
	if oc.Skip {
		if d.ci.Generated || oc.Excluded {
			return nil, "column " + old + " is not copied", ""
		}
		return nil, "", "generated column " + old + " becomes a stored column"
	}
	if d.ci.Generated {
		return nil, "", "column " + old + " becomes generated"
	}
	if oc.Overridden {
		return nil, "", "column " + old + " has a type override in the pipeline config"
	}
	nc, err := MapColumn(m.Name, d.ci, "", m.policies)
	if err != nil {
		return nil, "", err.Error()
	}
	nc.Target = oc.Target
	switch {
	case slices.Contains(m.Key, i):
		nc.Nullable = false // a key column stays NOT NULL, zero-date policy or not
	case !nc.Nullable && oc.Nullable:
		// NULL -> NOT NULL narrows: the target keeps accepting NULL,
		// which is harmless since the source sends none any more.
		nc.Nullable = true
	}
	if why := widens(oc, nc); why != "" {
		return nil, "", fmt.Sprintf("column %s changes from %s to %s, which %s", old, oc.SourceType, nc.SourceType, why)
	}
	if nc.kind == kindEnum {
		// Enum members keep their text; the CHECK grows.
		drop := "DROP CONSTRAINT IF EXISTS " + oc.checkName(m.Target)
		if legacy := oc.legacyCheckName(m.Target); legacy != "" {
			drop += ", DROP CONSTRAINT IF EXISTS " + legacy
		}
		apply = append(apply, fmt.Sprintf("ALTER TABLE %s %s, ADD %s", tbl, drop, nc.checkSQL(m.Target)))
	}
	if nc.TargetType != oc.TargetType {
		apply = append(apply, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", tbl, pgIdent(nc.Target), nc.TargetType))
	}
	if nc.Nullable && !oc.Nullable {
		apply = append(apply, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", tbl, pgIdent(nc.Target)))
	}
	m.Columns[i] = nc
	return apply, "column " + old + " widened to " + nc.SourceType, ""
}

// widens says why the change from o to n loses values ("" when every
// value of o is a value of n with the same text).
func widens(o, n Column) string {
	same := func(ks ...kind) bool { return slices.Contains(ks, o.kind) && slices.Contains(ks, n.kind) }
	switch {
	case same(kindInt, kindUint):
		olo, ohi := sourceIntRange(o.DataType, o.Unsigned)
		nlo, nhi := sourceIntRange(n.DataType, n.Unsigned)
		if nlo > olo || nhi < ohi {
			return "narrows the integer range"
		}
		return ""
	case same(kindBool):
		return ""
	case same(kindDecimal):
		if n.Precision-n.Scale < o.Precision-o.Scale || n.Scale < o.Scale {
			return "drops integer or fraction digits"
		}
		return ""
	case same(kindFloat, kindDouble):
		if o.kind == kindDouble && n.kind == kindFloat {
			return "loses precision"
		}
		return ""
	case same(kindDate), same(kindDatetime), same(kindTimestamp), same(kindTime):
		if n.FSP < o.FSP {
			return "drops fractional seconds"
		}
		return ""
	case same(kindYear):
		return ""
	case same(kindText):
		if strings.HasPrefix(n.TargetType, "varchar") && (strings.HasPrefix(o.TargetType, "text") || n.Length < o.Length) {
			return "shortens the text"
		}
		return ""
	case same(kindBinary):
		return "" // every binary type is bytea; MySQL refuses to truncate in strict mode
	case same(kindJSON):
		return ""
	case same(kindEnum), same(kindSet):
		if len(n.Values) < len(o.Values) || !slices.Equal(n.Values[:len(o.Values)], o.Values) {
			return "removes, renames or reorders members"
		}
		if n.kind == kindSet && len(n.Values) > 64 {
			return "has too many members"
		}
		return ""
	case same(kindBit):
		if n.Length < o.Length {
			return "narrows the bits"
		}
		if n.Length != o.Length {
			return "changes the bit width (bit(n) values are padded on the left in MySQL and on the right in PostgreSQL)"
		}
		return ""
	}
	return "changes the type family"
}

// literalSQL renders a DEFAULT literal of the source as a PostgreSQL
// literal of the column's target type.
func literalSQL(c Column, v string, p Policies) (string, error) {
	m := &TableMap{Name: "ddl", Columns: []Column{c}, policies: p}
	switch c.kind {
	case kindBinary:
		return "'\\x" + hex.EncodeToString([]byte(v)) + "'::bytea", nil
	case kindBit, kindBitBool:
		if c.bitAsInt {
			break
		}
		return "", fmt.Errorf("bit defaults are not translated")
	}
	raw := []byte(v)
	if c.kind == kindBool || c.kind == kindBitBool {
		raw = []byte(strings.TrimSpace(v))
	}
	out, err := m.AppendCopyText(nil, 0, raw)
	if err != nil {
		return "", err
	}
	if string(out) == `\N` {
		return "NULL", nil
	}
	// COPY text escapes only backslash and control characters; undo them.
	s := strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r", `\t`, "\t").Replace(string(out))
	switch c.kind {
	case kindInt, kindUint, kindYear, kindDecimal, kindFloat, kindDouble:
		if _, err := parseNumeric(strings.TrimSpace(s)); err != nil {
			return "", fmt.Errorf("not a number")
		}
		return s, nil
	case kindBool, kindBitBool:
		return map[string]string{"t": "true", "f": "false"}[s], nil
	}
	return pgString(s) + "::" + c.TargetType, nil
}

// implicitDefault is the value MySQL gives existing rows when a NOT NULL
// column without DEFAULT is added.
func implicitDefault(c Column) (string, error) {
	switch c.kind {
	case kindInt, kindUint, kindYear, kindDecimal, kindFloat, kindDouble:
		return "0", nil
	case kindBool, kindBitBool:
		if c.bitAsInt {
			return "0", nil
		}
		return "false", nil
	case kindText:
		return "''", nil
	case kindEnum:
		if len(c.Values) > 0 {
			return pgString(c.Values[0]), nil
		}
	case kindSet:
		return "'{}'", nil
	case kindBinary:
		if c.DataType == "binary" {
			return "'\\x" + strings.Repeat("00", int(c.Length)) + "'::bytea", nil
		}
		return "'\\x'::bytea", nil
	case kindTime:
		return "'00:00:00'::interval", nil
	}
	return "", fmt.Errorf("added NOT NULL without a default, and MySQL's implicit default of %s has no PostgreSQL equivalent", c.SourceType)
}
