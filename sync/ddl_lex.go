package sync

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a DDL token.
type tokKind uint8

const (
	tokWord   tokKind = iota + 1 // keyword or bare identifier
	tokQuoted                    // `backquoted identifier`
	tokString                    // 'string' or "string"
	tokNumber                    // 12, 1.5, -3 (the sign is its own token)
	tokPunct                     // ( ) , . = ; and other single characters
)

// token is one lexical token of a MySQL statement.
type token struct {
	kind tokKind
	text string // identifiers and strings unquoted; words as written
	pos  int    // byte offset in the statement
}

// is reports whether t is the keyword or punctuation s (case-insensitive).
func (t token) is(s string) bool {
	return (t.kind == tokWord || t.kind == tokPunct) && strings.EqualFold(t.text, s)
}

// ident reports whether t can name a table or column.
func (t token) ident() bool { return t.kind == tokWord || t.kind == tokQuoted }

// lexSQL splits a MySQL statement into tokens. Comments are dropped, except
// executable comments (/*! ... */ and /*M! ... */), whose content MySQL runs
// and which are therefore read as part of the statement.
func lexSQL(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '#' || (c == '-' && i+2 < len(s)+1 && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] == ' ' || s[i+2] == '\t' || s[i+2] == '\n')):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			body := s[i+2 : i+2+j]
			if strings.HasPrefix(body, "!") || strings.HasPrefix(body, "M!") {
				body = strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(body, "M"), "!"), "0123456789")
				inner, err := lexSQL(body)
				if err != nil {
					return nil, err
				}
				for _, t := range inner {
					t.pos += i + 2
					out = append(out, t)
				}
			}
			i += j + 4
		case c == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated identifier at offset %d", i)
				}
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{tokQuoted, b.String(), i})
			i = j + 1
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string at offset %d", i)
				}
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(unescapeMySQL(s[j+1]))
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{tokString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == 'x' || s[j] == 'X' ||
				s[j] >= 'a' && s[j] <= 'f' || s[j] >= 'A' && s[j] <= 'F') {
				j++
			}
			if j < len(s) && isWordByte(s[j]) { // 1abc is an identifier in MySQL
				for j < len(s) && isWordByte(s[j]) {
					j++
				}
				out = append(out, token{tokWord, s[i:j], i})
			} else {
				out = append(out, token{tokNumber, s[i:j], i})
			}
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{tokWord, s[i:j], i})
			i = j
		default:
			out = append(out, token{tokPunct, s[i : i+1], i})
			i++
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func unescapeMySQL(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'Z':
		return 26
	}
	return c
}

// tokens is a cursor over a token list.
type tokens struct {
	t []token
	i int
}

func (p *tokens) peek() token {
	if p.i < len(p.t) {
		return p.t[p.i]
	}
	return token{}
}

func (p *tokens) next() token {
	t := p.peek()
	if p.i < len(p.t) {
		p.i++
	}
	return t
}

func (p *tokens) done() bool { return p.i >= len(p.t) || p.peek().is(";") && p.i == len(p.t)-1 }

// accept consumes the keywords in order if they all come next.
func (p *tokens) accept(words ...string) bool {
	for k, w := range words {
		if p.i+k >= len(p.t) || !p.t[p.i+k].is(w) {
			return false
		}
	}
	p.i += len(words)
	return true
}

// skipGroup consumes a parenthesised group; the cursor is on "(".
func (p *tokens) skipGroup() {
	depth := 0
	for !p.done() {
		t := p.next()
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
			if depth <= 0 {
				return
			}
		}
	}
}

// skipToComma consumes up to (not including) the next top-level comma.
func (p *tokens) skipToComma() {
	for !p.done() {
		t := p.peek()
		if t.is(",") || t.is(";") {
			return
		}
		if t.is("(") {
			p.skipGroup()
			continue
		}
		p.next()
	}
}

// tableName reads [schema.]table.
func (p *tokens) tableName() (schema, name string, ok bool) {
	t := p.next()
	if !t.ident() {
		return "", "", false
	}
	if p.peek().is(".") {
		p.next()
		n := p.next()
		if !n.ident() {
			return "", "", false
		}
		return t.text, n.text, true
	}
	return "", t.text, true
}
