package sync

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func byName(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func readyMySQL() mysqlState {
	return mysqlState{
		Vars: map[string]string{"version": "10.11.9-MariaDB", "log_bin": "ON", "binlog_format": "ROW",
			"binlog_row_image": "FULL", "binlog_row_metadata": "FULL", "server_id": "1", "gtid_current_pos": "0-1-5"},
		User:       "cdc@%",
		Grants:     []string{"GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`"},
		BinlogFile: "binlog.000001", BinlogPos: 328,
	}
}

func TestEvalMySQLReady(t *testing.T) {
	checks := evalMySQL(readyMySQL())
	require.Len(t, checks, 7)
	for _, c := range checks {
		assert.True(t, c.OK, "%s: %s", c.Name, c.Observed)
		assert.Empty(t, c.Fix, c.Name)
	}
	assert.Equal(t, "binlog.000001:328, gtid 0-1-5", byName(checks)["binlog position available"].Observed)
}

func TestEvalMySQLFailuresNameTheirFix(t *testing.T) {
	tests := []struct {
		name   string
		change func(*mysqlState)
		check  string
		fix    string
	}{
		{"binlog off", func(s *mysqlState) { s.Vars["log_bin"] = "OFF" }, "binlog enabled", "`log_bin = mysql-bin`"},
		{"mixed format", func(s *mysqlState) { s.Vars["binlog_format"] = "MIXED" }, "binlog format is ROW", "SET GLOBAL binlog_format = 'ROW';"},
		{"minimal image", func(s *mysqlState) { s.Vars["binlog_row_image"] = "MINIMAL" }, "full row image", "SET GLOBAL binlog_row_image = 'FULL';"},
		{"no metadata", func(s *mysqlState) { s.Vars["binlog_row_metadata"] = "NO_LOG" }, "full row metadata", "SET GLOBAL binlog_row_metadata = 'FULL';"},
		{"old server", func(s *mysqlState) { delete(s.Vars, "binlog_row_metadata") }, "full row metadata", "upgrade to MariaDB 10.5+"},
		{"server id zero", func(s *mysqlState) { s.Vars["server_id"] = "0" }, "server id set", "SET GLOBAL server_id = 1;"},
		{"no position", func(s *mysqlState) { s.BinlogFile = "" }, "binlog position available", "SHOW MASTER STATUS"},
		{"no replication grant", func(s *mysqlState) {
			s.Grants = []string{"GRANT SELECT ON *.* TO `cdc`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `cdc`@`%`"}
		}, "replication privileges", "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'%';"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := readyMySQL()
			tt.change(&st)
			checks := byName(evalMySQL(st))
			c := checks[tt.check]
			assert.False(t, c.OK)
			assert.Contains(t, c.Fix, tt.fix)
			for name, other := range checks {
				if name != tt.check && !(tt.name == "binlog off" && name == "binlog position available") {
					assert.True(t, other.OK, "%s should still pass", name)
				}
			}
		})
	}
}

func TestMissingGrants(t *testing.T) {
	assert.Empty(t, missingGrants([]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, true))
	assert.Empty(t, missingGrants([]string{"GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'u'@'%'"}, false))
	assert.Equal(t, []string{"REPLICATION CLIENT"}, missingGrants([]string{"GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'u'@'%'"}, false),
		"BINLOG MONITOR stands for REPLICATION CLIENT on MariaDB only")
	assert.Equal(t, []string{"SELECT", "REPLICATION SLAVE", "REPLICATION CLIENT"}, missingGrants([]string{"GRANT ALL PRIVILEGES ON `shop`.* TO 'u'@'%'"}, true),
		"database-level grants do not give replication")
}

func TestEvalPostgres(t *testing.T) {
	ready := pgState{WALLevel: "logical", MaxSlots: 10, UsedSlots: 2, MaxSenders: 10, UsedSenders: 1,
		User: "app", Database: "shop", Replication: true, CanCreate: true, Encoding: "UTF8"}
	for _, c := range evalPostgres(ready) {
		assert.True(t, c.OK, c.Name)
	}
	bad := ready
	bad.WALLevel, bad.UsedSlots, bad.Replication, bad.IdentifyError = "replica", 10, false, "no pg_hba.conf entry"
	bad.Encoding = "LATIN1"
	checks := byName(evalPostgres(bad))
	assert.Equal(t, "ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL (or `wal_level = logical` in postgresql.conf)", checks["wal_level is logical"].Fix)
	assert.Contains(t, checks["free replication slot"].Fix, "ALTER SYSTEM SET max_replication_slots = 14;")
	assert.Equal(t, `ALTER ROLE "app" WITH REPLICATION;`, checks["REPLICATION privilege"].Fix)
	assert.False(t, checks["replication connection"].OK)
	assert.True(t, checks["CREATE on the database"].OK)
	assert.Equal(t, `a database's encoding cannot change: CREATE DATABASE "shop_utf8" ENCODING 'UTF8' TEMPLATE template0; and point the target DSN at it`,
		checks["database encoded in UTF8"].Fix)
}

