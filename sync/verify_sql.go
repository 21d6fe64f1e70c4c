package sync

import (
	"fmt"
	"strconv"
	"strings"
)

// Verify compares the two sides through a canonical text form of each
// value, computed in SQL on each side so that the same logical value renders
// identically. Row hashes use a form chosen for speed (the servers spend
// most of a checksum formatting values), and keys and the column texts of a
// differing row use a readable one:
//
//	kind                 MySQL                                        PostgreSQL
//	integers, decimal    the number (YEAR as y+0)                     col::text
//	boolean (tinyint(1)) 0/1                                          col::int
//	bit(1), bit(n)       b+0, LPAD(BIN(b), n, '0')                    col::int, col::text
//	date (hashed)        TO_DAYS, zero dates -> NULL                  days since 0001-01-01 + 366
//	datetime, timestamp  TO_SECONDS * 10^6 + MICROSECOND (session in  the int64 microseconds since 2000 of
//	  (hashed)           UTC: microseconds since year 0)              timestamp[tz]_send + 63113904000 s
//	  without fraction   TO_SECONDS - 62167219200, UNIX_TIMESTAMP      date_part('epoch') (exact for whole
//	  (hashed)           (seconds since 1970)                         seconds)
//	boolean (hashed)     0/1                                          col::int (NOT NULL), CASE WHEN col ...
//	date, datetime,      CAST AS CHAR (session in UTC), zero dates    to_char YYYY-MM-DD HH24:MI:SS.FF<fsp>
//	  timestamp (shown)  -> NULL                                      (timestamptz AT TIME ZONE 'UTC')
//	time                 TIME_TO_SEC as decimal(20,6)                 EXTRACT(EPOCH) as numeric(20,6)
//	text, enum, set      length '|' text (utf8mb4, NUL by the policy;  length '|' text (set:
//	                     in bytes; shown without the length)         array_to_string(col, ','))
//	binary               LOWER(HEX(col))                              encode(col, 'hex')
//	NULL                 \N (a text follows its length, so no text passes for the marker);
//	                     for hashed dates and times a number no date gives: NaN (seconds), -1
//	                     (days, microseconds)
//
// Zero and partial zero dates are those whose TO_DAYS is NULL or below 366
// (year 0), as the converters see them.
//
// float, double and json are compared in Go (see goCanon): their text forms
// differ between the servers (MariaDB prints 1e15 in CONCAT where PostgreSQL
// prints 1e+15; jsonb reorders keys), so their values are fetched and
// normalised instead of hashed in SQL.

// inGo reports whether a column is compared in Go rather than in SQL.
func (c Column) inGo() bool {
	return c.kind == kindFloat || c.kind == kindDouble || c.kind == kindJSON
}

