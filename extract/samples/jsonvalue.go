package samples

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// jkind is the kind of a JSON value; the names are FieldObs.Kinds' keys.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

var kindNames = [...]string{"null", "bool", "number", "string", "object", "array"}

func (k jkind) String() string { return kindNames[k] }

// value is a decoded JSON value that keeps what encoding/json's any loses:
// the order of object members and numbers as written ("12.50", not 12.5).
type value struct {
	kind    jkind
	text    string   // a string's value; a number as written; "true" or "false"
	members []member // an object's members, in order
	elems   []value  // an array's elements
}

type member struct {
	name string
	val  value
}

// get returns the member called name of an object.
func (v *value) get(name string) (*value, bool) {
	for i := range v.members {
		if v.members[i].name == name {
			return &v.members[i].val, true
		}
	}
	return nil, false
}

// scalarText is the text of a string, number or bool, as a path segment or
// a query value would hold it; ok is false for null, objects and arrays.
func (v *value) scalarText() (string, bool) {
	switch v.kind {
	case jString, jNumber, jBool:
		return v.text, true
	}
	return "", false
}

// raw writes the value back as compact JSON, for examples.
func (v *value) raw() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v *value) write(b *strings.Builder) {
	switch v.kind {
	case jNull:
		b.WriteString("null")
	case jBool, jNumber:
		b.WriteString(v.text)
	case jString:
		enc, _ := json.Marshal(v.text)
		b.Write(enc)
	case jObject:
		b.WriteByte('{')
		for i, m := range v.members {
			if i > 0 {
				b.WriteByte(',')
			}
			enc, _ := json.Marshal(m.name)
			b.Write(enc)
			b.WriteByte(':')
			m.val.write(b)
		}
		b.WriteByte('}')
	case jArray:
		b.WriteByte('[')
		for i := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			v.elems[i].write(b)
		}
		b.WriteByte(']')
	}
}

// maxDepth bounds the nesting of a decoded value.
const maxDepth = 64

// parseJSON decodes one JSON value, refusing anything after it.
func parseJSON(b []byte) (value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return value{}, fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return value{}, errors.New("decoding JSON: data after the value")
	}
	return v, nil
}

func readValue(dec *json.Decoder, depth int) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return value{}, err
	}
	switch t := tok.(type) {
	case nil:
		return value{kind: jNull}, nil
	case bool:
		if t {
			return value{kind: jBool, text: "true"}, nil
		}
		return value{kind: jBool, text: "false"}, nil
	case json.Number:
		return value{kind: jNumber, text: string(t)}, nil
	case string:
		return value{kind: jString, text: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return value{}, fmt.Errorf("nested deeper than %d", maxDepth)
		}
		if t == '[' {
			v := value{kind: jArray}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return value{}, err
				}
				v.elems = append(v.elems, e)
			}
			_, err := dec.Token()
			return v, err
		}
		v := value{kind: jObject}
		var index map[string]int
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return value{}, err
			}
			name, _ := kt.(string)
			mv, err := readValue(dec, depth+1)
			if err != nil {
				return value{}, err
			}
			if index == nil {
				index = map[string]int{}
			}
			if i, dup := index[name]; dup {
				v.members[i].val = mv // the last one wins, as encoding/json has it
				continue
			}
			index[name] = len(v.members)
			v.members = append(v.members, member{name: name, val: mv})
		}
		_, err := dec.Token()
		return v, err
	}
	return value{}, fmt.Errorf("unexpected token %v", tok)
}

// maxInflated bounds a gzip-encoded body once inflated.
const maxInflated = 64 << 20

// bodyState says why a body was not read as JSON.
type bodyState int

const (
	bodyJSON      bodyState = iota
	bodyEmpty               // no body
	bodyTruncated           // cut at proxy.max_body_copy
	bodyNotJSON             // not a JSON object or array (HTML, text, an encoding not read)
	bodyBad                 // looked like JSON and did not decode
)

// decodeBody reads a captured body (text, or base64 when it was not UTF-8)
// as a JSON object or array. A gzip Content-Encoding is undone.
func decodeBody(text string, b64 []byte, h http.Header, truncated bool) (value, bodyState) {
	b := b64
	if text != "" {
		b = []byte(text)
	}
	if len(b) == 0 {
		return value{}, bodyEmpty
	}
	if truncated {
		return value{}, bodyTruncated
	}
	switch enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return value{}, bodyNotJSON
		}
		inflated, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
		if err != nil || len(inflated) > maxInflated {
			return value{}, bodyNotJSON
		}
		b = inflated
	default:
		return value{}, bodyNotJSON
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n\ufeff") // a byte-order mark too
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return value{}, bodyNotJSON
	}
	v, err := parseJSON(trimmed)
	if err != nil {
		return value{}, bodyBad
	}
	return v, bodyJSON
}
