package recipes

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// calendarOnly reports whether s is refused by every layout only for a day
// the calendar lacks (February 30, day 366 of a common year), which the
// pattern does not express.
func calendarOnly(layouts []string, s string) bool {
	for _, l := range layouts {
		if _, err := time.ParseInLocation(l, s, time.UTC); err != nil &&
			(strings.Contains(err.Error(), "day out of range") || strings.Contains(err.Error(), "day-of-year")) {
			return true
		}
	}
	return false
}

// timeCandidates are values written with layout at various instants and
// zones, and each of them edited by one character: deleted, replaced or
// preceded by another.
func timeCandidates(layout string) []string {
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600),
		time.FixedZone("CEST", 2*3600), time.FixedZone("ChST", 10*3600), time.FixedZone("GMT+3", 3*3600), time.FixedZone("AEDT", 11*3600)}
	var base []string
	for _, at := range []time.Time{
		time.Date(2025, 11, 28, 22, 45, 30, 123456000, time.UTC),
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 9, 5, 7, 500000000, time.UTC),
		time.Date(2023, 9, 9, 12, 59, 59, 999999999, time.UTC),
		time.Date(2026, 12, 31, 13, 1, 2, 0, time.UTC),
	} {
		for _, z := range zones {
			base = append(base, at.In(z).Format(layout))
		}
	}
	alphabet := "0139 :.,/TZxAP"
	out := append([]string(nil), base...)
	for _, s := range base {
		for i := 0; i <= len(s); i++ {
			if i < len(s) {
				out = append(out, s[:i]+s[i+1:])
			}
			for _, c := range alphabet {
				out = append(out, s[:i]+string(c)+s[i:])
				if i < len(s) {
					out = append(out, s[:i]+string(c)+s[i+1:])
				}
			}
		}
	}
	return out
}

// TestTimePatternAcceptsWhatTheRuntimeReads checks, for many layouts and
// for thousands of values around what each writes, that the pattern the
// OpenAPI document gives a field matches a value exactly when the runtime
// reads it (parseTime), but for days the calendar lacks. With a zone
// abbreviation (MST) the pattern may refuse what the runtime reads, never
// the other way round.
func TestTimePatternAcceptsWhatTheRuntimeReads(t *testing.T) {
	for _, tc := range []struct {
		layout string
		typ    string
		exact  bool
	}{
		{"2006-01-02 15:04:05", TypeTimestamp, true},
		{"02/01/2006 3:04:05.000 PM -07:00", TypeTimestamp, true},
		{"20060102T150405Z0700", TypeTimestamp, true},
		{"1/2/2006 15:04", TypeTimestamp, true},
		{"06-1-2 3:4:5 pm", TypeTimestamp, true},
		{"2006-01-02T15:04:05.999-07:00:00", TypeTimestamp, true},
		{"2006-01-02 15:04:05-0700", TypeTimestamp, true},
		{"2006-01-02 15:04:05 Z070000", TypeTimestamp, true},
		{"2006-01-02 15:04:05 -07", TypeTimestamp, true},
		{"January 2, 2006 at 15h04", TypeTimestamp, true},
		{time.RFC1123Z, TypeTimestamp, true},
		{time.ANSIC, TypeTimestamp, true},
		{time.StampMicro, TypeTimestamp, true},
		{time.Kitchen, TypeTimestamp, true},
		{time.RFC3339, TypeTimestamp, true},
		{"Jan _2, 2006", TypeDate, true},
		{"2006-002", TypeDate, true},
		{"2006 __2", TypeDate, true},
		{"02.01.2006", TypeDate, true},
		{"Monday, 02-Jan-06 15:04:05 MST", TypeTimestamp, true},
		{time.RFC1123, TypeTimestamp, true},
		{"15:04 MST 2006-01-02", TypeTimestamp, true},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			shape := &Shape{TimestampFormat: "rfc3339", DateFormat: "2006-01-02"}
			f := &Field{Name: "at", Type: tc.typ, Format: tc.layout}
			layouts := f.timeLayouts(shape)
			re, err := regexp.Compile(layoutPattern(layouts))
			require.NoError(t, err)
			var wrong []string
			candidates := timeCandidates(tc.layout)
			t.Logf("%d values compared", len(candidates))
			for _, s := range candidates {
				_, perr := f.parseTime(s, shape)
				read, matched := perr == nil, re.MatchString(s)
				switch {
				case matched && !read && !calendarOnly(layouts, s):
					wrong = append(wrong, "matched but not read: "+s)
				case read && !matched && tc.exact:
					wrong = append(wrong, "read but not matched: "+s)
				}
			}
			assert.Empty(t, wrong, "pattern %s", re)
			ex := exampleJSON(f, exampleInstant, shape)
			assert.Regexp(t, re, strings.Trim(string(ex), `"`), "the example is matched")
		})
	}
}

// TestTimePatternZones checks zone offsets at their bounds: the runtime
// reads offsets up to 24 hours and 60 minutes.
func TestTimePatternZones(t *testing.T) {
	shape := &Shape{TimestampFormat: "2006-01-02 15:04:05 -07:00", DateFormat: "2006-01-02"}
	f := &Field{Name: "at", Type: TypeTimestamp}
	re := regexp.MustCompile(layoutPattern(f.timeLayouts(shape)))
	for _, s := range []string{"2025-11-28 22:45:30 +24:00", "2025-11-28 22:45:30 -00:60", "2025-11-28 22:45:30 +25:00",
		"2025-11-28 22:45:30 -00:61", "2025-11-28 22:45:30 05:00", "2025-11-28 22:45:30 +5:00", "2025-11-28T22:45:30+02:00",
		"2025-11-28T22:45:30Z", "2025-11-28T22:45:30,5Z", "2025-11-28 9:45:30 +01:00", "2025-11-28 22:45:30.25 +01:00"} {
		_, err := f.parseTime(s, shape)
		assert.Equal(t, err == nil, re.MatchString(s), s)
	}
}

// TestTimeDescription checks the words of a few layouts.
func TestTimeDescription(t *testing.T) {
	shape := &Shape{TimestampFormat: "2006-01-02 15:04:05", DateFormat: "02/01/2006"}
	ts := &Field{Type: TypeTimestamp}
	assert.Equal(t, "UTC time as YYYY-MM-DD hh:mm:ss (Go layout 2006-01-02 15:04:05); also read: an RFC 3339 timestamp (2006-01-02T15:04:05Z07:00)",
		ts.timeDescription(shape))
	d := &Field{Type: TypeDate}
	assert.Equal(t, "date as DD/MM/YYYY (Go layout 02/01/2006); also read: an RFC 3339 timestamp (2006-01-02T15:04:05Z07:00), YYYY-MM-DD",
		d.timeDescription(shape))
	z := &Field{Type: TypeTimestamp, Format: "2006-01-02T15:04:05.000Z07:00"}
	assert.Equal(t, "time as YYYY-MM-DDThh:mm:ss.fff±hh:mm (.fff is a fraction of a second of exactly 3 digits; ±hh:mm is the offset from UTC, or Z for UTC) "+
		"(Go layout 2006-01-02T15:04:05.000Z07:00); also read: an RFC 3339 timestamp (2006-01-02T15:04:05Z07:00)", z.timeDescription(shape))
}