// myCanon is the MySQL expression of the canonical text of column c;
// hashed selects the form row hashes use (dates as numbers), otherwise the
// readable form of keys shown to people and passed back as parameters.
// Text is the same in both; row hashes put its length in front of it (see
// newVerifySQL).
func myCanon(c Column, p Policies, hashed bool) string {
	q := myIdent(c.Name)
	var e string
	switch c.kind {
	case kindInt, kindUint, kindDecimal:
		e = q
	case kindYear:
		e = q + " + 0"
	case kindBool:
		e = q
	case kindBitBool:
		e = q + " + 0"
	case kindBit:
		if c.bitAsInt {
			e = q + " + 0"
		} else {
			e = fmt.Sprintf("LPAD(BIN(%s), %d, '0')", q, c.Length)
		}
	case kindDate, kindDatetime, kindTimestamp:
		switch {
		case !hashed:
			// 'YYYY-MM-DD[ HH:MM:SS[.f{fsp}]]', in UTC for timestamps (session).
			e = "CAST(" + q + " AS CHAR)"
		case c.kind == kindDate:
			e = "TO_DAYS(" + q + ")"
		case c.kind == kindTimestamp && c.FSP == 0:
			// Seconds since 1970, as the column stores them; 0 is the
			// zero timestamp (the smallest real one is 1 s).
			return "NULLIF(UNIX_TIMESTAMP(" + q + "), 0)"
		case c.FSP == 0:
			// Seconds since 1970 (the nominal ones of a datetime).
			e = "TO_SECONDS(" + q + ") - 62167219200"
		default:
			// Microseconds since year 0, in UTC for timestamps (session):
			// about half the cost of the text form on either server.
			e = "TO_SECONDS(" + q + ") * 1000000 + MICROSECOND(" + q + ")"
		}
	case kindTime:
		e = fmt.Sprintf("CAST(TIME_TO_SEC(%s) AS DECIMAL(20,6))", q)
	case kindText, kindEnum, kindSet:
		e = q
		if c.Charset != "utf8mb4" {
			e = "CONVERT(" + e + " USING utf8mb4)"
		}
		if p.NulBytes == NulBytesStrip {
			e = "REPLACE(" + e + ", CHAR(0 USING utf8mb4), '')"
		}
	case kindBinary:
		e = "LOWER(HEX(" + q + "))"
	default:
		return ""
	}
	if c.kind == kindDate || c.kind == kindDatetime || c.kind == kindTimestamp {
		// Zero and partial zero dates are NULL in the target (policy null)
		// or refused (policy error, so no target row holds them).
		// TO_DAYS is NULL for zero and partial zero dates and below 366
		// for year 0, which the converters also treat as zero. The
		// hashed forms are NULL for zero and partial zero dates already
		// (TO_DAYS, TO_SECONDS and UNIX_TIMESTAMP check dates alike), so
		// they only need year 0 cut off, by a comparison that costs a
		// fraction of a TO_DAYS call.
		if hashed {
			e = fmt.Sprintf("IF(%s >= '0001-01-01', %s, NULL)", q, e)
		} else {
			e = fmt.Sprintf("IF(TO_DAYS(%s) >= 366, %s, NULL)", q, e)
		}
	}
	return e
}

// pgCanon is the PostgreSQL expression of the canonical text of column c,
// in the form hashed selects (see myCanon).
func pgCanon(c Column, hashed bool) string {
	q := pgIdent(c.Target)
	switch c.kind {
	case kindInt, kindUint, kindDecimal, kindYear:
		return q + "::text"
	case kindBool, kindBitBool:
		if hashed && !c.Nullable {
			// An int, rendered by concat_ws: a NULL the target should
			// not hold drops the field, which changes the row's text.
			return q + "::int"
		}
		if hashed {
			return "CASE WHEN " + q + " THEN '1' WHEN NOT " + q + " THEN '0' END"
		}
		return q + "::int::text"
	case kindBit:
		return q + "::text"
	case kindDate:
		if hashed {
			// TO_DAYS: 0001-01-01 is day 366. A number (see
			// hashedNullMarkers).
			return "(" + q + "::date - date '0001-01-01' + 366)"
		}
		return "to_char(" + q + ", 'YYYY-MM-DD')"
	case kindDatetime, kindTimestamp:
		if hashed && c.FSP == 0 {
			// Whole seconds: their float8 epoch is exact and prints
			// as an integer, at half the cost of the form below.
			return "date_part('epoch', " + q + ")"
		}
		if hashed {
			// The binary form is the int64 of microseconds since
			// 2000-01-01 (UTC for timestamptz); TO_SECONDS counts from
			// year 0, 63113904000 seconds earlier.
			send := "timestamp_send(" + q + "::timestamp)"
			if c.kind == kindTimestamp {
				send = "timestamptz_send(" + q + "::timestamptz)"
			}
			return "(('x' || encode(" + send + ", 'hex'))::bit(64)::bigint + 63113904000000000)"
		}
		if c.kind == kindTimestamp {
			return "to_char(" + q + " AT TIME ZONE 'UTC', '" + pgTimeFormat(c.FSP) + "')"
		}
		return "to_char(" + q + ", '" + pgTimeFormat(c.FSP) + "')"
	case kindTime:
		return "CAST(EXTRACT(EPOCH FROM " + q + ") AS numeric(20,6))::text"
	case kindText, kindEnum, kindSet:
		e := q + "::text"
		if c.kind == kindSet && !c.Overridden {
			e = "array_to_string(" + q + ", ',')"
		}
		return e
	case kindBinary:
		return "encode(" + q + ", 'hex')"
	}
	return ""
}

