package contract

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// A path template is inferred from concrete paths one segment at a time,
// with no knowledge of the other paths (extract/samples does the richer,
// cross-sample inference):
//
//   - a segment whose text is a value of the capture's route variables
//     (Record.Request.Vars) is that variable;
//   - a version prefix (v1, v2.1) is literal;
//   - digits, a UUID, 16 or more hex digits, the facade's redaction mark,
//     or a slug (lower-case words joined by hyphens, with a digit or of
//     three words or more) is a variable;
//   - anything else is literal.
//
// A variable named by the route keeps its name; the others are named id
// when last, else after the segment before them (customers/3/orders/7:
// {customerId} and {id}).

// segment is one segment of a template: literal text, or a variable.
type segment struct {
	text  string // the literal, or the concrete value of a variable
	isVar bool
	name  string // the variable's name from the route; "" if inferred
}

// redactedMark is what the facade writes in place of a redacted value
// (proxy.Redacted).
const redactedMark = "[REDACTED]"

var (
	reVersion = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)*$`)
	reDigits  = regexp.MustCompile(`^[0-9]+$`)
	reHexID   = regexp.MustCompile(`^[0-9a-fA-F]{16,}$`)
	reSlug    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
)

// splitPath cuts a concrete path into segments, naming those the route's
// variables name.
func splitPath(path string, vars map[string]string) []segment {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "/" || path == "" {
		parts = nil
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.Sort(names)
	used := map[string]bool{}
	out := make([]segment, len(parts))
	for i, p := range parts {
		out[i] = segment{text: p}
		for _, n := range names {
			if !used[n] && vars[n] == p && p != "" {
				used[n] = true
				out[i] = segment{text: p, isVar: true, name: n}
				break
			}
		}
		if !out[i].isVar && isIDSegment(p) {
			out[i].isVar = true
		}
	}
	return out
}

// isIDSegment says whether a segment with no route variable is an id.
func isIDSegment(s string) bool {
	switch {
	case s == "" || reVersion.MatchString(s):
		return false
	case s == redactedMark, reDigits.MatchString(s), reUUID.MatchString(s):
		return true
	case reHexID.MatchString(s) && strings.ContainsAny(s, "0123456789"):
		return true
	case reSlug.MatchString(s):
		return strings.ContainsAny(s, "0123456789") || strings.Count(s, "-") >= 2
	}
	return false
}

// shapeKey is a template with its variables' names left out: the key
// under which paths of one endpoint meet, and under which the check
// matches paths of two documents (/orders/{id} is /orders/{orderId}).
func shapeKey(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if s.isVar {
			b.WriteString("{}")
		} else {
			b.WriteString(url.PathEscape(s.text))
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// templateShape is the shape key of an OpenAPI path template.
func templateShape(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "/" || path == "" {
		return "/"
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			b.WriteString("{}")
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

// templateVars are the variable names of an OpenAPI path template, in order.
func templateVars(path string) []string {
	var out []string
	for _, p := range strings.Split(path, "/") {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			out = append(out, p[1:len(p)-1])
		}
	}
	return out
}

// nameVars gives every variable of a shape a name: routeNames[i] (the
// route's name for the i-th variable, "" if none) wins, the others are
// named as the package comment says. The names are unique.
func nameVars(segs []segment, routeNames []string) []string {
	var vars []int
	for i, s := range segs {
		if s.isVar {
			vars = append(vars, i)
		}
	}
	names := make([]string, len(vars))
	taken := map[string]bool{}
	for j := range vars {
		if j < len(routeNames) && routeNames[j] != "" && !taken[routeNames[j]] {
			names[j] = routeNames[j]
			taken[names[j]] = true
		}
	}
	for j, at := range vars {
		if names[j] != "" {
			continue
		}
		name := "id"
		if j < len(vars)-1 && at > 0 && !segs[at-1].isVar {
			if base := identWord(singular(segs[at-1].text)); base != "" {
				name = base + "Id"
			}
		}
		for n := 2; taken[name]; n++ {
			name = strings.TrimRight(name, "0123456789") + strconv.Itoa(n)
		}
		names[j] = name
		taken[name] = true
	}
	return names
}

// template writes a shape with its variables' names.
func template(segs []segment, names []string) string {
	if len(segs) == 0 {
		return "/"
	}
	var b strings.Builder
	j := 0
	for _, s := range segs {
		b.WriteByte('/')
		if s.isVar {
			b.WriteString("{" + names[j] + "}")
			j++
		} else {
			b.WriteString(url.PathEscape(s.text)) // as sent: a literal { is no variable
		}
	}
	return b.String()
}

// singular is a plural English word made singular, roughly.
func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 3:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ses") || strings.HasSuffix(w, "xes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return w[:len(w)-1]
	}
	return w
}

// identWord is w in lower camel case, letters and digits only: order-items
// is orderItems. It is "" when w holds no letter.
func identWord(w string) string {
	var b strings.Builder
	upper := false
	for _, r := range w {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if b.Len() == 0 && unicode.IsDigit(r) {
				continue
			}
			if upper && b.Len() > 0 {
				r = unicode.ToUpper(r)
			} else if b.Len() == 0 {
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}
