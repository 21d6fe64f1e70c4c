package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	ssync "github.com/stranglerfig/strangler/sync"
)

// pipelineDoctor is what the checks of one legacy-to-new pipeline get: the
// pipeline, its source, and its state as stored in the target.
type pipelineDoctor struct {
	cfg    config.Pipeline
	src    *sql.DB
	db     string // the source database
	dst    *pgx.Conn
	status ssync.Status // phase "not started" for a pipeline that never ran
}

// lag is how far behind its source the pipeline is: the lag it last
// recorded plus, for a pipeline not running now, the time since.
func (d pipelineDoctor) lag(now time.Time) time.Duration {
	lag := time.Duration(d.status.LagSeconds * float64(time.Second))
	if !d.status.UpdatedAt.IsZero() {
		lag += max(0, now.Sub(d.status.UpdatedAt))
	}
	return lag
}

// pipelineChecks are the checks of one pipeline's report. A check is a
// func of the pipelineDoctor; one that cannot ask a server returns a
// failed check naming the error. Add checks here.
var pipelineChecks = []func(ctx context.Context, d pipelineDoctor) []ssync.Check{
	checkPipelineRetention,
	checkPipelineIDs,
	checkPipelineOrigin,
}

// checkPipelineOrigin: a both-ways pipeline may mark its forward writes
// with a replication origin, which keeps them from being sent back.
func checkPipelineOrigin(ctx context.Context, d pipelineDoctor) []ssync.Check {
	if d.cfg.Direction != config.DirectionBoth {
		return nil
	}
	c := ssync.Check{Name: "replication origin for the legacy-to-new writes"}
	var super, create, setup bool
	var user string
	err := d.dst.QueryRow(ctx, `SELECT current_user, rolsuper, has_function_privilege('pg_replication_origin_create(text)', 'EXECUTE'),
		has_function_privilege('pg_replication_origin_session_setup(text)', 'EXECUTE') FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &create, &setup)
	if err != nil {
		c.Observed = err.Error()
		c.Fix = "check that the target user may read pg_roles"
		return []ssync.Check{c}
	}
	c.OK = super || create && setup
	c.Observed = fmt.Sprintf("superuser=%t, EXECUTE on pg_replication_origin_create=%t, pg_replication_origin_session_setup=%t; origin %s", super, create, setup, ssync.OriginName(d.cfg.Name))
	if !c.OK {
		c.Fix = "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text) TO " + pgx.Identifier{user}.Sanitize() + ";"
	}
	return []ssync.Check{c}
}

// checkPipelineRetention: the source keeps binlogs long enough for the
// pipeline's lag, and still has the file of its saved position.
func checkPipelineRetention(ctx context.Context, d pipelineDoctor) []ssync.Check {
	c, err := ssync.CheckRetention(ctx, d.src, d.lag(time.Now()), d.status.Position)
	if err != nil {
		return []ssync.Check{{Name: ssync.RetentionCheckName, Observed: "pipeline " + d.cfg.Name + ": " + err.Error(),
			Fix: "grant the source user REPLICATION CLIENT (BINLOG MONITOR on MariaDB), which SHOW BINARY LOGS needs"}}
	}
	return []ssync.Check{c}
}

// checkPipelineIDs: in a both-ways pipeline with ids: interleave, keys
// generated on the two sides cannot collide (see docs/ids.md).
func checkPipelineIDs(ctx context.Context, d pipelineDoctor) []ssync.Check {
	if d.cfg.Direction != config.DirectionBoth || d.cfg.IDs != config.IDsInterleave {
		return nil
	}
	pol := ssync.Policies{ZeroDates: d.cfg.ZeroDates, NulBytes: d.cfg.NulBytes}
	var maps []*ssync.TableMap
	for _, tc := range d.cfg.Tables {
		m, err := ssync.LoadTableMap(ctx, d.src, d.db, tc, pol)
		if err != nil {
			return []ssync.Check{{Name: "generated keys cannot collide", Observed: err.Error(),
				Fix: "check that the table " + tc.Name + " exists in the source and the user may read it"}}
		}
		maps = append(maps, m)
	}
	checks, err := ssync.CheckIDs(ctx, d.src, d.dst, d.db, maps)
	if err != nil {
		return []ssync.Check{{Name: "generated keys cannot collide", Observed: err.Error(),
			Fix: "check that the users may read information_schema in MySQL and pg_catalog in PostgreSQL"}}
	}
	return checks
}

// pipelineReports is one report per legacy-to-new (or both) pipeline of
// the project file, Role "sync pipeline NAME".
func pipelineReports(ctx context.Context, pipelines []config.Pipeline, timeout time.Duration) []doctorReport {
	var out []doctorReport
	for _, p := range pipelines {
		if p.Direction != config.DirectionLegacyToNew && p.Direction != config.DirectionBoth {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		out = append(out, pipelineReport(cctx, p))
		cancel()
	}
	return out
}

func pipelineReport(ctx context.Context, p config.Pipeline) doctorReport {
	r := doctorReport{Role: "sync pipeline " + p.Name}
	srcDSN, err := dbconn.MySQLDSN(p.Source)
	if err != nil {
		r.Checks = connectFailed(err, "give the pipeline's source (or databases.legacy) as mysql://user:pass@host:3306/db")
		return r
	}
	r.Server = dbconn.Redact(srcDSN)
	dstDSN, err := dbconn.PostgresDSN(p.Target)
	if err != nil {
		r.Checks = connectFailed(err, "give the pipeline's target (or databases.new) as postgres://user:pass@host:5432/db")
		return r
	}
	myCfg, err := mysql.ParseDSN(srcDSN)
	if err != nil {
		r.Checks = connectFailed(err, "give a DSN such as mysql://user:pass@host:3306/db")
		return r
	}
	connector, err := mysql.NewConnector(myCfg)
	if err != nil {
		r.Checks = connectFailed(err, "give a DSN such as mysql://user:pass@host:3306/db")
		return r
	}
	src := sql.OpenDB(connector)
	defer src.Close()
	if err := src.PingContext(ctx); err != nil {
		r.Checks = connectFailed(err, "check that the source runs at "+myCfg.Addr+" and that the user may log in")
		return r
	}
	dst, err := pgx.Connect(ctx, dstDSN)
	if err != nil {
		r.Checks = connectFailed(err, "check that the target runs, that pg_hba.conf admits the user, and the DSN")
		return r
	}
	defer dst.Close(context.WithoutCancel(ctx))
	st, err := ssync.ReadStatus(ctx, dst, p.Name)
	if err != nil {
		r.Checks = []ssync.Check{{Name: "pipeline state", Observed: err.Error(),
			Fix: "check that the target user may read the schema " + ssync.CheckpointSchema}}
		return r
	}
	d := pipelineDoctor{cfg: p, src: src, db: myCfg.DBName, dst: dst, status: st}
	for _, check := range pipelineChecks {
		r.Checks = append(r.Checks, check(ctx, d)...)
	}
	return r
}
