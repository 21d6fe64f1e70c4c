package dbconn

import (
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// redacted replaces a secret in a redacted DSN or URL.
const redacted = "xxxxx"

// Unparseable is what Redact returns for a string that could hold a
// password but parses as no DSN or URL: printed as it is, a password in it
// would leak.
const Unparseable = "[unparseable DSN]"

// Redact returns a DSN or URL with its password, and any query parameter
// or keyword holding a secret, replaced by "xxxxx", for logs and errors.
// It parses the string in the form it is written: a URL (any scheme, in
// any case), a PostgreSQL keyword/value DSN, or a go-sql-driver DSN (then
// written back in the driver's own form). A string with neither '@' nor
// '=' holds no password and is returned as it is; any other string that
// parses as none of them is returned as Unparseable.
func Redact(dsn string) string {
	out, _, err := redactDSN(dsn)
	if err != nil {
		return Unparseable
	}
	return out
}

// urlScheme matches the start of a URL: scheme "://".
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// kvStart matches the first keyword of a keyword/value DSN.
var kvStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)

// redactDSN returns dsn redacted and the secrets it held.
func redactDSN(dsn string) (string, []string, error) {
	switch {
	case urlScheme.MatchString(dsn):
		return redactURL(dsn)
	case kvStart.MatchString(dsn):
		return redactKeywords(dsn)
	case !strings.ContainsAny(dsn, "@="):
		return dsn, nil, nil
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", nil, err
	}
	var secrets []string
	if cfg.Passwd != "" {
		secrets = append(secrets, cfg.Passwd)
		cfg.Passwd = redacted
	}
	for k, v := range cfg.Params {
		if isSecretKey(k) {
			secrets = append(secrets, v)
			cfg.Params[k] = redacted
		}
	}
	return cfg.FormatDSN(), secrets, nil
}

// secretKeys are the query parameters and keywords that hold a secret, in
// lower case. (Not every key with "pass" in it: allowNativePasswords=true
// is no secret.)
var secretKeys = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "sslpassword": true,
	"secret": true, "client_secret": true, "token": true, "access_token": true, "auth_token": true,
	"api_key": true, "apikey": true,
}

// isSecretKey reports a query parameter or keyword that holds a secret.
func isSecretKey(k string) bool { return secretKeys[strings.ToLower(k)] }

// redactURL redacts the password of a URL's userinfo and its secret query
// parameters.
func redactURL(raw string) (string, []string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, err
	}
	var secrets []string
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, part := range parts {
			k, v, _ := strings.Cut(part, "=")
			key, err := url.QueryUnescape(k)
			if err != nil || !isSecretKey(key) {
				continue
			}
			if val, err := url.QueryUnescape(v); err == nil {
				v = val
			}
			secrets = append(secrets, v)
			parts[i] = k + "=" + redacted
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.Redacted(), secrets, nil
}

// errKeywords is a keyword/value DSN that does not tokenize.
var errKeywords = errors.New("malformed keyword/value DSN")

// redactKeywords redacts the secret values of a PostgreSQL keyword/value
// DSN (key = value, values single-quoted or backslash-escaped as libpq
// reads them), leaving the rest of the text as it is.
func redactKeywords(dsn string) (string, []string, error) {
	var out strings.Builder
	var secrets []string
	i, n := 0, len(dsn)
	space := func() {
		for i < n && isSpace(dsn[i]) {
			i++
		}
	}
	for {
		start := i
		space()
		if i == n {
			out.WriteString(dsn[start:])
			return out.String(), secrets, nil
		}
		k := i
		for i < n && dsn[i] != '=' && !isSpace(dsn[i]) {
			i++
		}
		key := dsn[k:i]
		space()
		if key == "" || i == n || dsn[i] != '=' {
			return "", nil, errKeywords
		}
		i++
		space()
		vstart := i
		var val strings.Builder
		if i < n && dsn[i] == '\'' {
			i++
			for {
				if i == n {
					return "", nil, errKeywords // an unterminated quote
				}
				c := dsn[i]
				if c == '\\' && i+1 < n {
					val.WriteByte(dsn[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					break
				}
				val.WriteByte(c)
			}
		} else {
			for i < n && !isSpace(dsn[i]) {
				if dsn[i] == '\\' && i+1 < n {
					i++
				}
				val.WriteByte(dsn[i])
				i++
			}
		}
		out.WriteString(dsn[start:vstart])
		if isSecretKey(key) {
			secrets = append(secrets, val.String())
			out.WriteString(redacted)
		} else {
			out.WriteString(dsn[vstart:i])
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