// pgTimeFormat is the to_char format of MySQL's text form of a datetime
// with fsp fractional digits.
func pgTimeFormat(fsp int) string {
	if fsp <= 0 {
		return "YYYY-MM-DD HH24:MI:SS"
	}
	return "YYYY-MM-DD HH24:MI:SS.FF" + strconv.Itoa(min(fsp, 6))
}

// myParam turns a canonical key text parameter back into a MySQL value.
func myParam(c Column) string {
	switch c.kind {
	case kindBinary:
		return "UNHEX(?)"
	case kindTime:
		return "SEC_TO_TIME(?)"
	case kindText, kindEnum, kindSet:
		return "(? COLLATE utf8mb4_bin)"
	}
	return "?"
}

// myKey is the MySQL expression a key column is ordered and compared by:
// text in code point order, as PostgreSQL's "C" collation orders it.
func myKey(c Column) string { return myKeyIn(c, "") }

// myKeyIn is myKey with the column qualified by qual ("`db`.`t`.").
func myKeyIn(c Column, qual string) string {
	q := qual + myIdent(c.Name)
	switch c.kind {
	case kindText, kindEnum, kindSet:
		if c.Charset == "utf8mb4" {
			return q + " COLLATE utf8mb4_bin"
		}
		return "CONVERT(" + q + " USING utf8mb4) COLLATE utf8mb4_bin"
	}
	return q
}

// pgParam turns the canonical key text parameter $n into a PostgreSQL value.
func pgParam(c Column, n int) string {
	p := "$" + strconv.Itoa(n) + "::text"
	switch c.kind {
	case kindBinary:
		return "decode(" + p + ", 'hex')"
	case kindTime:
		return "(" + p + " || ' seconds')::interval"
	case kindTimestamp:
		return "(" + p + " || '+00')::" + c.TargetType
	case kindBool, kindBitBool:
		return "(" + p + ")::int::boolean"
	case kindText, kindEnum, kindSet:
		return "(" + p + ` COLLATE "C")`
	}
	return "(" + p + ")::" + c.TargetType
}

// pgKey is the PostgreSQL expression a key column is ordered and compared by.
func pgKey(c Column) string { return pgKeyIn(c, "") }

// pgKeyIn is pgKey with the column qualified by qual (`"s"."t".`).
func pgKeyIn(c Column, qual string) string {
	q := qual + pgIdent(c.Target)
	switch c.kind {
	case kindText, kindEnum:
		return q + ` COLLATE "C"`
	}
	return q
}

// verifySQL holds the statements Verify runs for one table.
type verifySQL struct {
	m       *TableMap
	keys    []Column
	hashed  []Column // compared in SQL
	goCols  []Column // compared in Go
	myRow   string   // canonical row text, MySQL
	pgRow   string   // canonical row text, PostgreSQL
	myKeys  string   // canonical key texts, MySQL select list
	pgKeys  string
	myOrder string
	pgOrder string
	textKey bool // a key column is text: MySQL's index order is the collation's (see verifyBuckets)
}

