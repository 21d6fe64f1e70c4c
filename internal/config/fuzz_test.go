package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// every refusal must be a positioned *Errors naming the file.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/strangler.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(base))
	f.Add([]byte(""))
	f.Add([]byte("routes: [{name: a, match: {path: /x/{id}}, target: http://t:1, mode: canary, percent: 50.5}]\nlegacy: http://l:1\n"))
	f.Add([]byte("sync: [{name: s, tables: [{name: t, rename: {a: b}, exclude: [c]}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("strangler.yaml", data, nil)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without error")
			}
			if c.Listen == "" || c.Admin.TokenEnv == "" {
				t.Fatal("defaults not filled")
			}
			return
		}
		var es *Errors
		if !errors.As(err, &es) || len(*es) == 0 {
			t.Fatalf("error is not a positioned config error: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "strangler.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
