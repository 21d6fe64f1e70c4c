package sync

import (
	"testing"

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
