package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The -gateway subjects: the large facade with a JWT check and a rate limit
// on its hit route.
const (
	gatewayOn       = "facade, %d, auth+limit"
	gatewayNoCache  = "facade, %d, auth+limit, no cache"
	gatewayIssuer   = "https://id.example"
	gatewayAudience = "shop"
)

// gatewayKeys makes an RSA key, writes its JWKS to a temporary file and
// signs a token valid for a day; cleanup removes the file.
func gatewayKeys() (jwksPath, token string, cleanup func(), err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", nil, fmt.Errorf("making the bench's JWT key: %w", err)
	}
	dir, err := os.MkdirTemp("", "strangler-bench-jwks-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "bench", Algorithm: string(jose.RS256), Use: "sig"}}}
	data, err := json.Marshal(set)
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	jwksPath = filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, data, 0o600); err != nil {
		cleanup()
		return "", "", nil, err
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "bench"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	now := time.Now()
	token, err = jwt.Signed(sig).Claims(jwt.Claims{Issuer: gatewayIssuer, Audience: jwt.Audience{gatewayAudience}, Subject: "bench-user",
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(24 * time.Hour))}).Serialize()
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	return jwksPath, token, cleanup, nil
}

// measureGoAuth is the Go load generator's closed loop (internal/loadgen)
// with an Authorization header on every request, for machines without wrk.
func measureGoAuth(url, auth string, conns int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	begin := time.Now()
	end := begin.Add(d)
	var (
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				at := time.Now()
				req, err := http.NewRequest(http.MethodGet, url, nil)
				if err == nil {
					req.Header.Set("Authorization", auth)
					var resp *http.Response
					if resp, err = c.Do(req); err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err == nil && resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(at))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	if len(lats) == 0 {
		return result{}, fmt.Errorf("no request completed")
	}
	slices.Sort(lats)
	q := func(p float64) time.Duration { return lats[int(float64(len(lats)-1)*p)] }
	return result{rps: float64(len(lats)) / time.Since(begin).Seconds(), p50: q(0.5), p99: q(0.99)}, nil
}
