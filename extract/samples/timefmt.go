package samples

import (
	"strings"
	"time"
)

// RFC3339Recipe is how recipes name time.RFC3339Nano in
// shape.timestamp_format; TimeLayout answers it for that layout.
const RFC3339Recipe = "rfc3339"

// timeLayout is one layout values are tried with.
type timeLayout struct {
	layout string
	date   bool // no time of day: a date field's layout
}

// baseTimestamps are the timestamp layouts tried, most specific first.
// Each one holding seconds is also tried with a fraction of 3, 6 and 9
// digits and with an optional fraction (".999999999"), in that order.
var baseTimestamps = []string{
	"2006-01-02 15:04:05",
	time.RFC3339, // 2006-01-02T15:04:05Z07:00
	"2006-01-02T15:04:05-07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05-07:00",
	"2006-01-02 15:04:05-07",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006/01/02 15:04:05",
	"02/01/2006 15:04:05",
	"02/01/2006 15:04",
	"01/02/2006 15:04:05",
	"01/02/2006 15:04",
	"02.01.2006 15:04:05",
	"02.01.2006 15:04",
	"02-01-2006 15:04:05",
	time.RFC1123,
	time.RFC1123Z,
	time.ANSIC,
}

// baseDates are the date layouts tried. Where a value reads as day-first
// and month-first alike (03/04/2024), the day-first layout comes first and
// the ambiguity is noted.
var baseDates = []string{
	time.DateOnly,
	"02/01/2006",
	"01/02/2006",
	"02.01.2006",
	"02-01-2006",
	"01-02-2006",
	"2006/01/02",
	"02 Jan 2006",
	"2 Jan 2006",
	"Jan 2, 2006",
	"January 2, 2006",
	"2 January 2006",
}

var fractions = []string{"", ".000", ".000000", ".000000000", ".999999999"}

// layouts is every layout tried, in order of preference.
var layouts = func() []timeLayout {
	var out []timeLayout
	for _, l := range baseTimestamps {
		if !strings.Contains(l, ":05") {
			out = append(out, timeLayout{layout: l})
			continue
		}
		for _, f := range fractions {
			out = append(out, timeLayout{layout: strings.Replace(l, ":05", ":05"+f, 1)})
		}
	}
	for _, l := range baseDates {
		out = append(out, timeLayout{layout: l, date: true})
	}
	return out
}()

// mayBeTime is a cheap test that a string could be a time in one of the
// layouts: its length, a digit in it, and a digit or letter first.
func mayBeTime(s string) bool {
	if len(s) < 8 || len(s) > 40 {
		return false
	}
	c := s[0]
	if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
		return false
	}
	return strings.ContainsAny(s, "0123456789") && strings.ContainsAny(s, "-/.: ")
}

// matchLayouts calls hit with the index of every layout that reads s and
// writes it back unchanged, and whether s carries a zone other than UTC.
// With only, it tries the layouts only reports true for.
func matchLayouts(s string, only func(i int) bool, hit func(i int, offset bool)) {
	if !mayBeTime(s) {
		return
	}
	for i, l := range layouts {
		if only != nil && !only(i) {
			continue
		}
		t, err := time.Parse(l.layout, s)
		if err == nil && t.Format(l.layout) == s {
			_, off := t.Zone()
			hit(i, off != 0)
		}
	}
}

// TimeLayout is the value of recipes' timestamp_format or date_format for
// a Go layout: "rfc3339" for time.RFC3339Nano, else the layout.
func TimeLayout(layout string) string {
	if layout == time.RFC3339Nano {
		return RFC3339Recipe
	}
	return layout
}

// zoned reports whether a layout writes a zone.
func zoned(layout string) bool {
	return strings.Contains(layout, "Z07") || strings.Contains(layout, "-07") || strings.Contains(layout, "MST")
}

// dayMonthTwin is the layout that reads the same values with day and month
// swapped, or "".
func dayMonthTwin(layout string) string {
	for _, p := range [][2]string{{"02/01/2006", "01/02/2006"}, {"02-01-2006", "01-02-2006"}} {
		if strings.HasPrefix(layout, p[0]) {
			return p[1] + layout[len(p[0]):]
		}
		if strings.HasPrefix(layout, p[1]) {
			return p[0] + layout[len(p[1]):]
		}
	}
	return ""
}
