package control

import (
	"errors"
	"slices"
	"testing"

	"github.com/stranglerfig/strangler/internal/config"
)

// FuzzDecodeChange feeds arbitrary bodies to the admin API's decoders of
// POST /routes/{name} and POST /rollback: they never panic, a decoded
// change is valid, and a refusal is a *FieldError.
func FuzzDecodeChange(f *testing.F) {
	for _, s := range []string{
		`{"mode":"canary","percent":25,"reason":"step"}`,
		`{"routes":["a","b"],"reason":"incident"}`,
		`{"all":true,"expect_version":3}`,
		`{"mode":"new","persent":1}`,
		`{"mode":"canary","percent":1e400}`,
		`[]`, `null`, `{"mode":null}`, `{"routes":[""]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, decode := range []func([]byte) (Change, error){
			func(b []byte) (Change, error) { return DecodeRouteChange("route-1", b) },
			DecodeRollback,
		} {
			ch, err := decode(body)
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Msg == "" {
					t.Fatalf("refusal is not a *FieldError with a message: %#v", err)
				}
				continue
			}
			if !slices.Contains(config.Modes, ch.Mode) {
				t.Fatalf("decoded an invalid mode %q", ch.Mode)
			}
			if p := ch.Percent; p != nil && (*p < 0 || *p > 100 || (ch.Mode != config.ModeCanary && *p != 0)) {
				t.Fatalf("decoded an invalid percent %v for mode %s", *p, ch.Mode)
			}
			if ch.All == (len(ch.Routes) > 0) {
				t.Fatalf("decoded a change with all=%v and routes=%q", ch.All, ch.Routes)
			}
			if len(ch.Reason) > MaxReason {
				t.Fatalf("decoded a reason of %d bytes", len(ch.Reason))
			}
		}
	})
}
