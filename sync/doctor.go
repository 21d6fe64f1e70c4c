// Package sync keeps the legacy MySQL/MariaDB database and the new
// PostgreSQL database in step: snapshot, binlog streaming, logical
// replication back, checkpoints in the target transaction, verification, and
// the prerequisites check behind `strangler doctor`.
//
// The package is named after its directory, sync; files that also need the
// standard library's sync import it as gosync.
package sync

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// Check is one prerequisite of change-data capture, checked on a server.
type Check struct {
	Name     string `json:"name"`          // what is checked: "binlog format is ROW"
	OK       bool   `json:"ok"`            // whether the server passes
	Observed string `json:"observed"`      // what the server reported: "binlog_format=MIXED"
	Fix      string `json:"fix,omitempty"` // the statement or config line that fixes a failure
}

// mysqlState is what CheckMySQL reads off a server; EvalMySQL judges it.
type mysqlState struct {
	Vars        map[string]string // SHOW GLOBAL VARIABLES, lower-case names
	User        string            // CURRENT_USER(), as 'user'@'host'
	Grants      []string          // SHOW GRANTS FOR CURRENT_USER()
	BinlogFile  string            // SHOW MASTER STATUS; "" when it returned no row
	BinlogPos   uint64
	StatusError string // the error of SHOW MASTER STATUS, if any
}

var mysqlVars = []string{"version", "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
	"server_id", "gtid_mode", "gtid_current_pos", "gtid_executed"}

// CheckMySQL checks a MySQL/MariaDB server for binlog-based change-data
// capture. The error is for a server that cannot be asked at all.
func CheckMySQL(ctx context.Context, db *sql.DB) ([]Check, error) {
	st := mysqlState{Vars: map[string]string{}}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('"+strings.Join(mysqlVars, "','")+"')")
	if err != nil {
		return nil, fmt.Errorf("reading server variables: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading server variables: %w", err)
		}
		st.Vars[strings.ToLower(k)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading server variables: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&st.User); err != nil {
		return nil, fmt.Errorf("reading the current user: %w", err)
	}
	if grows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()"); err == nil {
		for grows.Next() {
			var g string
			if grows.Scan(&g) == nil {
				st.Grants = append(st.Grants, g)
			}
		}
		grows.Close()
	}
	srows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		st.StatusError = err.Error()
	} else {
		cols, _ := srows.Columns()
		if srows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := srows.Scan(ptrs...); err == nil && len(vals) >= 2 {
				st.BinlogFile = string(vals[0])
				st.BinlogPos, _ = strconv.ParseUint(string(vals[1]), 10, 64)
			}
		}
		srows.Close()
	}
	return evalMySQL(st), nil
}

// evalMySQL judges what CheckMySQL read; it does no I/O.
func evalMySQL(st mysqlState) []Check {
	v := st.Vars
	mariadb := strings.Contains(strings.ToLower(v["version"]), "mariadb")
	cnf := "under [mysqld] in my.cnf (so that it survives a restart)"
	var out []Check
	add := func(name string, ok bool, observed, fix string) {
		c := Check{Name: name, OK: ok, Observed: observed}
		if !ok {
			c.Fix = fix
		}
		out = append(out, c)
	}
	add("binlog enabled", strings.EqualFold(v["log_bin"], "ON") || v["log_bin"] == "1", "log_bin="+v["log_bin"],
		"add `log_bin = mysql-bin` "+cnf+" and restart the server; log_bin cannot be set at run time")
	add("binlog format is ROW", strings.EqualFold(v["binlog_format"], "ROW"), "binlog_format="+v["binlog_format"],
		"SET GLOBAL binlog_format = 'ROW'; and `binlog_format = ROW` "+cnf+"; open sessions keep their format until they reconnect")
	add("full row image", strings.EqualFold(v["binlog_row_image"], "FULL"), "binlog_row_image="+v["binlog_row_image"],
		"SET GLOBAL binlog_row_image = 'FULL'; and `binlog_row_image = FULL` "+cnf)
	meta, have := v["binlog_row_metadata"]
	metaFix := "SET GLOBAL binlog_row_metadata = 'FULL'; and `binlog_row_metadata = FULL` " + cnf
	if !have {
		meta = "(unsupported)"
		metaFix = "upgrade to MariaDB 10.5+ or MySQL 8.0.1+, which record column names and types in the binlog"
	}
	add("full row metadata", strings.EqualFold(meta, "FULL"), "binlog_row_metadata="+meta, metaFix)
	sid := v["server_id"]
	add("server id set", sid != "" && sid != "0", "server_id="+sid,
		"SET GLOBAL server_id = 1; and `server_id = 1` "+cnf+" (any number not used by another server or replica)")
	pos := "SHOW MASTER STATUS returned no row"
	if st.StatusError != "" {
		pos = "SHOW MASTER STATUS failed: " + st.StatusError
	}
	if st.BinlogFile != "" {
		pos = fmt.Sprintf("%s:%d", st.BinlogFile, st.BinlogPos)
		if g := v["gtid_current_pos"]; mariadb && g != "" {
			pos += ", gtid " + g
		} else if strings.EqualFold(v["gtid_mode"], "ON") {
			pos += ", gtid " + v["gtid_executed"]
		}
	}
	add("binlog position available", st.BinlogFile != "", pos,
		"turn the binlog on (see above) and grant REPLICATION CLIENT so that SHOW MASTER STATUS reports a position")
	missing := missingGrants(st.Grants, mariadb)
	observed := "grants " + strings.Join(missing, ", ") + " missing"
	if len(missing) == 0 {
		observed = "SELECT, REPLICATION SLAVE, REPLICATION CLIENT granted"
	}
	user := st.User
	if u, h, ok := strings.Cut(st.User, "@"); ok {
		user = fmt.Sprintf("'%s'@'%s'", strings.Trim(u, "`'"), strings.Trim(h, "`'"))
	}
	add("replication privileges", len(missing) == 0, observed,
		fmt.Sprintf("GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %s;", user))
	return out
}

