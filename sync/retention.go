package sync

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// retentionState is what CheckRetention reads off a source; evalRetention
// judges it.
type retentionState struct {
	Version string
	// ExpireSeconds is binlog_expire_logs_seconds; -1 when the server has
	// no such variable (MariaDB before 10.6, MySQL 5.7).
	ExpireSeconds int64
	// ExpireDays is expire_logs_days; -1 when the server has none (MySQL
	// 8.4).
	ExpireDays float64
	GTIDMode   string   // gtid_mode (MySQL); "" when absent
	Logs       []string // SHOW BINARY LOGS, oldest first
	Pos        Position // the pipeline's saved position; zero: it never ran
	Lag        time.Duration
}

// CheckRetention checks that the source keeps its binary logs long enough
// for a pipeline: its saved position pos (zero: the pipeline never ran) is
// still on the server, and binlogs do not expire before a pipeline lagging
// lag behind has read them. The error is for a server that cannot be asked.
func CheckRetention(ctx context.Context, db *sql.DB, lag time.Duration, pos Position) (Check, error) {
	st := retentionState{ExpireSeconds: -1, ExpireDays: -1, Pos: pos, Lag: lag}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'binlog_expire_logs_seconds', 'expire_logs_days', 'gtid_mode')")
	if err != nil {
		return Check{}, fmt.Errorf("reading the binlog retention variables: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Check{}, fmt.Errorf("reading the binlog retention variables: %w", err)
		}
		switch strings.ToLower(k) {
		case "version":
			st.Version = v
		case "binlog_expire_logs_seconds":
			st.ExpireSeconds, err = strconv.ParseInt(v, 10, 64)
		case "expire_logs_days":
			st.ExpireDays, err = strconv.ParseFloat(v, 64)
		case "gtid_mode":
			st.GTIDMode = v
		}
		if err != nil {
			rows.Close()
			return Check{}, fmt.Errorf("reading the binlog retention variables: %s=%q: %w", k, v, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Check{}, fmt.Errorf("reading the binlog retention variables: %w", err)
	}
	lrows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return Check{}, fmt.Errorf("listing the binary logs (SHOW BINARY LOGS): %w", err)
	}
	defer lrows.Close()
	cols, err := lrows.Columns()
	if err != nil {
		return Check{}, fmt.Errorf("listing the binary logs (SHOW BINARY LOGS): %w", err)
	}
	for lrows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := lrows.Scan(ptrs...); err != nil {
			return Check{}, fmt.Errorf("listing the binary logs (SHOW BINARY LOGS): %w", err)
		}
		st.Logs = append(st.Logs, string(vals[0]))
	}
	if err := lrows.Err(); err != nil {
		return Check{}, fmt.Errorf("listing the binary logs (SHOW BINARY LOGS): %w", err)
	}
	return evalRetention(st), nil
}

// RetentionCheckName is the Name of the check CheckRetention returns.
const RetentionCheckName = "binlog retention"

// minRetention is the retention under which the check warns: a pipeline
// stopped over a night or a weekend should still find its binlogs.
const minRetention = 24 * time.Hour

// evalRetention judges what CheckRetention read; it does no I/O.
func evalRetention(st retentionState) Check {
	c := Check{Name: RetentionCheckName, OK: true}
	mariadb := isMariaDB(st.Version)
	var retention time.Duration // 0: binlogs never expire
	setting := ""
	switch {
	case st.ExpireSeconds > 0:
		retention, setting = time.Duration(st.ExpireSeconds)*time.Second, fmt.Sprintf("binlog_expire_logs_seconds=%d", st.ExpireSeconds)
	case st.ExpireDays > 0:
		retention, setting = time.Duration(st.ExpireDays*float64(24*time.Hour)), "expire_logs_days="+strconv.FormatFloat(st.ExpireDays, 'f', -1, 64)
	case st.ExpireSeconds == 0:
		setting = "binlog_expire_logs_seconds=0"
	default:
		setting = "expire_logs_days=0"
	}
	kept := "binlogs never expire (" + setting + ")"
	if retention > 0 {
		kept = "binlogs expire after " + fmtDuration(retention) + " (" + setting + ")"
	}
	var observed []string
	add := func(s string) { observed = append(observed, s) }

	// Retention enough for the lag, with a margin: a week, or twice the lag.
	want := max(7*24*time.Hour, 2*st.Lag)
	fix := retentionFix(want, st.ExpireSeconds >= 0, mariadb)

	if st.Pos.IsZero() {
		add("the pipeline never ran: no position to keep; " + kept)
	} else {
		add(kept)
		add(fmt.Sprintf("the pipeline lags %s at %s", fmtDuration(st.Lag), st.Pos))
	}
	gtids := st.Pos.GTID != "" && (mariadb || strings.EqualFold(st.GTIDMode, "ON"))
	if !st.Pos.IsZero() && !slices.Contains(st.Logs, st.Pos.File) {
		oldest := "none"
		if len(st.Logs) > 0 {
			oldest = st.Logs[0]
		}
		if gtids {
			// A source reached after a failover names its files its own
			// way: the pipeline resumes from its GTID set.
			add(fmt.Sprintf("%s is not on this server (oldest %s); the pipeline resumes by GTID %s, which the server refuses if the binlogs holding what follows it are gone",
				st.Pos.File, oldest, st.Pos.GTID))
		} else {
			c.OK = false
			add(fmt.Sprintf("the pipeline's binlog file %s is no longer on the server (oldest %s): the changes after it are gone", st.Pos.File, oldest))
			c.Fix = "the pipeline cannot resume: re-snapshot it (stop it, drop its target tables, DELETE its rows FROM strangler.sync_position, " +
				"sync_snapshot and sync_status, then strangler sync run); and keep binlogs longer: " + fix
		}
	}
	if c.OK && retention > 0 && !st.Pos.IsZero() && st.Lag >= retention {
		c.OK = false
		add(fmt.Sprintf("binlogs expire before the pipeline reads them (retention %s, lag %s)", fmtDuration(retention), fmtDuration(st.Lag)))
		c.Fix = fix
	}
	if c.OK && retention > 0 && retention < minRetention {
		add(fmt.Sprintf("warning: retention under %s: a pipeline stopped longer than %s cannot resume; %s", fmtDuration(minRetention), fmtDuration(retention), fix))
	}
	c.Observed = strings.Join(observed, "; ")
	return c
}

// retentionFix is the statement and my.cnf line that keep binlogs for d.
func retentionFix(d time.Duration, haveSeconds, mariadb bool) string {
	cnf := "under [mysqld] in my.cnf (so that it survives a restart)"
	if haveSeconds {
		s := int64(d / time.Second)
		return fmt.Sprintf("SET GLOBAL binlog_expire_logs_seconds = %d; and `binlog_expire_logs_seconds = %d` %s", s, s, cnf)
	}
	days := int64((d + 24*time.Hour - 1) / (24 * time.Hour))
	return fmt.Sprintf("SET GLOBAL expire_logs_days = %d; and `expire_logs_days = %d` %s", days, days, cnf)
}

// fmtDuration prints a duration briefly: 30d, 36h, 1h30m, 45s.
func fmtDuration(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