// newVerifySQL builds the statements for m, for a target database encoded
// in UTF-8 (Verify checks): text is hashed as the same bytes on both sides
// (MySQL's utf8mb4 is UTF-8), and its length counted in bytes.
func newVerifySQL(m *TableMap) *verifySQL {
	v := &verifySQL{m: m}
	for _, k := range m.Key {
		v.keys = append(v.keys, m.Columns[k])
	}
	var my, pg, myk, pgk, myo, pgo []string
	for _, i := range m.copied {
		c := m.Columns[i]
		if c.inGo() {
			v.goCols = append(v.goCols, c)
			continue
		}
		v.hashed = append(v.hashed, c)
		myc, pgc := myCanon(c, m.policies, true), pgCanon(c, true)
		if pgBare(c) {
			// concat_ws renders it with the type's output function, as
			// ::text would, without a cast call per value.
			pgc = pgIdent(c.Target)
		}
		if c.kind == kindText || c.kind == kindEnum || c.kind == kindSet {
			// Text goes in as two fields, its length and itself, so
			// that no text can pass for another's fields. A NULL text
			// leaves its length NULL (the marker) and is skipped.
			myl, pgl := "LENGTH("+myc+")", "octet_length("+pgc+")"
			if c.Nullable {
				myl, pgl = "IFNULL("+myl+", '\\\\N')", "COALESCE("+pgl+"::text, '\\N')"
			}
			// As bytes: the row text is then binary, and MariaDB joins
			// the numbers' text into it without converting each to
			// utf8mb4 (a sixth of its cost of a row).
			my, pg = append(my, myl, "CAST("+myc+" AS BINARY)"), append(pg, pgl, pgc)
			continue
		}
		// NOT NULL columns need no NULL marker, except dates, whose zero
		// values are NULL in the target.
		if c.Nullable || c.kind == kindDate || c.kind == kindDatetime || c.kind == kindTimestamp {
			mym, pgm := hashedNullMarkers(c)
			myc, pgc = "IFNULL("+myc+", "+mym+")", "COALESCE("+pgc+", "+pgm+")"
		}
		my, pg = append(my, myc), append(pg, pgc)
	}
	for _, c := range v.keys {
		if c.kind == kindText || c.kind == kindEnum || c.kind == kindSet {
			v.textKey = true
		}
		myk = append(myk, myCanon(c, m.policies, false))
		pgk = append(pgk, pgCanon(c, false))
		// Qualified: an unqualified ORDER BY name would mean the output
		// column of that name, the key's text form.
		myo = append(myo, myKeyIn(c, m.SourceTable()+"."))
		pgo = append(pgo, pgKeyIn(c, m.TargetTable()+"."))
	}
	v.myRow = "CONCAT_WS('|', " + strings.Join(my, ", ") + ")"
	v.pgRow = "concat_ws('|', " + strings.Join(pg, ", ") + ")"
	if len(my) == 0 {
		v.myRow, v.pgRow = "''", "''"
	}
	v.myKeys, v.pgKeys = strings.Join(myk, ", "), strings.Join(pgk, ", ")
	v.myOrder, v.pgOrder = strings.Join(myo, ", "), strings.Join(pgo, ", ")
	return v
}

// hashedNullMarkers are what a NULL of c is hashed as on each side: \N,
// except for dates and times, hashed as numbers, whose marker is a number
// no date gives (NaN for the float8 seconds, -1 for day and microsecond
// counts), so that PostgreSQL's concat_ws renders the number itself instead
// of taking it through a ::text cast (a tenth of its time per row on the
// orders table).
func hashedNullMarkers(c Column) (my, pg string) {
	switch {
	case c.kind == kindDate:
		return "-1", "-1"
	case (c.kind == kindDatetime || c.kind == kindTimestamp) && c.FSP == 0:
		return "'NaN'", "'NaN'"
	case c.kind == kindDatetime || c.kind == kindTimestamp:
		return "-1", "-1"
	}
	return "'\\\\N'", "'\\N'"
}

// pgBare reports whether a hashed column goes into the row text as itself
// rather than as pgCanon's ::text: numbers that need no NULL marker, and
// text of the types the mapping creates (varchar, text; not char, whose
// ::text drops the padding, nor an overridden type such as an enum).
func pgBare(c Column) bool {
	if c.Overridden {
		return false
	}
	switch c.kind {
	case kindInt, kindUint, kindDecimal, kindYear:
		return !c.Nullable
	case kindText, kindEnum:
		return true
	}
	return false
}

// keyRange is (Lo, Hi] in key order; nil bounds are open. Bounds hold the
// canonical texts of the key columns.
type keyRange struct {
	Lo, Hi []string
	// Buckets, when set, selects the rows whose keys hash to these
	// buckets instead (see verifyBuckets); Lo and Hi are then unused.
	Buckets []int
	// Native bounds are in one server's own key order (its collation, so
	// that its index serves them) rather than in code point order; such a
	// range means something on that server only (see verifyBuckets).
	Native bool
}

