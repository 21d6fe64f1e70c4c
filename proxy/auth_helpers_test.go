package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"
)

func init() {
	labelOrder["strangler_rate_limited_total"] = []string{"route"}
	labelOrder["strangler_auth_failures_total"] = []string{"route", "reason"}
}

// signingKey is a key pair made for a test, with its key id.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newRSAKey(t testing.TB, kid string) *signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return &signingKey{kid: kid, alg: jose.RS256, priv: k}
}

func newECKey(t testing.TB, kid string) *signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &signingKey{kid: kid, alg: jose.ES256, priv: k}
}

// public is the key's JWK as a JWKS lists it.
func (k *signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign makes a token with the registered claims c and extra claims.
func (k *signingKey) sign(t testing.TB, c jwt.Claims, extra map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	b := jwt.Signed(sig).Claims(c)
	if extra != nil {
		b = b.Claims(extra)
	}
	tok, err := b.Serialize()
	require.NoError(t, err)
	return tok
}

// claims are registered claims that pass the checks of jwksRoute at now.
func claims(now time.Time) jwt.Claims {
	return jwt.Claims{Issuer: "https://id.example", Audience: jwt.Audience{"shop"}, Subject: "user-1",
		IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
}

// jwksServer serves a JWK Set that a test may change, and counts fetches.
type jwksServer struct {
	srv  *httptest.Server
	hits atomic.Int64
	fail atomic.Bool // answer 500

	mu   sync.Mutex
	keys []jose.JSONWebKey
}

func newJWKSServer(t testing.TB, keys ...*signingKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		if s.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		set := jose.JSONWebKeySet{Keys: s.keys}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// set replaces the keys served.
func (s *jwksServer) set(keys ...*signingKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = nil
	for _, k := range keys {
		s.keys = append(s.keys, k.public())
	}
}

// jwksJSON is a JWK Set document of keys.
func jwksJSON(t testing.TB, keys ...*signingKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}