// missingGrants lists the global privileges change-data capture needs that
// the grants do not give.
func missingGrants(grants []string, mariadb bool) []string {
	have := map[string]bool{}
	for _, g := range grants {
		up := strings.ToUpper(g)
		on := strings.Index(up, " ON ")
		if !strings.HasPrefix(up, "GRANT ") || on < 0 || !strings.HasPrefix(up[on+4:], "*.*") {
			continue
		}
		for _, p := range strings.Split(up[len("GRANT "):on], ",") {
			have[strings.TrimSpace(p)] = true
		}
	}
	if have["ALL PRIVILEGES"] {
		return nil
	}
	var missing []string
	if !have["SELECT"] {
		missing = append(missing, "SELECT")
	}
	if !have["REPLICATION SLAVE"] && !have["REPLICATION REPLICA"] {
		missing = append(missing, "REPLICATION SLAVE")
	}
	// MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR.
	if !have["REPLICATION CLIENT"] && !(mariadb && have["BINLOG MONITOR"]) {
		missing = append(missing, "REPLICATION CLIENT")
	}
	return missing
}

// pgState is what CheckPostgres reads off a server; evalPostgres judges it.
type pgState struct {
	WALLevel        string
	MaxSlots        int
	UsedSlots       int
	MaxSenders      int
	UsedSenders     int
	User, Database  string
	Encoding        string // server_encoding of the database
	Replication     bool   // rolreplication or rolsuper
	CanCreate       bool   // CREATE on the database (publications, checkpoint table)
	IdentifyError   string // a replication connection's IDENTIFY_SYSTEM error, "" when it worked
	IdentifySkipped bool
}

// CheckPostgres checks a PostgreSQL server for logical replication. connStr
// is used once more to open a replication connection. The error is for a
// server that cannot be asked at all.
func CheckPostgres(ctx context.Context, conn *pgx.Conn, connStr string) ([]Check, error) {
	var st pgState
	err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
		current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int,
		current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)::int,
		current_user, current_database(),
		(SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
		has_database_privilege(current_database(), 'CREATE'), current_setting('server_encoding')`).Scan(
		&st.WALLevel, &st.MaxSlots, &st.UsedSlots, &st.MaxSenders, &st.UsedSenders,
		&st.User, &st.Database, &st.Replication, &st.CanCreate, &st.Encoding)
	if err != nil {
		return nil, fmt.Errorf("reading server settings: %w", err)
	}
	if connStr == "" {
		st.IdentifySkipped = true
	} else if err := identify(ctx, connStr); err != nil {
		st.IdentifyError = err.Error()
	}
	return evalPostgres(st), nil
}

// identify opens a logical replication connection and runs IDENTIFY_SYSTEM.
func identify(ctx context.Context, connStr string) error {
	cfg, err := pgconn.ParseConfig(connStr)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["replication"] = "database"
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = pglogrepl.IdentifySystem(ctx, c)
	return err
}

// evalPostgres judges what CheckPostgres read; it does no I/O.
func evalPostgres(st pgState) []Check {
	var out []Check
	add := func(name string, ok bool, observed, fix string) {
		c := Check{Name: name, OK: ok, Observed: observed}
		if !ok {
			c.Fix = fix
		}
		out = append(out, c)
	}
	restart := " and restart PostgreSQL (or `wal_level = logical` in postgresql.conf)"
	add("wal_level is logical", st.WALLevel == "logical", "wal_level="+st.WALLevel,
		"ALTER SYSTEM SET wal_level = logical;"+restart)
	add("free replication slot", st.MaxSlots-st.UsedSlots >= 1,
		fmt.Sprintf("max_replication_slots=%d, %d in use", st.MaxSlots, st.UsedSlots),
		fmt.Sprintf("ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL (or drop unused slots: SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active;)", max(10, st.UsedSlots+4)))
	add("free WAL sender", st.MaxSenders-st.UsedSenders >= 1,
		fmt.Sprintf("max_wal_senders=%d, %d in use", st.MaxSenders, st.UsedSenders),
		fmt.Sprintf("ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL", max(10, st.UsedSenders+4)))
	add("REPLICATION privilege", st.Replication, fmt.Sprintf("role %s replication=%t", st.User, st.Replication),
		fmt.Sprintf("ALTER ROLE %s WITH REPLICATION;", pgx.Identifier{st.User}.Sanitize()))
	add("database encoded in UTF8", st.Encoding == "UTF8", fmt.Sprintf("database %s encoding=%s", st.Database, st.Encoding),
		fmt.Sprintf("a database's encoding cannot change: CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0; and point the target DSN at it",
			pgx.Identifier{pgident.Name(st.Database, "utf8")}.Sanitize()))
	add("CREATE on the database", st.CanCreate, fmt.Sprintf("database %s create=%t", st.Database, st.CanCreate),
		fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s;", pgx.Identifier{st.Database}.Sanitize(), pgx.Identifier{st.User}.Sanitize()))
	if !st.IdentifySkipped {
		observed := "IDENTIFY_SYSTEM answered"
		if st.IdentifyError != "" {
			observed = "replication connection failed: " + st.IdentifyError
		}
		add("replication connection", st.IdentifyError == "", observed,
			fmt.Sprintf("allow %s to connect to database %s in pg_hba.conf and grant REPLICATION (see above); then SELECT pg_reload_conf();", st.User, st.Database))
	}
	return out
}
