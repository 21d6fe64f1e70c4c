package sync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CheckReverseSource checks the new PostgreSQL database for a
// new-to-legacy pipeline: doctor's PostgreSQL checks (wal_level logical, a
// free replication slot and WAL sender, the REPLICATION privilege, a
// replication connection, UTF8, CREATE for the publication), where the
// slot the pipeline already owns counts as its free slot.
func CheckReverseSource(ctx context.Context, conn *pgx.Conn, connStr, pipeline string) ([]Check, error) {
	checks, err := CheckPostgres(ctx, conn, connStr)
	if err != nil {
		return nil, err
	}
	slot, err := ReadSlotStatus(ctx, conn, pipeline)
	if err != nil || slot.Missing {
		return checks, nil //nolint:nilerr // without the slot the free-slot check stands as it is
	}
	for i, c := range checks {
		if c.Name == "free replication slot" && !c.OK {
			checks[i] = Check{Name: c.Name, OK: true, Observed: fmt.Sprintf("%s; the pipeline's slot %s exists", c.Observed, slot.Name)}
		}
	}
	return checks, nil
}

// CheckLegacyWrites checks that the legacy MySQL user may do what the
// new-to-legacy direction does in its database: INSERT, UPDATE and DELETE
// rows, and CREATE the checkpoint tables. The error is for a server that
// cannot be asked at all.
func CheckLegacyWrites(ctx context.Context, db *sql.DB) ([]Check, error) {
	var schema, user sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE(), CURRENT_USER()").Scan(&schema, &user); err != nil {
		return nil, fmt.Errorf("reading the database and user: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, fmt.Errorf("reading the grants of %s: %w", user.String, err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("reading the grants of %s: %w", user.String, err)
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the grants of %s: %w", user.String, err)
	}
	return []Check{evalLegacyWrites(grants, schema.String, user.String)}, nil
}

// legacyWritePrivileges are what the new-to-legacy applier needs.
var legacyWritePrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE"}

// evalLegacyWrites judges global and database grants; it does no I/O.
func evalLegacyWrites(grants []string, schema, user string) Check {
	have := map[string]bool{}
	for _, g := range grants {
		up := strings.ToUpper(g)
		on := strings.Index(up, " ON ")
		if !strings.HasPrefix(up, "GRANT ") || on < 0 {
			continue
		}
		target := strings.Fields(g[on+4:])
		if len(target) == 0 {
			continue
		}
		obj := strings.ReplaceAll(strings.ReplaceAll(target[0], "`", ""), `\_`, "_")
		if obj != "*.*" && obj != schema+".*" {
			continue
		}
		for _, p := range strings.Split(up[len("GRANT "):on], ",") {
			have[strings.TrimSpace(p)] = true
		}
	}
	var missing []string
	if !have["ALL PRIVILEGES"] && !have["ALL"] {
		for _, p := range legacyWritePrivileges {
			if !have[p] {
				missing = append(missing, p)
			}
		}
	}
	c := Check{Name: "write privileges", OK: len(missing) == 0,
		Observed: fmt.Sprintf("%s on %s granted", strings.Join(legacyWritePrivileges, ", "), schema)}
	if !c.OK {
		c.Observed = fmt.Sprintf("%s missing on %s", strings.Join(missing, ", "), schema)
		u := user
		if n, h, ok := strings.Cut(user, "@"); ok {
			u = fmt.Sprintf("'%s'@'%s'", strings.Trim(n, "`'"), strings.Trim(h, "`'"))
		}
		c.Fix = fmt.Sprintf("GRANT %s ON %s.* TO %s;", strings.Join(legacyWritePrivileges, ", "), myIdent(schema), u)
	}
	return c
}
