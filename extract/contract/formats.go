package contract

import (
	"regexp"
	"strings"
	"time"
)

// A string's kind is what a client parses it as: a JSON Schema format
// (date-time, date, uuid, email, ...), a decimal written as a string, or a
// timestamp in a layout of its own ("layout 2006-01-02 15:04:05", written
// as x-go-time-layout, the extension recipe documents use). "" is a plain
// string. Inference gives a field the kind every one of its values has;
// the check compares the kinds of the two sides.
const (
	kindDateTime = "date-time"
	kindDate     = "date"
	kindUUID     = "uuid"
	kindEmail    = "email"
	kindDecimal  = "decimal"
	layoutPrefix = "layout "
)

// extLayout is the extension that names a timestamp's Go layout.
const extLayout = "x-go-time-layout"

// observedLayouts are the timestamp layouts inference recognises besides
// RFC 3339 and YYYY-MM-DD, with the pattern it writes for each.
var observedLayouts = []struct {
	layout  string
	re      *regexp.Regexp
	pattern string
}{
	{"2006-01-02 15:04:05", regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`), `^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$`},
	{"2006-01-02T15:04:05", regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$`), `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$`},
	{"15:04:05", regexp.MustCompile(`^\d{2}:\d{2}:\d{2}$`), `^[0-9]{2}:[0-9]{2}:[0-9]{2}$`},
}

var (
	reDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)
	reDate     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	reUUID     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	reEmail    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	reDecimal  = regexp.MustCompile(`^-?[0-9]+\.[0-9]+$`)
)

// valueKind is the kind of one observed string.
func valueKind(s string) string {
	switch {
	case reDateTime.MatchString(s):
		if _, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil {
			return kindDateTime
		}
	case reDate.MatchString(s):
		if _, err := time.Parse(time.DateOnly, s); err == nil {
			return kindDate
		}
	case reUUID.MatchString(s):
		return kindUUID
	case reDecimal.MatchString(s):
		return kindDecimal
	case reEmail.MatchString(s):
		return kindEmail
	}
	for _, l := range observedLayouts {
		if l.re.MatchString(s) {
			if _, err := time.Parse(l.layout, s); err == nil {
				return layoutPrefix + l.layout
			}
		}
	}
	return ""
}

// decimalScale is the number of digits after the point of a decimal string.
func decimalScale(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// layoutKind is the kind of a Go time layout: RFC 3339 is date-time and
// YYYY-MM-DD is date, whichever way they are spelled.
func layoutKind(layout string) string {
	switch layout {
	case time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05.999999Z07:00",
		"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.999Z07:00":
		return kindDateTime
	case time.DateOnly:
		return kindDate
	}
	return layoutPrefix + layout
}

// strongKinds are the kinds a client parses a value by: losing one in an
// answer, or gaining one in a request, breaks a client. The others (email,
// uri, ...) describe a value a client usually keeps as text.
func strongKind(k string) bool {
	switch k {
	case kindDateTime, kindDate, "time", "duration", kindUUID, kindDecimal, "byte", "binary":
		return true
	}
	return strings.HasPrefix(k, layoutPrefix)
}

// Probes tell a decimal pattern from another: it accepts a number with a
// fraction and none of the other texts.
var (
	decimalProbes    = []string{"12.50", "1.5", "0.125"}
	notDecimalProbes = []string{"abc", "", "2024-03-01", "12:00", "1e5", "12,50"}
)

// patternIsDecimal says whether a JSON Schema pattern describes decimals
// written as strings (^-?[0-9]+\.[0-9]{2}$ and the like).
func patternIsDecimal(p string) bool {
	re, err := regexp.Compile(p)
	if err != nil {
		return false
	}
	accepts := false
	for _, s := range decimalProbes {
		accepts = accepts || re.MatchString(s)
	}
	if !accepts {
		return false
	}
	for _, s := range notDecimalProbes {
		if re.MatchString(s) {
			return false
		}
	}
	return true
}

// kindText is a kind as the check writes it.
func kindText(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}
