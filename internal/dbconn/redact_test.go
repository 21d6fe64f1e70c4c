package dbconn

import (
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"mysql URL", "mysql://app:secret@db:3306/shop", "mysql://app:xxxxx@db:3306/shop"},
		{"driver form", "app:secret@tcp(db:3306)/shop", "app:xxxxx@tcp(db:3306)/shop"},
		{"postgres URL", "postgres://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"keywords", "host=h password=secret dbname=x", "host=h password=xxxxx dbname=x"},
		{"URL without password", "postgres://u@h/db", "postgres://u@h/db"},
		{"driver form without password", "root@tcp(127.0.0.1:3306)/shop", "root@tcp(127.0.0.1:3306)/shop"},
		{"driver form, @ and : in the password", "app:p@ss:word@tcp(db:3306)/shop?x=y", "app:xxxxx@tcp(db:3306)/shop?x=y"},
		{"keywords, quoted password", "host=h password='s e c r e t' dbname=x", "host=h password=xxxxx dbname=x"},
		{"driver form, default address", "u:secret@/db", "u:xxxxx@tcp(127.0.0.1:3306)/db"},
		{"driver form, unix socket", "u:secret@unix(/tmp/my.sock)/db", "u:xxxxx@unix(/tmp/my.sock)/db"},
		{"driver form, / in the password", "u:se/cret@tcp(h:3306)/db", "u:xxxxx@tcp(h:3306)/db"},
		{"upper-case scheme", "POSTGRES://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"mixed-case scheme", "MySQL://u:secret@h/db", "mysql://u:xxxxx@h/db"},
		{"@ in a URL password", "mysql://u:p@ss@host/db", "mysql://u:xxxxx@host/db"},
		{"escaped @ in a URL password", "mysql://u:p%40ss@host/db", "mysql://u:xxxxx@host/db"},
		{"password in a URL query", "postgres://u@h/db?sslmode=disable&password=secret", "postgres://u@h/db?sslmode=disable&password=xxxxx"},
		{"token in an http URL", "http://h:9100/hook?Token=secret&a=1", "http://h:9100/hook?Token=xxxxx&a=1"},
		{"no secret in allow params", "mysql://u@h/db?allowNativePasswords=true", "mysql://u@h/db?allowNativePasswords=true"},
		{"http URL with user and password", "https://ops:secret@id.example/jwks.json", "https://ops:xxxxx@id.example/jwks.json"},
		{"keywords, spaces around =", "host = h  password = secret", "host = h  password = xxxxx"},
		{"keywords, escaped quote", `password='it\'s secret' host=h`, "password=xxxxx host=h"},
		{"keywords, backslash-escaped space", `password=sec\ ret host=h`, "password=xxxxx host=h"},
		{"keywords, sslpassword", "host=h sslpassword=secret", "host=h sslpassword=xxxxx"},
		{"keywords, unterminated quote", "host=h password='secret", Unparseable},
		{"keywords, a word without =", "host=h secret", Unparseable},
		{"neither form", "u:secret@tcp(h:3306", Unparseable},
		{"bad URL", "postgres://u:secret@h:port/db", Unparseable},
		{"no @ nor =: nothing to hide", "127.0.0.1:9100", "127.0.0.1:9100"},
		{"file path", "routes.state.json", "routes.state.json"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got, "secret")
			assert.NotContains(t, got, "ss:word")
		})
	}
}

// FuzzRedact feeds arbitrary strings to Redact: it never panics, and the
// password the driver or the URL parser reads from the string is taken
// out of what it returns.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"mysql://app:secret@db:3306/shop", "app:p@ss:word@tcp(db:3306)/shop?x=y", "u:secret@/db",
		"POSTGRES://u:secret@h/db", "mysql://u:p@ss@host/db", "host=h password='s e c r e t' dbname=x",
		`password='it\'s' host=h`, "postgres://u@h/db?password=secret",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		got := Redact(dsn)
		if got == Unparseable {
			return
		}
		var pw string
		if cfg, err := mysql.ParseDSN(dsn); err == nil && !urlScheme.MatchString(dsn) && !kvStart.MatchString(dsn) {
			pw = cfg.Passwd
		}
		if u, err := url.Parse(dsn); err == nil && urlScheme.MatchString(dsn) {
			pw, _ = u.User.Password()
		}
		// The password may also be written elsewhere (as the user name): at
		// least its own occurrence must be gone.
		if len(pw) >= 6 && !strings.Contains(redacted, pw) && strings.Count(got, pw) >= strings.Count(dsn, pw) {
			t.Fatalf("Redact(%q) = %q holds the password %q", dsn, got, pw)
		}
	})
}

func TestParseMySQLSchemeCase(t *testing.T) {
	for _, dsn := range []string{"MYSQL://root:pw@db:3307/shop", "MariaDB://root:pw@db:3307/shop"} {
		cfg, err := ParseMySQL(dsn)
		require.NoError(t, err, dsn)
		require.Equal(t, "db:3307", cfg.Addr)
		require.Equal(t, "pw", cfg.Passwd)
	}
}

func TestParseMySQLForms(t *testing.T) {
	for _, dsn := range []string{"mysql://root@127.0.0.1:3306/shop", "root@tcp(127.0.0.1:3306)/shop", "mysql://root@127.0.0.1/shop"} {
		cfg, err := ParseMySQL(dsn)
		require.NoError(t, err, dsn)
		assert.Equal(t, "root", cfg.User)
		assert.Equal(t, "127.0.0.1:3306", cfg.Addr)
		assert.Equal(t, "shop", cfg.DBName)
	}
}
