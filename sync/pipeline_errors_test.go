package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
		side  string
	}{
		{"connection refused", sourceErr(fmt.Errorf("connecting: %w", syscall.ECONNREFUSED)), true, sideSource},
		{"binlog connection dropped (go-mysql text)", sourceErr(errors.New("io.ReadFull(header) failed. err EOF: connection was bad")), true, sideSource},
		{"mysql shutting down", &mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, true, "a database"},
		{"postgres admin shutdown", targetErr(&pgconn.PgError{Code: "57P01"}), true, sideTarget},
		{"postgres starting up", &pgconn.PgError{Code: "57P03"}, true, sideTarget},
		{"unexpected EOF", io.ErrUnexpectedEOF, true, "a database"},
		{"deadline", context.DeadlineExceeded, true, "a database"},
		{"unique violation is a bug, not an outage", targetErr(&pgconn.PgError{Code: "23505"}), false, sideTarget},
		{"undefined column", &pgconn.PgError{Code: "42703"}, false, sideTarget},
		{"syntax error from MySQL", &mysql.MySQLError{Number: 1064}, false, "a database"},
		{"a table without a key", &NoKeyError{Table: "shop.events"}, false, "a database"},
		{"a pause", &PausedError{Pipeline: "p", Reason: "x"}, false, "a database"},
		{"a bad value", fmt.Errorf("decoding: %w", &ValueError{Table: "t", Column: "c", Reason: "r"}), false, "a database"},
		{"marked permanent", permanent(errors.New("connection refused, but permanent")), false, "a database"},
		{"purged binlog", sourceErr(errors.New("ERROR 1236 (HY000): Could not find first log file name in binary log index file")), false, sideSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.retry, retryable(tt.err))
			assert.Equal(t, tt.side, which(tt.err))
		})
	}
	assert.False(t, retryable(nil))
}

func TestServerIDFor(t *testing.T) {
	a, b := serverIDFor("shop", 1), serverIDFor("billing", 1)
	assert.NotEqual(t, a, b, "pipelines get different replica ids")
	assert.Equal(t, a, serverIDFor("shop", 1), "stable across runs")
	assert.GreaterOrEqual(t, a, uint32(1000))
	assert.NotEqual(t, a, serverIDFor("shop", a), "never the source's own id")
}

func TestPausedErrorNamesTheStatement(t *testing.T) {
	err := &PausedError{Pipeline: "shop", Statement: "ALTER TABLE orders DROP COLUMN note", Reason: "a column is dropped",
		Pos: Position{File: "binlog.000003", Pos: 1234}}
	assert.Equal(t, `pipeline "shop" paused at binlog.000003:1234 on DDL "ALTER TABLE orders DROP COLUMN note": a column is dropped`, err.Error())
}
