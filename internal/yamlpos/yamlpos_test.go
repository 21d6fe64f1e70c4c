package yamlpos

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
	}{
		{"parser error (0-based in yaml.v3)", "a: 1\nb: [1, 2\nc: 3\n", 2},
		{"scanner error (1-based in yaml.v3)", "a: 1\nb: @x\n", 2},
		{"bad indentation", "a:\n  b: 1\n c: 2\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tt.src), &n)
			require.Error(t, err)
			var es *Errors
			require.True(t, errors.As(SyntaxError("f.yaml", err), &es))
			assert.Equal(t, tt.line, (*es)[0].Line, (*es)[0].Error())
		})
	}
}

func TestPositionsFallBackToTheParent(t *testing.T) {
	p := Positions{"routes": 3, "routes[1]": 7, "routes[1].mode": 9}
	assert.Equal(t, 9, p.Line("routes[1].mode"))
	assert.Equal(t, 7, p.Line("routes[1].target"), "a missing key is reported at its object")
	assert.Equal(t, 3, p.Line("routes[4].name"))
	assert.Equal(t, 0, p.Line("sync[0]"))
	assert.True(t, p.Has("routes"))
	assert.False(t, p.Has("routes[1].target"))
}

func TestSuggest(t *testing.T) {
	known := []string{"listen", "legacy", "routes"}
	assert.Equal(t, ` (did you mean "listen"?)`, Suggest("lisen", known))
	assert.Equal(t, " (known: legacy, listen, routes)", Suggest("zzzzzzzz", known))
	assert.Equal(t, 64, EditDistance(string(make([]byte, 65)), "a"), "long keys cost nothing")
}

func TestFieldErrorFormat(t *testing.T) {
	es := Errors{{File: "f.yaml", Line: 3, Field: "a.b", Msg: "is wrong"}, {File: "f.yaml", Msg: "no line"}}
	assert.Equal(t, "f.yaml:3: a.b: is wrong\nf.yaml: no line", es.Error())
	var fe *FieldError
	require.True(t, errors.As(&es, &fe))
	assert.Equal(t, "a.b", fe.Field)
}
