// Package yamlpos holds what the two YAML formats of strangler (the project
// file and recipes) share to name file:line:field in their errors: the
// positioned error types, the line of each key path, YAML syntax errors with
// true line numbers, and "did you mean" suggestions for unknown keys.
package yamlpos

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one mistake in a file.
type FieldError struct {
	File  string // the file
	Line  int    // 1-based; 0 when unknown
	Field string // path of the key: routes[2].mode
	Msg   string // what is wrong, with the value
}

// Error writes file:line: field: message.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every mistake found in a file, in file order.
type Errors []*FieldError

// Error writes one mistake per line.
func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each FieldError to errors.As.
func (es *Errors) Unwrap() []error {
	out := make([]error, len(*es))
	for i, e := range *es {
		out[i] = e
	}
	return out
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxError turns a yaml.v3 parse error into a positioned error of file
// name. yaml.v3 counts lines from 0 for its parser's errors (not its
// scanner's); the line returned is the true one.
func SyntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if parserError(m[2]) {
			n++
		}
		return &Errors{{File: name, Line: n, Msg: "invalid YAML: " + m[2]}}
	}
	return &Errors{{File: name, Line: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
}

// parserError reports the messages of yaml.v3's parser, as opposed to its
// scanner: they carry a 0-based line.
func parserError(msg string) bool {
	for _, p := range []string{"did not find expected <document start>", "did not find expected node content",
		"did not find expected key", "did not find expected '-' indicator", "did not find expected ',' or",
		"found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Positions maps key paths (routes[2].mode) to the line of their value.
type Positions map[string]int

// Line returns the line of path or of its closest ancestor present in the
// file (a missing key is reported at the object that lacks it), 0 when none
// is.
func (p Positions) Line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Has reports whether path was written in the file.
func (p Positions) Has(path string) bool { _, ok := p[path]; return ok }

// Suggest names the known key closest to an unknown one, " (did you mean
// "x"?)", or lists the known keys.
func Suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, name := range known {
		if dd := EditDistance(key, name); dd < bestD {
			best, bestD = name, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	names := slices.Clone(known)
	slices.Sort(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

// Describe names what a node holds, for "expected a list, found ..." errors.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// EditDistance is the Levenshtein distance of two keys; keys longer than 64
// bytes are "far" (64) so that a hostile file cannot cost quadratic time.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
