package legacyshop_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// login posts the home page's form and returns the answer and its session
// cookie (nil without one).
func (s *shop) login(t *testing.T, email, password string) (answer, *http.Cookie) {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}.Encode()
	a := s.do(t, http.MethodPost, "/login", form, "Content-Type", "application/x-www-form-urlencoded")
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == legacyshop.SessionCookie {
			return a, c
		}
	}
	return a, nil
}

// TestSession: POST /login sets the shop_session cookie, GET /api/me reads
// it (401 without), POST /logout and expiry end it.
func TestSession(t *testing.T) {
	s := newShop(t, legacyshop.SeedOptions{Customers: 3, Products: 2, Orders: 10})
	cookie := func(c *http.Cookie) string { return c.Name + "=" + c.Value }

	a := s.get(t, "/api/me")
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.JSONEq(t, `{"error": "not logged in"}`, string(a.body))
	assert.Equal(t, http.StatusUnauthorized, s.get(t, "/api/me", "Cookie", legacyshop.SessionCookie+"=nosuchsession").status)

	a, c := s.login(t, "customer2@example.com", "wrong")
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Nil(t, c, "no cookie for a bad password")
	_, c = s.login(t, "nobody@example.com", legacyshop.SeedPassword)
	assert.Nil(t, c, "no cookie for an unknown email")

	a, c = s.login(t, "customer2@example.com", legacyshop.SeedPassword)
	require.Equal(t, http.StatusFound, a.status)
	assert.Equal(t, "/", a.header.Get("Location"), "a form goes back to the home page")
	require.NotNil(t, c)
	assert.Regexp(t, `^[0-9a-f]{32}$`, c.Value)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, int64(2), scalar[int64](t, s.db, "SELECT customer_id FROM sessions WHERE id = ?", c.Value))

	a = s.get(t, "/api/me", "Cookie", cookie(c))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.JSONEq(t, string(s.get(t, "/api/customers/2?include=stats").body), string(a.body),
		"the session's customer, as /api/customers/{id}?include=stats")
	assert.Contains(t, string(s.get(t, "/", "Cookie", cookie(c)).body), "Welcome back, Customer 2.")

	// A JSON client logs in too, and gets a session of its own.
	j := s.do(t, http.MethodPost, "/login", `{"email": "customer3@example.com", "password": "secret"}`)
	require.Equal(t, http.StatusOK, j.status, "%s", j.body)
	assert.JSONEq(t, `{"data": {"customer_id": 3}}`, string(j.body))
	jc := (&http.Response{Header: j.header}).Cookies()
	require.Len(t, jc, 1)
	assert.NotEqual(t, c.Value, jc[0].Value)
	assert.Equal(t, int64(3), num(t, obj(t, s.get(t, "/api/me", "Cookie", cookie(jc[0])).json(t)["data"])["id"]))
	assert.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodPost, "/login", `{"email": "customer3@example.com", "password": ""}`).status)

	a = s.do(t, http.MethodPost, "/logout", "", "Cookie", cookie(c))
	assert.Equal(t, http.StatusFound, a.status)
	out := (&http.Response{Header: a.header}).Cookies()
	require.Len(t, out, 1)
	assert.Negative(t, out[0].MaxAge, "the cookie is cleared")
	assert.Equal(t, http.StatusUnauthorized, s.get(t, "/api/me", "Cookie", cookie(c)).status, "the session is gone")

	_, err := s.db.Exec("UPDATE sessions SET expires_at = NOW() - INTERVAL 1 SECOND WHERE id = ?", jc[0].Value)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, s.get(t, "/api/me", "Cookie", cookie(jc[0])).status, "an expired session")
}
