package sync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// TestPipelineLongTableNames streams one source transaction
// `DELETE id=1; UPDATE id=2` on tables whose names PostgreSQL would cut in a
// generated name: 55 bytes, and MySQL's longest, 64 (with a target that
// fits). Both staging tables of a table must stay distinct, or the deleted
// row comes back (or, with a NOT NULL column, the pipeline stops).
func TestPipelineLongTableNames(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL")
	}
	for _, tc := range []struct {
		name, source, target string
	}{
		{"55 bytes", longName("orders_of_the_customers_", 55), ""},
		{"64 bytes", longName("orders_of_the_customers_", 64), longName("orders_of_the_customers_", 63)},
		{"64 bytes, short target", longName("orders_of_the_customers_", 64), "orders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.exec(fmt.Sprintf("CREATE TABLE `%s` (id int PRIMARY KEY, ver int NOT NULL, note varchar(20) NOT NULL)", tc.source),
				fmt.Sprintf("INSERT INTO `%s` VALUES (1, 1, 'one'), (2, 1, 'two'), (3, 1, 'three')", tc.source))
			cfg := config.Pipeline{Name: "long", Tables: []config.Table{{Name: tc.source, Target: tc.target}}}
			p, _ := e.start(cfg, Options{})
			waitPhase(t, p, PhaseStreaming, time.Minute)
			e.tx(fmt.Sprintf("DELETE FROM `%s` WHERE id = 1", tc.source),
				fmt.Sprintf("UPDATE `%s` SET ver = 2, note = 'two again' WHERE id = 2", tc.source))
			e.tx(fmt.Sprintf("INSERT INTO `%s` VALUES (4, 1, 'four')", tc.source),
				fmt.Sprintf("DELETE FROM `%s` WHERE id = 3", tc.source))
			e.waitCaughtUp("long", 30*time.Second)
			target := tc.target
			if target == "" {
				target = tc.source
			}
			rows, err := e.dst.Query(context.Background(), fmt.Sprintf(`SELECT id, ver, note FROM %s ORDER BY id`, pgIdent(target)))
			require.NoError(t, err)
			var got []string
			for rows.Next() {
				var id, ver int
				var note string
				require.NoError(t, rows.Scan(&id, &ver, &note))
				got = append(got, fmt.Sprintf("%d/%d/%s", id, ver, note))
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, []string{"2/2/two again", "4/1/four"}, got)
			assert.Equal(t, PhaseStreaming, p.Status().Phase)
		})
	}
	t.Run("64 bytes without a target is refused", func(t *testing.T) {
		e := newEnv(t)
		name := longName("orders_of_the_customers_", 64)
		e.exec(fmt.Sprintf("CREATE TABLE `%s` (id int PRIMARY KEY)", name))
		p, _ := e.start(config.Pipeline{Name: "refused", Tables: []config.Table{{Name: name}}}, Options{})
		err := p.Wait()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "PostgreSQL keeps only 63")
		assert.Contains(t, err.Error(), "tables[].target")
		var n int
		require.NoError(t, e.dst.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_class WHERE relname LIKE 'orders_of_the_customers_%' AND relkind = 'r'`).Scan(&n))
		assert.Zero(t, n, "no target table is created")
		assert.True(t, strings.HasPrefix(p.Status().Phase, PhaseStopped), p.Status().Phase)
	})
}
