package legacyshop

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// SessionCookie is the name of the cookie POST /login sets.
const SessionCookie = "shop_session"

// sessionTTL is how long a session lasts, in MariaDB's INTERVAL syntax and
// in seconds (the cookie's Max-Age).
const (
	sessionTTL        = "1 DAY"
	sessionTTLSeconds = 24 * 60 * 60
)

func (s *Server) loadCustomer(ctx context.Context, id any, stats bool) (customer, error) {
	var c customer
	err := s.db.QueryRowContext(ctx, "SELECT "+customerCols+" FROM customers c WHERE c.id = ?", id).
		Scan(&c.ID, &c.Name, &c.Email, &c.VIP, &c.CreatedAt)
	if err != nil || !stats {
		return c, err
	}
	// order_count counts every order, cancelled ones too; lifetime_value
	// adds up those not cancelled: the order's lines where it has some, its
	// stored total where it has none (orders of release 1).
	var n int64
	var value string
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN o.status <> 'cancelled' THEN
		COALESCE((SELECT SUM(i.quantity * i.unit_price) FROM order_items i WHERE i.order_id = o.id), o.total) END), 0) AS DECIMAL(14,2))
		FROM orders o WHERE o.customer_id = ?`, c.ID).Scan(&n, &value)
	if err != nil {
		return c, fmt.Errorf("reading the figures of customer %d: %w", c.ID, err)
	}
	c.OrderCount, c.LifetimeValue = &n, &value
	return c, nil
}

// getCustomer answers a customer as release 1 did; with include=stats,
// also its order_count and lifetime_value.
func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := s.loadCustomer(r.Context(), r.PathValue("id"), r.URL.Query().Get("include") == "stats")
	if errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusNotFound, "customer not found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}

// me answers the customer of the session, as GET /api/customers/{id}?include=stats.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	id, ok, err := s.sessionCustomer(r)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	c, err := s.loadCustomer(r.Context(), id, true)
	if errors.Is(err, sql.ErrNoRows) { // the customer went, the session stayed
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}

// sessionCustomer reads the session cookie: the customer of a session that
// has not expired.
func (s *Server) sessionCustomer(r *http.Request) (int64, bool, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return 0, false, nil
	}
	var id int64
	err = s.db.QueryRowContext(r.Context(), "SELECT customer_id FROM sessions WHERE id = ? AND expires_at > NOW()", ck.Value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the session: %w", err)
	}
	return id, true, nil
}

// PasswordHash is how the shop stores a password: unsalted SHA-1, in hex.
func PasswordHash(password string) string {
	sum := sha1.Sum([]byte(password))
	return hex.EncodeToString(sum[:])
}

// login checks an email and password, from a form (the home page's) or a
// JSON body, and starts a session: a form is sent back to the home page
// (302), a JSON client gets {"data": {"customer_id": N}}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json"
	if isJSON {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "bad json")
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		in.Email, in.Password = r.PostFormValue("email"), r.PostFormValue("password")
	}
	var id int64
	var hash string
	err := s.db.QueryRowContext(r.Context(), "SELECT c.id, l.password_sha1 FROM customers c JOIN customer_logins l ON l.customer_id = c.id WHERE c.email = ?",
		strings.TrimSpace(in.Email)).Scan(&id, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err != nil || subtle.ConstantTimeCompare([]byte(hash), []byte(PasswordHash(in.Password))) != 1 {
		writeError(w, http.StatusUnauthorized, "bad email or password")
		return
	}
	sid := randomHex(16)
	if _, err := s.db.ExecContext(r.Context(), "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?, ?, NOW() + INTERVAL "+sessionTTL+")", sid, id); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if _, err := s.db.ExecContext(r.Context(), "UPDATE customer_logins SET last_login_at = NOW() WHERE customer_id = ?", id); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", MaxAge: sessionTTLSeconds, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if !isJSON {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]int64{"customer_id": id}})
}

// logout ends the session and goes back to the home page.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(SessionCookie); err == nil {
		if _, err := s.db.ExecContext(r.Context(), "DELETE FROM sessions WHERE id = ?", ck.Value); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/", http.StatusFound)
}
