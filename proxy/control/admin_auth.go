package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// DefaultTokenName is who a change is recorded as when the token variable
// holds a single token without a name.
const DefaultTokenName = "admin"

// MinTokenLength is the shortest token accepted without a warning.
const MinTokenLength = 16

// Token is one admin bearer token and the name it is recorded under.
type Token struct {
	Name string
	hash [sha256.Size]byte
}

// Tokens are the admin API's credentials. The zero value holds none.
type Tokens struct {
	list []Token
	weak []string // names of tokens shorter than MinTokenLength
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// ParseTokens reads the value of the admin token variable: empty (no
// token), one token (recorded as "admin"), or a comma-separated list of
// name:token pairs. Tokens may not contain ',' or ':' and may not be
// repeated; names are letters, digits, '_', '.', '@' and '-'. The error
// never repeats a token.
func ParseTokens(value string) (Tokens, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return Tokens{}, nil
	}
	var ts Tokens
	if !strings.ContainsAny(value, ",:") {
		ts.add(DefaultTokenName, value)
		return ts, nil
	}
	names := map[string]bool{}
	seen := map[[sha256.Size]byte]bool{}
	for i, part := range strings.Split(value, ",") {
		name, tok, ok := strings.Cut(strings.TrimSpace(part), ":")
		switch {
		case !ok:
			return Tokens{}, fmt.Errorf("admin token list entry %d: expected name:token", i+1)
		case !tokenName.MatchString(name):
			return Tokens{}, fmt.Errorf("admin token list entry %d: name %q: use letters, digits, '_', '.', '@' or '-' (at most 64)", i+1, name)
		case tok == "" || strings.ContainsAny(tok, ": \t"):
			return Tokens{}, fmt.Errorf("admin token list entry %d (%s): the token is empty or holds ':' or a space", i+1, name)
		case names[name]:
			return Tokens{}, fmt.Errorf("admin token list entry %d: name %q is repeated", i+1, name)
		}
		h := sha256.Sum256([]byte(tok))
		if seen[h] {
			return Tokens{}, fmt.Errorf("admin token list entry %d (%s): the same token is given to another name", i+1, name)
		}
		names[name], seen[h] = true, true
		ts.add(name, tok)
	}
	return ts, nil
}

func (ts *Tokens) add(name, tok string) {
	ts.list = append(ts.list, Token{Name: name, hash: sha256.Sum256([]byte(tok))})
	if len(tok) < MinTokenLength {
		ts.weak = append(ts.weak, name)
	}
}

// Empty reports whether no token is configured.
func (ts Tokens) Empty() bool { return len(ts.list) == 0 }

// Names lists the token names, in the order given.
func (ts Tokens) Names() []string {
	out := make([]string, len(ts.list))
	for i, t := range ts.list {
		out[i] = t.Name
	}
	return out
}

// Weak lists the names of tokens shorter than MinTokenLength.
func (ts Tokens) Weak() []string { return ts.weak }

// Match returns the name of the token equal to presented. Every candidate
// is compared, in constant time over SHA-256 digests (so that neither the
// position of the first difference nor the token's length leaks), without
// an early exit.
func (ts Tokens) Match(presented string) (string, bool) {
	h := sha256.Sum256([]byte(presented))
	found := -1
	for i := range ts.list {
		if subtle.ConstantTimeCompare(h[:], ts.list[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return ts.list[found].Name, true
}

// errNoBearer is a request without a usable Authorization header.
var errNoBearer = errors.New("missing bearer token")

// bearer extracts the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", errNoBearer
	}
	return strings.TrimSpace(tok), nil
}

// ClientToken returns the token a client sends, from the value of the admin
// token variable: the value itself, or the token of a single name:token
// entry. A list of several entries is refused: a client needs one token.
func ClientToken(value string) (string, error) {
	value = strings.TrimSpace(value)
	if strings.Contains(value, ",") {
		return "", errors.New("the admin token variable holds a list; a client needs one token (name:token or token)")
	}
	if _, tok, ok := strings.Cut(value, ":"); ok {
		return tok, nil
	}
	return value, nil
}
