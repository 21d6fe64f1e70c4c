package proxy

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPIKeyFile: the key file parser never panics, and its errors never
// hold a line's words (a key could be among them).
func FuzzAPIKeyFile(f *testing.F) {
	f.Add([]byte("# clients\n\nalice alice-key-0123456789\nsha256:" + strings.Repeat("ab", 32) + "\n"))
	f.Add([]byte("a b c\n"))
	f.Add([]byte("short\n"))
	f.Add([]byte("x sha256:zz\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := &apiKeyAuth{nameHeader: "X-Client", index: map[uint64][]apiKey{}}
		err := a.parse(data)
		if err == nil {
			return
		}
		for _, w := range strings.Fields(string(data)) {
			if len(w) >= minAPIKeyLen && strings.Contains(err.Error(), w) {
				t.Fatalf("error %q holds %q", err, w)
			}
		}
	})
}

// FuzzParseJWKS: a JWK Set from the network never panics the parser, and
// what it keeps is only public signature keys.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","use":"enc"}]}`))
	f.Add([]byte(`{"keys": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := parseJWKS(data)
		if err != nil {
			return
		}
		for i := range ks.all {
			if k := &ks.all[i]; !k.IsPublic() || !k.Valid() {
				t.Fatalf("kept a key that is not a valid public key: %+v", k)
			}
		}
	})
}

// FuzzClientAddress: any X-Forwarded-For behind a trusted proxy gives a key,
// never a panic, and a trusted proxy's address only when every hop is one.
func FuzzClientAddress(f *testing.F) {
	f.Add("10.0.0.2:80", "203.0.113.9, 10.1.1.1")
	f.Add("10.0.0.2:80", "unknown,,  ,")
	f.Add("[fd00::1]:443", "2001:db8::1")
	f.Add("garbage", "")
	trusted, err := parseTrustedProxies([]string{"10.0.0.0/8", "fd00::/8"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header["X-Forwarded-For"] = []string{xff}
		}
		a, raw := clientAddress(r, trusted)
		if raw == "" && !a.IsValid() && remote != "" {
			t.Fatalf("no address and no raw key for %q %q", remote, xff)
		}
		_ = clientKey(r, trusted)
	})
}
