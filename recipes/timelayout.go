package recipes

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A field's time layout, as the OpenAPI document describes it: a pattern
// that accepts what the runtime reads (parseTime), words a person can read,
// and an example. All three come from the layout as Go's time package reads
// it; the elements below mirror time.nextStdChunk and time.parse.

// timeLayouts are the layouts a value of a timestamp or date field is read
// with, in the order parseTime tries them: the field's own, then RFC 3339
// and, for dates, YYYY-MM-DD. Answers are written with the first.
func (f *Field) timeLayouts(s *Shape) []string {
	out := []string{f.timeLayout(s)}
	add := func(l string) {
		for _, x := range out {
			if x == l {
				return
			}
		}
		out = append(out, l)
	}
	add(time.RFC3339Nano)
	if f.Type == TypeDate {
		add(time.DateOnly)
	}
	return out
}

// layoutElem is one element of a layout: the literal text before it and the
// element itself as written ("2006", "Jan", "_2", ".000", "Z07:00", ...).
// The last element of a layout has std "" and holds the trailing literal.
type layoutElem struct {
	lit, std string
}

// splitLayout cuts a layout into elements the way time.Parse does.
func splitLayout(layout string) []layoutElem {
	var out []layoutElem
	for {
		prefix, std, suffix := nextLayoutElem(layout)
		out = append(out, layoutElem{lit: prefix, std: std})
		if std == "" {
			return out
		}
		layout = suffix
	}
}

// nextLayoutElem is time.nextStdChunk, returning the element's text.
func nextLayoutElem(l string) (prefix, std, suffix string) {
	at := func(i int, s string) bool { return strings.HasPrefix(l[i:], s) }
	cut := func(i, n int) (string, string, string) { return l[:i], l[i : i+n], l[i+n:] }
	for i := 0; i < len(l); i++ {
		switch c := l[i]; c {
		case 'J':
			if at(i, "January") {
				return cut(i, 7)
			}
			if at(i, "Jan") && !startsLower(l[i+3:]) {
				return cut(i, 3)
			}
		case 'M':
			if at(i, "Monday") {
				return cut(i, 6)
			}
			if at(i, "Mon") && !startsLower(l[i+3:]) {
				return cut(i, 3)
			}
			if at(i, "MST") {
				return cut(i, 3)
			}
		case '0':
			if i+1 < len(l) && '1' <= l[i+1] && l[i+1] <= '6' {
				return cut(i, 2)
			}
			if at(i, "002") {
				return cut(i, 3)
			}
		case '1':
			if at(i, "15") {
				return cut(i, 2)
			}
			return cut(i, 1)
		case '2':
			if at(i, "2006") {
				return cut(i, 4)
			}
			return cut(i, 1)
		case '_':
			if at(i, "_2") {
				if at(i, "_2006") {
					return l[:i+1], "2006", l[i+5:]
				}
				return cut(i, 2)
			}
			if at(i, "__2") {
				return cut(i, 3)
			}
		case '3', '4', '5':
			return cut(i, 1)
		case 'P':
			if at(i, "PM") {
				return cut(i, 2)
			}
		case 'p':
			if at(i, "pm") {
				return cut(i, 2)
			}
		case '-', 'Z':
			for _, z := range []string{"070000", "07:00:00", "0700", "07:00", "07"} {
				if at(i+1, z) {
					return cut(i, 1+len(z))
				}
			}
		case '.', ',':
			if i+1 < len(l) && (l[i+1] == '0' || l[i+1] == '9') {
				j := i + 1
				for j < len(l) && l[j] == l[i+1] {
					j++
				}
				if j == len(l) || l[j] < '0' || l[j] > '9' {
					return cut(i, j-i)
				}
			}
		}
	}
	return l, "", ""
}

func startsLower(s string) bool { return s != "" && 'a' <= s[0] && s[0] <= 'z' }

func isFraction(std string) bool { return std != "" && (std[0] == '.' || std[0] == ',') }

