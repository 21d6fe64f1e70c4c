package sync

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
)

// Conflicts in a both-ways pipeline (see both.go). Each direction keeps,
// for every key a batch changes, the row its source had before the batch
// (the before image of the key's first change; none for an insert). When
// the row on the other side is neither that nor already the new version,
// the other side changed it too before this change arrived: a conflict.
// The table's policy names the winner:
//
//   - wins: record (the default): the system of record's change wins: the
//     pipeline's record, legacy unless set to new (or its route is new).
//   - wins: newest: the version whose timestamp column is later wins; a
//     tie, or a side that deleted the row, goes to the system of record.
//
// The winning change is applied over the other side's; the losing change
// is dropped where it arrived. Every conflict is counted
// (strangler_sync_conflicts_total{pipeline,table,winner}) and logged with
// both versions.

// Sides of a both-ways pipeline, as conflicts name them.
const (
	sideLegacy = config.RecordLegacy
	sideNew    = config.RecordNew
)

// conflictRule is a table's conflict policy, on the half of a both-ways
// pipeline that applies changes from side `from`.
type conflictRule struct {
	table  string // the legacy table's name
	from   string // the side whose changes this half applies
	newest bool
	column int   // newest: the index in the map's columns of the timestamp column
	add    []int // the indexes in the map's columns of the columns whose changes add up
}

// adds reports whether column ci adds up.
func (r *conflictRule) adds(ci int) bool { return slices.Contains(r.add, ci) }

// conflictRule returns the policy of table m for this half; nil outside a
// both-ways pipeline.
func (p *Pipeline) conflictRule(m *TableMap) (*conflictRule, error) {
	if p.both == nil {
		return nil, nil
	}
	r := &conflictRule{table: m.Name, from: sideLegacy}
	if p.reverse() {
		r.from = sideNew
	}
	column := func(name string) (int, error) {
		for i, c := range m.Columns {
			if strings.EqualFold(c.Name, name) && !c.Skip {
				return i, nil
			}
		}
		return -1, fmt.Errorf("table %s: conflict column %q is not a synced column of the table", m.Name, name)
	}
	for _, tc := range p.both.Tables {
		if tc.Name != m.Name || tc.Conflict == nil {
			continue
		}
		if tc.Conflict.Wins == config.WinsNewest {
			ci, err := column(tc.Conflict.Column)
			if err != nil {
				return nil, err
			}
			switch m.Columns[ci].kind {
			case kindDatetime, kindTimestamp, kindDate, kindInt, kindUint:
			default:
				return nil, fmt.Errorf("table %s: conflict column %q is a %s; wins: newest compares a date, datetime, timestamp or integer version column",
					m.Name, tc.Conflict.Column, m.Columns[ci].kind)
			}
			r.newest, r.column = true, ci
		}
		for _, name := range tc.Conflict.Add {
			ci, err := column(name)
			if err != nil {
				return nil, err
			}
			switch m.Columns[ci].kind {
			case kindInt, kindUint, kindDecimal, kindFloat, kindDouble:
			default:
				return nil, fmt.Errorf("table %s: conflict add column %q is a %s; add takes integer, decimal or floating-point columns", m.Name, name, m.Columns[ci].kind)
			}
			for _, k := range m.Key {
				if k == ci {
					return nil, fmt.Errorf("table %s: conflict add column %q is part of the key", m.Name, name)
				}
			}
			r.add = append(r.add, ci)
		}
	}
	return r, nil
}

// record is the system of record now: Options.Record, else the file's.
func (p *Pipeline) record() string {
	if p.o.Record != nil {
		if r := p.o.Record(); r == sideLegacy || r == sideNew {
			return r
		}
	}
	if p.both != nil && p.both.Record == sideNew {
		return sideNew
	}
	return sideLegacy
}

// expectFirst records in exp, for each key of a change that the batch has
// not changed before, the row its source had before the batch: the before
// image for the old key of an update or a delete, none (the zero value) for
// the key an insert or a key change makes.
func expectFirst[R any](exp map[string]R, op Op, oldKey, key string, before R) {
	var none R
	note := func(k string, row R) {
		if _, seen := exp[k]; !seen {
			exp[k] = row
		}
	}
	switch op {
	case OpInsert:
		note(key, none)
	case OpUpdate:
		note(oldKey, before)
		if key != oldKey {
			note(key, none)
		}
	case OpDelete:
		note(oldKey, before)
	}
}

// conflict is one conflict found while applying a batch.
type conflict struct {
	key      string // the key, as the batch holds it
	incoming string // the arriving version (JSON), "" for a delete
	current  string // the version on this side (JSON), "" when deleted here
	// newer: whether the arriving version's timestamp is later (+1),
	// earlier (-1) or neither/unknown (0).
	newer int
	// differs names the columns in which this side's row differs from the
	// row the arriving change was made on; "" when unknown or deleted.
	differs string
	// adds names the columns whose two changes are added up; "" for none.
	adds string
}

// addNames names the columns that add up, for the log.
func (r *conflictRule) addNames(m *TableMap) string {
	names := make([]string, len(r.add))
	for i, ci := range r.add {
		names[i] = m.Columns[ci].Name
	}
	return strings.Join(names, ", ")
}

// maxLoggedVersion bounds each version a conflict's log line shows.
const maxLoggedVersion = 2048

// resolve decides a conflict, counts it and logs it with both versions:
// true applies the arriving change, false drops it.
func (p *Pipeline) resolve(r *conflictRule, c conflict) bool {
	other := sideNew
	if r.from == sideNew {
		other = sideLegacy
	}
	winner := p.record()
	how := "the system of record"
	if r.newest && c.newer != 0 && c.incoming != "" && c.current != "" {
		how = "the newer version"
		winner = r.from
		if c.newer < 0 {
			winner = other
		}
	}
	p.conflicts.Add(1)
	if m := p.o.Metrics; m != nil && m.Conflicts != nil {
		m.Conflicts.WithLabelValues(p.label, r.table, winner).Inc()
	}
	version := func(v string) string {
		if v == "" {
			return "deleted"
		}
		if len(v) > maxLoggedVersion {
			return fmt.Sprintf("%s... (%d bytes more)", strings.ToValidUTF8(v[:maxLoggedVersion], ""), len(v)-maxLoggedVersion)
		}
		return v
	}
	differs, adds := "", ""
	if c.differs != "" {
		differs = "; it differs in " + c.differs
	}
	if c.adds != "" {
		adds = "; both changes of " + c.adds + " are added up"
	}
	p.log.Warn(fmt.Sprintf("conflict on %s key %s: both sides changed the row before either change arrived%s; %s wins (%s)%s",
		r.table, c.key, differs, winner, how, adds),
		r.from, version(c.incoming), other, version(c.current))
	return winner == r.from
}