// text describes r for people: "keys after 10 up to 20".
func (r keyRange) text() string {
	if r.Buckets != nil {
		return fmt.Sprintf("keys in %d hash buckets", len(r.Buckets))
	}
	lo, hi := "from the first", "to the last"
	if r.Lo != nil {
		lo = "after " + strings.Join(r.Lo, ",")
	}
	if r.Hi != nil {
		hi = "up to " + strings.Join(r.Hi, ",")
	}
	return "keys " + lo + " " + hi
}

// after builds "key > lo" for composite keys as an OR of prefixes, which
// both optimisers turn into index ranges.
func tupleCmp(exprs, params []string, op string) string {
	var ors []string
	for i := range exprs {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, exprs[j]+" = "+params[j])
		}
		o := op
		if i < len(exprs)-1 && op == "<=" {
			o = "<"
		}
		ands = append(ands, exprs[i]+" "+o+" "+params[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// myWhere is the WHERE clause of r on MySQL and its arguments.
func (v *verifySQL) myWhere(r keyRange) (string, []any) {
	if r.Buckets != nil {
		return bucketWhere(v.myBucket(), r.Buckets), nil
	}
	var conds []string
	var args []any
	exprs := make([]string, len(v.keys))
	params := make([]string, len(v.keys))
	for i, c := range v.keys {
		exprs[i], params[i] = myKey(c), myParam(c)
		if r.Native {
			exprs[i] = myIdent(c.Name)
			if c.kind == kindText || c.kind == kindEnum || c.kind == kindSet {
				params[i] = "?"
			}
		}
	}
	add := func(b []string, op string) {
		conds = append(conds, tupleCmp(exprs, params, op))
		// Each prefix repeats the earlier columns' parameters.
		for i := range v.keys {
			for j := 0; j <= i; j++ {
				args = append(args, b[j])
			}
		}
	}
	if r.Lo != nil {
		add(r.Lo, ">")
	}
	if r.Hi != nil {
		add(r.Hi, "<=")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// pgWhere is the WHERE clause of r on PostgreSQL and its arguments.
func (v *verifySQL) pgWhere(r keyRange) (string, []any) {
	if r.Buckets != nil {
		return bucketWhere(v.pgBucket(), r.Buckets), nil
	}
	var conds []string
	var args []any
	exprs := make([]string, len(v.keys))
	add := func(b []string, op string) {
		params := make([]string, len(v.keys))
		for i, c := range v.keys {
			exprs[i] = pgKey(c)
			params[i] = pgParam(c, len(args)+1)
			if r.Native {
				exprs[i] = pgIdent(c.Target)
				if c.kind == kindText || c.kind == kindEnum || c.kind == kindSet {
					params[i] = "$" + strconv.Itoa(len(args)+1) + "::text"
				}
			}
			args = append(args, b[i])
		}
		conds = append(conds, tupleCmp(exprs, params, op))
	}
	if r.Lo != nil {
		add(r.Lo, ">")
	}
	if r.Hi != nil {
		add(r.Hi, "<=")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// myChunk counts and checksums the rows of r on MySQL: the SHA-256 of the
// rows' canonical texts joined by newlines in key order. The join reads
// back one way only (numbers hold no separator, and each text follows its
// byte length), so equal digests mean equal sequences of rows. One digest
// over the range costs a fraction of one per row (MariaDB spends as long on
// a short MD5 as on building the row's text), and SHA-256, which both
// servers compute with the CPU's SHA instructions through OpenSSL where it
// has them, hashes a long text at twice MD5's speed. The rows are joined in
// the order of the key range scan, which is key order for the primary key;
// were a server to scan in another order, the digests would differ and
// bisection would fall through to comparing the rows by key, which is
// slower but never hides a difference. The worker's session sets
// group_concat_max_len to its maximum and checks @@warning_count after
// each checksum: MariaDB still cuts a join at max_allowed_packet, and such
// a range is split (see compare), not taken for a match.
//
// With unordered (once a join differed over equal rows: a server scanned
// out of key order) the checksum is instead the XOR of the first 32 bits of
// each row's MD5, which needs no order (PostgreSQL 15 has no CRC32, and
// MariaDB converts 64-bit hex at twice the cost of the MD5 itself); sorting
// the rows for the join would cost more. Text keys are checksummed by hash
// bucket instead of by range (see verifyBuckets), with the same row hash.
func (v *verifySQL) myChunk(r keyRange, unordered bool) (string, []any) {
	w, args := v.myWhere(r)
	if unordered {
		return "SELECT COUNT(*), IFNULL(BIT_XOR(CONV(LEFT(MD5(" + v.myRow + "), 8), 16, 10)), 0) FROM " +
			v.m.SourceTable() + w, args
	}
	return "SELECT COUNT(*), IFNULL(SHA2(GROUP_CONCAT(" + v.myRow + " SEPARATOR '\\n'), 256), '') FROM " +
		v.m.SourceTable() + w, args
}

// pgChunk is myChunk on PostgreSQL; the joined rows come from a subquery
// ordered by key, whose order string_agg keeps (an aggregate ORDER BY
// would sort again rather than use the index order).
func (v *verifySQL) pgChunk(r keyRange, unordered bool) (string, []any) {
	w, args := v.pgWhere(r)
	if unordered {
		return "SELECT count(*), (COALESCE(bit_xor(('x' || left(md5(" + v.pgRow + "), 8))::bit(32)::int), 0)::bigint & 4294967295)::text FROM " +
			v.m.TargetTable() + w, args
	}
	return "SELECT count(*), COALESCE(encode(sha256(convert_to(string_agg(r, E'\\n'), 'UTF8')), 'hex'), '') FROM (SELECT " + v.pgRow + " AS r FROM " +
		v.m.TargetTable() + w + " ORDER BY " + v.pgOrder + ") s", args
}

// myRows lists the rows of r: key texts, row hash, then the Go-compared
// columns' texts (and, with cols, every hashed column's text).
func (v *verifySQL) myRows(r keyRange, cols bool) (string, []any) {
	w, args := v.myWhere(r)
	sel := v.myKeys + ", LEFT(MD5(" + v.myRow + "), 16)"
	for _, c := range v.goCols {
		sel += ", " + myGoExpr(c)
	}
	if cols {
		for _, c := range v.hashed {
			sel += ", " + myCanon(c, v.m.policies, false)
		}
	}
	return "SELECT " + sel + " FROM " + v.m.SourceTable() + w + " ORDER BY " + v.myOrder, args
}

func (v *verifySQL) pgRows(r keyRange, cols bool) (string, []any) {
	w, args := v.pgWhere(r)
	sel := v.pgKeys + ", left(md5(" + v.pgRow + "), 16)"
	for _, c := range v.goCols {
		sel += ", " + pgGoExpr(c)
	}
	if cols {
		for _, c := range v.hashed {
			sel += ", " + pgCanon(c, false)
		}
	}
	return "SELECT " + sel + " FROM " + v.m.TargetTable() + w + " ORDER BY " + v.pgOrder, args
}

// myGoExpr reads a Go-compared column as text (float via double, so that
// the float's exact value is printed).
func myGoExpr(c Column) string {
	if c.kind == kindFloat {
		return myIdent(c.Name) + " + 0e0"
	}
	if c.kind == kindJSON && c.Charset != "" && c.Charset != "utf8mb4" {
		return "CONVERT(" + myIdent(c.Name) + " USING utf8mb4)"
	}
	return myIdent(c.Name)
}

func pgGoExpr(c Column) string {
	if c.kind == kindFloat {
		return pgIdent(c.Target) + "::float8::text"
	}
	return pgIdent(c.Target) + "::text"
}

// mySplit finds the key at the middle of r on MySQL.
func (v *verifySQL) mySplit(r keyRange, offset int64) (string, []any) {
	w, args := v.myWhere(r)
	return "SELECT " + v.myKeys + " FROM " + v.m.SourceTable() + w + " ORDER BY " + v.myOrder +
		" LIMIT 1 OFFSET " + strconv.FormatInt(offset, 10), args
}
