package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
)

// These tests check the DSNs of a project file with the real parser, which
// lives in internal/dbconn so that config links no database driver.

func parse(src string) (*config.Config, error) {
	return config.Parse("strangler.yaml", []byte(src), dbconn.Parser{})
}

func TestBadServiceDatabase(t *testing.T) {
	_, err := parse("services:\n  - recipe: r.yaml\n    listen: 127.0.0.1:9100\n    database: postgres://app:s3cretpw@db:notaport/shop\n")
	require.EqualError(t, err, "strangler.yaml:4: services[0].database: parsing PostgreSQL DSN: cannot parse `postgres://app:xxxxx@db:notaport/shop`: invalid port")
}

func TestPasswordsNeverInErrors(t *testing.T) {
	tests := []struct{ name, legacy, newDB string }{
		{"url bad port", "mysql://app:s3cretpw@db:xx/shop", ""},
		{"driver dsn bad param", "app:s3cretpw@tcp(db:3306)/shop?timeout=never", ""},
		{"postgres bad port", "", "postgres://app:s3cretpw@db:notaport/shop"},
		{"postgres bad kv", "", "host=db password=s3cretpw port=nope"},
		{"state bad port", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "databases:\n  legacy: " + tt.legacy + "\n  new: " + tt.newDB + "\n"
			if tt.legacy == "" && tt.newDB == "" {
				src = "state: postgres://app:s3cretpw@db:notaport/shop\n"
			}
			_, err := parse(src)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cretpw")
			assert.Regexp(t, `databases\.|state`, err.Error())
		})
	}
}

func TestSyncDSNsChecked(t *testing.T) {
	_, err := parse("sync:\n  - name: shop\n    source: mysql://app:s3cretpw@db:xx/shop\n    target: postgres://db:notaport/shop\n    tables: [orders]\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "strangler.yaml:3: sync[0].source: parsing MySQL URL")
	assert.Contains(t, err.Error(), "strangler.yaml:4: sync[0].target: parsing PostgreSQL DSN")
	assert.NotContains(t, err.Error(), "s3cretpw")
}

func TestEnvReferencesInDSNs(t *testing.T) {
	t.Setenv("SHOP_DB_PASSWORD", "p@ss")
	c, err := parse("databases:\n  legacy: mysql://app:${SHOP_DB_PASSWORD}@db:3307/shop?parseTime=true\n")
	require.NoError(t, err)
	assert.Empty(t, c.Warnings, "an env reference is not an inline password")
	dsn, err := dbconn.MySQLDSN(c.Databases.Legacy)
	require.NoError(t, err)
	assert.Contains(t, dsn, "app:p@ss@tcp(db:3307)/shop")
	assert.Contains(t, dsn, "parseTime=true")

	_, err = parse("databases:\n  new: postgres://app:${NOT_SET_ANYWHERE}@db/shop\n")
	require.EqualError(t, err, "strangler.yaml:2: databases.new: environment variable NOT_SET_ANYWHERE is not set")
}

func TestWarnings(t *testing.T) {
	c, err := parse("admin: {listen: 0.0.0.0:9901, token_env: STRANGLER_TEST_UNSET_TOKEN}\ndatabases:\n  legacy: mysql://app:pw@db/shop\n")
	require.NoError(t, err)
	require.Len(t, c.Warnings, 2)
	assert.Contains(t, c.Warnings[0], "strangler.yaml:1: admin.listen")
	assert.Contains(t, c.Warnings[1], "databases.legacy: holds a password")
	assert.NotContains(t, strings.Join(c.Warnings, " "), "pw@")
}

// TestInlinePasswordWarning: a password written in the file is warned
// about, in every DSN form; a ${VAR} reference is not.
func TestInlinePasswordWarning(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want bool
	}{
		{"mysql://app:pw@db/shop", true},
		{"mysql://app:${PW}@db/shop", false},
		{"mysql://app:pre${PW}@db/shop", true},
		{"app:${PW}@tcp(db:3306)/shop", false},
		{"app:pw@tcp(db:3306)/shop", true},
		{"root@/shop", false},
		{"root@tcp(127.0.0.1:3306)/shop", false},
		{"mysql://u@h/db?allowNativePasswords=true", false},
		{"postgres://u@h/db", false},
		{"postgres://u:${PW}@h/db", false},
		{"postgresql://u:pw@h/db", true},
		{"postgres://u@h/db?password=pw", true},
		{"postgres://u@h/db?password=${PW}", false},
		{"host=h password=${PW} dbname=x", false},
		{"host=h password=pw dbname=x", true},
		{"host=h password='${PW}'", false},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			t.Setenv("PW", "secret")
			field := "legacy"
			if strings.HasPrefix(strings.ToLower(tc.dsn), "postgres") || strings.HasPrefix(tc.dsn, "host=") {
				field = "new"
			}
			c, err := parse("databases:\n  " + field + ": \"" + tc.dsn + "\"\n")
			require.NoError(t, err)
			warned := strings.Contains(strings.Join(c.Warnings, "\n"), "databases."+field+": holds a password")
			require.Equal(t, tc.want, warned, c.Warnings)
		})
	}
}