func TestEvalRetention(t *testing.T) {
	at := Position{File: "binlog.000007", Pos: 1234}
	logs := []string{"binlog.000006", "binlog.000007", "binlog.000008"}
	tests := []struct {
		name     string
		st       retentionState
		ok       bool
		observed []string
		fix      string
	}{
		{"never ran", retentionState{Version: "10.11.9-MariaDB", ExpireSeconds: 0, ExpireDays: 0, Logs: logs},
			true, []string{"the pipeline never ran", "binlogs never expire (binlog_expire_logs_seconds=0)"}, ""},
		{"never expire", retentionState{Version: "10.11.9-MariaDB", ExpireSeconds: 0, ExpireDays: 0, Logs: logs, Pos: at, Lag: 100 * time.Hour},
			true, []string{"binlogs never expire", "the pipeline lags 100h at binlog.000007:1234"}, ""},
		{"enough", retentionState{Version: "8.0.36", ExpireSeconds: 2592000, ExpireDays: 0, Logs: logs, Pos: at, Lag: 3 * time.Second},
			true, []string{"binlogs expire after 30d (binlog_expire_logs_seconds=2592000)", "lags 3s"}, ""},
		{"shorter than the lag", retentionState{Version: "10.11.9-MariaDB", ExpireSeconds: 7200, ExpireDays: 0.083, Logs: logs, Pos: at, Lag: 3 * time.Hour},
			false, []string{"binlogs expire before the pipeline reads them (retention 2h, lag 3h)"},
			"SET GLOBAL binlog_expire_logs_seconds = 604800; and `binlog_expire_logs_seconds = 604800` under [mysqld] in my.cnf"},
		{"old server in days", retentionState{Version: "10.3.39-MariaDB", ExpireSeconds: -1, ExpireDays: 1, Logs: logs, Pos: at, Lag: 10 * 24 * time.Hour},
			false, []string{"binlogs expire after 24h (expire_logs_days=1)"}, "SET GLOBAL expire_logs_days = 20; and `expire_logs_days = 20` under [mysqld]"},
		{"under a day warns", retentionState{Version: "8.0.36", ExpireSeconds: 3600, Logs: logs, Pos: at, Lag: time.Second},
			true, []string{"binlogs expire after 1h (binlog_expire_logs_seconds=3600)", "warning: retention under 24h", "SET GLOBAL binlog_expire_logs_seconds = 604800"}, ""},
		{"file purged", retentionState{Version: "10.11.9-MariaDB", ExpireSeconds: 86400, Logs: logs[2:], Pos: at, Lag: time.Minute},
			false, []string{"the pipeline's binlog file binlog.000007 is no longer on the server (oldest binlog.000008)"},
			"the pipeline cannot resume: re-snapshot it"},
		{"file elsewhere, resumes by GTID", retentionState{Version: "10.11.9-MariaDB", ExpireSeconds: 86400, Logs: []string{"replica-bin.000001"},
			Pos: Position{File: "binlog.000007", Pos: 1234, GTID: "0-1-42"}, Lag: time.Minute},
			true, []string{"binlog.000007 is not on this server (oldest replica-bin.000001); the pipeline resumes by GTID 0-1-42"}, ""},
		{"MySQL without GTIDs: the file decides", retentionState{Version: "8.0.36", ExpireSeconds: 86400, GTIDMode: "OFF", Logs: []string{"other.000001"},
			Pos: Position{File: "binlog.000007", Pos: 1234, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}, Lag: time.Minute},
			false, []string{"no longer on the server"}, "re-snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := evalRetention(tt.st)
			assert.Equal(t, RetentionCheckName, c.Name)
			assert.Equal(t, tt.ok, c.OK, c.Observed)
			for _, o := range tt.observed {
				assert.Contains(t, c.Observed, o)
			}
			if tt.ok {
				assert.Empty(t, c.Fix)
			} else {
				assert.Contains(t, c.Fix, tt.fix)
			}
		})
	}
}

func TestCheckRetentionOnTheServer(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	c, err := CheckRetention(ctx, d.src, 0, Position{})
	require.NoError(t, err)
	assert.True(t, c.OK, c.Observed)
	assert.Contains(t, c.Observed, "the pipeline never ran")

	pos, err := masterPosition(ctx, d.src)
	require.NoError(t, err)
	c, err = CheckRetention(ctx, d.src, time.Second, pos)
	require.NoError(t, err)
	assert.True(t, c.OK, c.Observed)

	c, err = CheckRetention(ctx, d.src, time.Second, Position{File: "binlog.999999", Pos: 4})
	require.NoError(t, err)
	assert.False(t, c.OK, c.Observed)
	assert.Contains(t, c.Observed, "binlog.999999 is no longer on the server")
}
