package control

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseTokens(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		names       []string
		err         string
	}{
		{name: "empty", value: "  "},
		{name: "single", value: "s3cret-s3cret-s3cret", names: []string{"admin"}},
		{name: "list", value: "alice:tok-a, bob:tok-b", names: []string{"alice", "bob"}},
		{name: "one named", value: "ci:tok", names: []string{"ci"}},
		{name: "entry without name", value: "alice:tok-a,tok-b", err: "entry 2: expected name:token"},
		{name: "empty token", value: "alice:", err: "entry 1 (alice)"},
		{name: "bad name", value: "al ice:tok", err: "name \"al ice\""},
		{name: "repeated name", value: "a:x,a:y", err: "repeated"},
		{name: "shared token", value: "a:x,b:x", err: "same token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTokens(tc.value)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "tok-b", "the error repeats a token")
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(tc.names) == 0, ts.Empty())
			if len(tc.names) > 0 {
				require.Equal(t, tc.names, ts.Names())
			}
		})
	}
}

func TestTokensMatch(t *testing.T) {
	ts, err := ParseTokens("alice:tok-alice-0123456789,bob:tok-bob-0123456789")
	require.NoError(t, err)
	require.Empty(t, ts.Weak())
	for _, tc := range []struct {
		name, presented, who string
		ok                   bool
	}{
		{"alice", "tok-alice-0123456789", "alice", true},
		{"bob", "tok-bob-0123456789", "bob", true},
		{"prefix", "tok-bob-012345678", "", false},
		{"longer", "tok-bob-01234567890", "", false},
		{"name:token is not the token", "bob:tok-bob-0123456789", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who, ok := ts.Match(tc.presented)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.who, who)
		})
	}
	weak, err := ParseTokens("short")
	require.NoError(t, err)
	require.Equal(t, []string{"admin"}, weak.Weak())
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"Bearer abc", "abc"}, {"bearer  abc ", "abc"}, {"Basic abc", ""}, {"Bearer", ""}, {"", ""},
	} {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/routes", nil)
			r.Header.Set("Authorization", tc.header)
			got, err := bearer(r)
			if tc.want == "" {
				require.ErrorIs(t, err, errNoBearer)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestClientToken(t *testing.T) {
	for _, tc := range []struct{ value, want, err string }{
		{"abc", "abc", ""}, {"ops:abc", "abc", ""}, {"a:x,b:y", "", "list"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got, err := ClientToken(tc.value)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCheckAdminListen(t *testing.T) {
	one, err := ParseTokens("tok")
	require.NoError(t, err)
	for _, tc := range []struct {
		addr   string
		tokens Tokens
		ok     bool
	}{
		{"127.0.0.1:9901", Tokens{}, true},
		{"localhost:9901", Tokens{}, true},
		{"[::1]:9901", Tokens{}, true},
		{"0.0.0.0:9901", Tokens{}, false},
		{":9901", Tokens{}, false},
		{"10.1.2.3:9901", Tokens{}, false},
		{"0.0.0.0:9901", one, true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := CheckAdminListen(tc.addr, tc.tokens)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "needs a token")
			}
		})
	}
}
