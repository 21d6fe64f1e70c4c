package shadow

import (
	"encoding/base64"
	"net/http"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/shadow/store"
)

// requestOf is the stored form of a (redacted) copy's request: the path
// legacy received, and the target's when it differs.
func requestOf(c *proxy.ShadowCopy) store.Request {
	r := store.Request{Method: c.Method, Path: c.Path(), Header: c.Header, Body: bodyOf(c.Body, false)}
	if c.URL != nil {
		r.Query = c.URL.RawQuery
	}
	var target string
	if c.To == proxy.SideNew && c.URL != nil {
		target = c.URL.Path
	} else if u := c.PrimaryURL(); c.Primary == proxy.SideNew {
		target = u.Path
	}
	if target != "" && target != r.Path {
		r.Target = target
	}
	return r
}

// answerOf is the stored form of an answer.
func answerOf(a proxy.ShadowResponse) *store.Answer {
	return &store.Answer{
		Status: a.Status, Header: a.Header, Body: bodyOf(a.Body, a.Truncated),
		DurationMS: float64(a.Duration.Microseconds()) / 1000,
	}
}

// bodyOf keeps a body as text when it is UTF-8, otherwise as base64.
func bodyOf(b []byte, truncated bool) store.Body {
	if len(b) == 0 {
		return store.Body{Truncated: truncated}
	}
	if utf8.Valid(b) {
		return store.Body{Text: string(b), Truncated: truncated}
	}
	return store.Body{Base64: base64.StdEncoding.EncodeToString(b), Truncated: truncated}
}

// bytesOf reads a stored body back.
func bytesOf(b store.Body) ([]byte, error) {
	if b.Base64 != "" {
		return base64.StdEncoding.DecodeString(b.Base64)
	}
	return []byte(b.Text), nil
}

// headerOf returns a stored header, or an empty one.
func headerOf(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h.Clone()
}