// Digit ranges as time.parse checks them. The calendar (February 30, day
// 366 of a common year) is checked by the runtime only.
var (
	reMonth2  = `0[1-9]|1[0-2]`
	reDay2    = `0[1-9]|[12][0-9]|3[01]`
	reHour2   = `[01][0-9]|2[0-3]`
	reHour12  = `0[0-9]|1[0-2]`
	reMinSec2 = `[0-5][0-9]`
	reYday3   = `00[1-9]|0[1-9][0-9]|[12][0-9][0-9]|3[0-5][0-9]|36[0-6]`
	reZoneH   = `[01][0-9]|2[0-4]`
	reZoneM   = `[0-5][0-9]|60`
	reZoneHMM = `0*(?:1?[0-9]|2[0-3])`
)

// follows says what the text after an element may start with.
type follows int

const (
	followsNonDigit follows = iota // a non-digit, or nothing
	followsDigit                   // always a digit
	followsEither                  // either
)

// layoutPattern is an anchored regular expression (RE2 and ECMA-262 alike)
// accepting the values parseTime reads with any of layouts.
func layoutPattern(layouts []string) string {
	alts := make([]string, len(layouts))
	for i, l := range layouts {
		alts[i] = layoutRegexp(l)
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

// layoutRegexp is the unanchored expression of one layout. It is built from
// the end, so that each element knows what may follow it: time.parse reads
// a number of one or two digits greedily, so the one-digit form is allowed
// only where no digit can follow (where one may, the expression keeps to
// the two-digit form, which is what the runtime writes).
func layoutRegexp(layout string) string {
	elems := splitLayout(layout)
	var parts []string
	next := followsNonDigit
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if e.std != "" {
			nextStd := ""
			if i+1 < len(elems) {
				nextStd = elems[i+1].std
			}
			var nextLit string
			if i+1 < len(elems) {
				nextLit = elems[i+1].lit
			}
			re, starts := stdRegexp(e.std, next, nextStd, nextLit)
			parts = append(parts, re)
			next = starts
		}
		if e.lit != "" {
			parts = append(parts, literalRegexp(e.lit, i == len(elems)-1))
			if c := e.lit[0]; c >= '0' && c <= '9' {
				next = followsDigit
			} else {
				next = followsNonDigit
			}
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String()
}

// literalRegexp matches literal text of a layout: a run of spaces matches
// one or more spaces (zero at the end of the value), as time.skip does.
func literalRegexp(lit string, last bool) string {
	var b strings.Builder
	for i := 0; i < len(lit); {
		if lit[i] == ' ' {
			j := i
			for j < len(lit) && lit[j] == ' ' {
				j++
			}
			if last && j == len(lit) {
				b.WriteString(" *")
			} else {
				b.WriteString(" +")
			}
			i = j
			continue
		}
		j := i
		for j < len(lit) && lit[j] != ' ' {
			j++
		}
		b.WriteString(regexp.QuoteMeta(lit[i:j]))
		i = j
	}
	return b.String()
}

// number is a number of one or two digits (three for a day of the year),
// read greedily: the shorter forms only where no digit may follow.
func number(long, short string, next follows) string {
	if next != followsNonDigit || short == "" {
		return "(?:" + long + ")"
	}
	return "(?:" + long + "|" + short + ")"
}

// stdRegexp is the expression of one layout element and what its text
// starts with. next says what may follow it; nextStd and nextLit are the
// following element and the literal before it.
func stdRegexp(std string, next follows, nextStd, nextLit string) (string, follows) {
	// A fraction is optional where the layout leaves it so, unless the
	// literal after it starts the way a fraction does: time.parse then
	// always reads one.
	fraction := func() string {
		if len(nextLit) >= 2 && (nextLit[0] == '.' || nextLit[0] == ',') && nextLit[1] >= '0' && nextLit[1] <= '9' {
			return `[.,][0-9]+`
		}
		return `(?:[.,][0-9]+)?`
	}
	switch std {
	case "2006":
		return `[0-9]{4}`, followsDigit
	case "06":
		return `[0-9]{2}`, followsDigit
	case "01":
		return "(?:" + reMonth2 + ")", followsDigit
	case "1":
		return number(reMonth2, `[1-9]`, next), followsDigit
	case "02":
		return "(?:" + reDay2 + ")", followsDigit
	case "2":
		return number(reDay2, `[1-9]`, next), followsDigit
	case "_2":
		return " ?" + number(reDay2, `[1-9]`, next), followsEither
	case "002":
		return "(?:" + reYday3 + ")", followsDigit
	case "__2":
		long := reYday3
		if next == followsNonDigit {
			long += `|0?[1-9][0-9]|0?0?[1-9]`
		}
		return " {0,2}(?:" + long + ")", followsEither
	case "15":
		return number(reHour2, `[0-9]`, next), followsDigit
	case "03":
		return "(?:" + reHour12 + ")", followsDigit
	case "3":
		return number(reHour12, `[0-9]`, next), followsDigit
	case "04":
		return "(?:" + reMinSec2 + ")", followsDigit
	case "4":
		return number(reMinSec2, `[0-9]`, next), followsDigit
	case "05", "5":
		// A fraction the layout does not name is read after the seconds.
		tail, after := "", next
		if !isFraction(nextStd) {
			tail = fraction()
			if next == followsDigit {
				after = followsEither
			}
		}
		if std == "05" {
			return "(?:" + reMinSec2 + ")" + tail, followsDigit
		}
		return number(reMinSec2, `[0-9]`, after) + tail, followsDigit
	case "January", "Jan", "Monday", "Mon":
		return namesRegexp(std), followsNonDigit
	case "PM":
		return `(?:AM|PM)`, followsNonDigit
	case "pm":
		return `(?:am|pm)`, followsNonDigit
	case "MST":
		// time.parseTimeZone: UTC; ChST or MeST; GMT, with an hour offset
		// or not; a signed hour offset; a run of three upper-case letters,
		// or four or five ending in T (or WITA), whose first three are not
		// UTC or GMT (those two are read as three letters). The run must
		// end there: exact where the layout goes on with neither an
		// upper-case letter nor a digit, as after MST it always does.
		first3 := `(?:[A-FH-TV-Z][A-Z]{2}|G(?:[A-LN-Z][A-Z]|M[A-SU-Z])|U(?:[A-SU-Z][A-Z]|T[ABD-Z]))`
		return `(?:[A-Z]{3}|ChST|MeST|WITA|` + first3 + `[A-Z]?T|GMT[+-]` + reZoneHMM + `|[+-]` + reZoneHMM + `)`, followsNonDigit
	}
	if isFraction(std) {
		if std[1] == '0' {
			return `[.,][0-9]{` + strconv.Itoa(len(std)-1) + `}`, followsNonDigit
		}
		return fraction(), followsNonDigit
	}
	if std[0] == 'Z' || std[0] == '-' {
		hh, mm := "(?:"+reZoneH+")", "(?:"+reZoneM+")"
		var off string
		switch std[1:] {
		case "070000":
			off = hh + mm + mm
		case "07:00:00":
			off = hh + ":" + mm + ":" + mm
		case "0700":
			off = hh + mm
		case "07:00":
			off = hh + ":" + mm
		case "07":
			off = hh
		}
		if std[0] == 'Z' {
			return "(?:Z|[+-]" + off + ")", followsNonDigit
		}
		return "[+-]" + off, followsNonDigit
	}
	return regexp.QuoteMeta(std), followsNonDigit
}

var (
	longMonths = []string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	longDays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// namesRegexp matches month or weekday names, in any case as time.lookup
// does; the case is spelled out in classes ([Jj][Aa][Nn]) so that the
// expression means the same in every regular-expression dialect.
func namesRegexp(std string) string {
	names := longMonths
	if std == "Monday" || std == "Mon" {
		names = longDays
	}
	alts := make([]string, len(names))
	for i, n := range names {
		if len(std) == 3 {
			n = n[:3]
		}
		var b strings.Builder
		for _, c := range n {
			b.WriteString("[" + strings.ToUpper(string(c)) + strings.ToLower(string(c)) + "]")
		}
		alts[i] = b.String()
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

// layoutWords writes a layout for people: 2006-01-02 15:04:05 becomes
// YYYY-MM-DD hh:mm:ss, followed by what the less common elements mean.
func layoutWords(layout string) (words string, zoned bool) {
	var b strings.Builder
	var notes []string
	note := func(s string) {
		for _, n := range notes {
			if n == s {
				return
			}
		}
		notes = append(notes, s)
	}
	hour12 := strings.Contains(layout, "PM") || strings.Contains(layout, "pm")
	for _, e := range splitLayout(layout) {
		b.WriteString(e.lit)
		switch e.std {
		case "":
		case "2006":
			b.WriteString("YYYY")
		case "06":
			b.WriteString("YY")
		case "01":
			b.WriteString("MM")
		case "02":
			b.WriteString("DD")
		case "15", "03":
			b.WriteString("hh")
		case "04":
			b.WriteString("mm")
		case "05":
			b.WriteString("ss")
		case "1", "2", "3", "4", "5":
			b.WriteString(map[string]string{"1": "M", "2": "D", "3": "h", "4": "m", "5": "s"}[e.std])
			note("M, D, h, m and s are numbers without a leading zero")
		case "_2":
			b.WriteString("_D")
			note("_D is the day padded with a space")
		case "002":
			b.WriteString("DDD")
			note("DDD is the day of the year, 001-366")
		case "__2":
			b.WriteString("__D")
			note("__D is the day of the year padded with spaces")
		case "January":
			b.WriteString("MMMM")
			note("MMMM is the month's name, as January")
		case "Jan":
			b.WriteString("MMM")
			note("MMM is the month's name in three letters, as Jan")
		case "Monday":
			b.WriteString("dddd")
			note("dddd is the weekday's name, as Monday")
		case "Mon":
			b.WriteString("ddd")
			note("ddd is the weekday's name in three letters, as Mon")
		case "PM":
			b.WriteString("AM/PM")
		case "pm":
			b.WriteString("am/pm")
		case "MST":
			zoned = true
			b.WriteString("ZZZ")
			note("ZZZ is a zone abbreviation such as UTC")
		default:
			if isFraction(e.std) {
				f := e.std[:1] + strings.Repeat("f", len(e.std)-1)
				if e.std[1] == '9' {
					b.WriteString("[" + f + "]")
					note("[" + f + "] is an optional fraction of a second")
				} else {
					b.WriteString(f)
					note(f + " is a fraction of a second of exactly " + strconv.Itoa(len(e.std)-1) + " digits")
				}
				continue
			}
			zoned = true
			off := strings.NewReplacer("07", "hh", "00", "mm").Replace(e.std[1:])
			off = strings.Replace(off, "mmmm", "mmss", 1)
			off = strings.Replace(off, "mm:mm", "mm:ss", 1)
			b.WriteString("±" + off)
			if e.std[0] == 'Z' {
				note("±" + off + " is the offset from UTC, or Z for UTC")
			} else {
				note("±" + off + " is the offset from UTC")
			}
		}
	}
	if hour12 {
		note("the hour is on a 12-hour clock")
	}
	words = b.String()
	if len(notes) > 0 {
		words += " (" + strings.Join(notes, "; ") + ")"
	}
	return words, zoned
}

// timeDescription says in words how a field with a layout of its own is
// written and what else is read.
func (f *Field) timeDescription(s *Shape) string {
	layouts := f.timeLayouts(s)
	words, zoned := layoutWords(layouts[0])
	kind := "UTC time as "
	switch {
	case f.Type == TypeDate:
		kind = "date as "
	case zoned:
		kind = "time as "
	}
	out := kind + words + " (Go layout " + layouts[0] + ")"
	var also []string
	for _, l := range layouts[1:] {
		switch l {
		case time.RFC3339Nano:
			also = append(also, "an RFC 3339 timestamp (2006-01-02T15:04:05Z07:00)")
		case time.DateOnly:
			also = append(also, "YYYY-MM-DD")
		}
	}
	if len(also) > 0 {
		out += "; also read: " + strings.Join(also, ", ")
	}
	return out
}
