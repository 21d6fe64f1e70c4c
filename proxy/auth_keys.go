package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
)

// minAPIKeyLen is the shortest API key the file may list in clear: a
// shorter one could be guessed.
const minAPIKeyLen = 16

// maxAPIKeysFile bounds the key file read (16 MiB).
const maxAPIKeysFile = 16 << 20

// apiKeyAuth accepts requests carrying a key listed in the api_keys file.
// The keys are held as SHA-256 digests only, indexed by their first 8
// bytes; a presented key's digest is compared with the candidates in
// constant time, so neither the index nor the comparison tells how much of
// a guess was right.
type apiKeyAuth struct {
	header     string // canonical
	bearer     bool   // header is Authorization: "Bearer KEY"
	nameHeader string // canonical; "" when none
	index      map[uint64][]apiKey
}

type apiKey struct {
	digest [sha256.Size]byte
	p      *principal
}

// newAPIKeyAuth reads the key file at path.
func newAPIKeyAuth(c *config.APIKeysAuth, path string) (*apiKeyAuth, error) {
	a := &apiKeyAuth{header: http.CanonicalHeaderKey(c.Header), index: map[uint64][]apiKey{}}
	if a.header == "" {
		a.header = config.DefaultAPIKeyHeader
	}
	a.bearer = a.header == "Authorization"
	if c.NameHeader != "" {
		a.nameHeader = http.CanonicalHeaderKey(c.NameHeader)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth.api_keys: reading the key file: %w", err)
	}
	if len(data) > maxAPIKeysFile {
		return nil, fmt.Errorf("auth.api_keys: %s is larger than %d bytes", path, maxAPIKeysFile)
	}
	if err := a.parse(data); err != nil {
		return nil, fmt.Errorf("auth.api_keys: %s: %w", path, err)
	}
	return a, nil
}

// parse reads the lines of a key file: "KEY" or "NAME KEY", KEY in clear or
// as sha256:HEX. Errors name the line, never the key.
func (a *apiKeyAuth) parse(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<10)
	n, line := 0, 0
	seen := map[[sha256.Size]byte]int{}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var name, key string
		switch fields := strings.Fields(text); len(fields) {
		case 1:
			key = fields[0]
		case 2:
			name, key = fields[0], fields[1]
		default:
			return fmt.Errorf("line %d: want KEY or NAME KEY, found %d words", line, len(fields))
		}
		if name != "" && !validHeaderValue(name) {
			return fmt.Errorf("line %d: the name holds a control character", line)
		}
		var d [sha256.Size]byte
		if hexDigest, ok := strings.CutPrefix(key, "sha256:"); ok {
			b, err := hex.DecodeString(hexDigest)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("line %d: sha256: wants the 64 hex digits of a SHA-256 digest", line)
			}
			copy(d[:], b)
		} else {
			if len(key) < minAPIKeyLen {
				return fmt.Errorf("line %d: the key is %d characters long; at least %d are needed (or give it as sha256:HEX)", line, len(key), minAPIKeyLen)
			}
			d = sha256.Sum256([]byte(key))
		}
		if prev, dup := seen[d]; dup {
			return fmt.Errorf("line %d: the key of line %d again", line, prev)
		}
		seen[d] = line
		p := &principal{}
		if a.nameHeader != "" && name != "" {
			p.headers = []identityHeader{{name: a.nameHeader, value: []string{name}}}
		}
		i := binary.LittleEndian.Uint64(d[:8])
		a.index[i] = append(a.index[i], apiKey{digest: d, p: p})
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if n == 0 {
		return fmt.Errorf("lists no key")
	}
	return nil
}

func (a *apiKeyAuth) authenticate(_ context.Context, r *http.Request, _ time.Time) (*principal, *authFailure) {
	var key string
	if a.bearer {
		key = bearerToken(r.Header)
	} else if v := r.Header[a.header]; len(v) > 0 {
		key = v[0]
	}
	if key == "" {
		return nil, &authFailure{status: http.StatusUnauthorized, reason: authMissing, detail: "an API key is required in " + a.header}
	}
	d := sha256.Sum256([]byte(key))
	for _, k := range a.index[binary.LittleEndian.Uint64(d[:8])] {
		if subtle.ConstantTimeCompare(k.digest[:], d[:]) == 1 {
			return k.p, nil
		}
	}
	return nil, &authFailure{status: http.StatusUnauthorized, reason: authInvalidKey, detail: "the API key in " + a.header + " is not valid"}
}
