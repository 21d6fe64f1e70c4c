package sync

import (
	"strings"
	"testing"
)

// FuzzClassifyDDL feeds arbitrary statements: no panic, no error, the
// input maps are left alone, and an action either pauses with a reason or
// carries the map to use next.
func FuzzClassifyDDL(f *testing.F) {
	base := ddlMaps(f)["orders"]
	f.Fuzz(func(t *testing.T, stmt string) {
		maps := map[string]*TableMap{"orders": base.clone()}
		before := len(maps["orders"].Columns)
		a, concern, err := ClassifyDDL(stmt, maps)
		if err != nil {
			t.Fatalf("error: %v", err)
		}
		if len(maps["orders"].Columns) != before {
			t.Fatal("the input map was modified")
		}
		if !concern {
			return
		}
		if a.Reason == "" {
			t.Fatal("an action without a reason")
		}
		if a.Pause && (a.Map != nil || len(a.Apply) > 0) {
			t.Fatal("a pause that also applies")
		}
		if !a.Pause && a.Map == nil && len(a.Apply) > 0 {
			t.Fatal("statements to apply without the new map")
		}
		if a.Pause && (len(a.Concurrent) > 0 || len(a.Kept) > 0) {
			t.Fatal("a pause that also changes indexes or columns")
		}
		for _, s := range a.Apply {
			if !strings.HasPrefix(s, "ALTER TABLE ") && !strings.HasPrefix(s, "ALTER INDEX IF EXISTS ") &&
				!strings.HasPrefix(s, "TRUNCATE TABLE ") && !strings.HasPrefix(s, "CREATE INDEX IF NOT EXISTS ") &&
				!strings.HasPrefix(s, "DROP INDEX IF EXISTS ") {
				t.Fatalf("unexpected statement %q", s)
			}
		}
	})
}

// FuzzParseMembers reads arbitrary enum/set column types.
func FuzzParseMembers(f *testing.F) {
	f.Fuzz(func(t *testing.T, ct string) {
		vals, err := parseMembers(ct)
		if err != nil {
			return
		}
		for _, v := range vals {
			if len(v) > len(ct) {
				t.Fatalf("member %q longer than the type %q", v, ct)
			}
		}
	})
}
