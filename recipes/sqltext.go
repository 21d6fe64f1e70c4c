package recipes

import (
	"fmt"
	"strconv"
	"strings"
)

// rewriteParams turns the :name placeholders of a named query into $n, in
// the order they first appear; string literals, quoted identifiers, comments
// and :: casts are left alone. A :name that is not declared is refused.
func rewriteParams(sql string, declared map[string]bool) (string, []string, error) {
	var b strings.Builder
	var order []string
	index := map[string]int{}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				return "", nil, fmt.Errorf("unterminated %c quote at offset %d", c, i)
			}
			b.WriteString(sql[i : j+1])
			i = j + 1
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			b.WriteString(sql[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return "", nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			b.WriteString(sql[i : i+j+4])
			i += j + 4
		case c == '$':
			return "", nil, fmt.Errorf("write parameters as :name, not $ (offset %d)", i)
		case c == ':' && strings.HasPrefix(sql[i:], "::"):
			b.WriteString("::")
			i += 2
		case c == ':':
			j := i + 1
			for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || j > i+1 && sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			name := sql[i+1 : j]
			if name == "" {
				b.WriteByte(c)
				i++
				continue
			}
			if !declared[name] {
				return "", nil, fmt.Errorf(":%s is not a declared parameter", name)
			}
			n, ok := index[name]
			if !ok {
				order = append(order, name)
				n = len(order)
				index[name] = n
			}
			b.WriteString("$" + strconv.Itoa(n))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), order, nil
}
