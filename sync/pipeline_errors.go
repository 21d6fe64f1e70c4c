package sync

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// retryError is an error a new session may get past (the session reads
// the schema again), whatever its kind.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// sideError says which database an error came from, for the log line.
type sideError struct {
	side string
	err  error
}

func (e *sideError) Error() string { return e.err.Error() }
func (e *sideError) Unwrap() error { return e.err }

const (
	sideSource = "legacy MySQL"
	sideTarget = "new PostgreSQL"
)

func sourceErr(err error) error {
	if err == nil {
		return nil
	}
	return &sideError{sideSource, err}
}

func targetErr(err error) error {
	if err == nil {
		return nil
	}
	return &sideError{sideTarget, err}
}

// which names the database an error came from.
func which(err error) string {
	var se *sideError
	if errors.As(err, &se) {
		return se.side
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) || pgconn.SafeToRetry(err) {
		return sideTarget
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return sideTarget
	}
	return "a database"
}

// retryable reports an error worth retrying after a pause: a database that
// went away or is not back yet. Pauses, missing keys, bad values and
// errors PostgreSQL gives about the data or the schema are not.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var perm *permanentError
	var pause *PausedError
	var ve *ValueError
	var nk *NoKeyError
	if errors.As(err, &perm) || errors.As(err, &pause) || errors.As(err, &ve) || errors.As(err, &nk) {
		return false
	}
	var re *retryError
	if errors.As(err, &re) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "55006" {
			// object_in_use: a replication slot still held by the walsender
			// of a session that just ended; it lets go within moments.
			return true
		}
		switch pe.Code[:2] {
		case "08", "53", "57", "58", "40": // connection, resources, shutdown, system, serialization
			return true
		}
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1053, 1040, 1205, 1213, 2002, 2003, 2006, 2013, 1927, 1317: // shutdown, too many conns, lock timeouts, lost connection, killed
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	// go-mysql wraps its errors without Unwrap; judge by the text.
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"connection refused", "connection reset", "broken pipe", "eof", "i/o timeout",
		"bad connection", "invalid connection", "shutdown", "server has gone away", "lost connection", "no route to host",
		"sync was closed", "use of closed network connection", "conn closed", "timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
