package recipes

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Rules are written in the expr language (github.com/expr-lang/expr): one
// variable, self, the row being written as a map from field name to value
// (decimals as floats, timestamps as time.Time, times as durations, binary
// as a string of its bytes, sets as arrays of strings, json as its decoded
// value, null as nil).

// compileRule compiles a rule at load time. It refuses an expression that
// does not compile, is not boolean, or reads self.x for a field x the
// resource lacks.
func compileRule(res *Resource, src string) (*vm.Program, error) {
	tree, err := expr.Compile(src, expr.Env(map[string]any{"self": map[string]any{}}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("does not compile: %s", oneLine(err.Error()))
	}
	v := &selfFields{}
	root := tree.Node()
	ast.Walk(&root, v)
	for _, name := range v.names {
		if res.field(name) == nil {
			return nil, fmt.Errorf("self.%s is not a field of %q", name, res.Name)
		}
	}
	return tree, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.Join(strings.Fields(s), " ")
}

// selfFields collects the field names read as self.name or self["name"].
type selfFields struct{ names []string }

// Visit records self.name member accesses.
func (v *selfFields) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "self" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok && !slices.Contains(v.names, s.Value) {
		v.names = append(v.names, s.Value)
	}
}

// ruleValue converts a runtime value for rules: decimals become floats,
// times durations, binary a string, sets arrays, json its decoded form.
func ruleValue(v any) any {
	switch x := v.(type) {
	case decimal:
		return x.float()
	case timeSpan:
		return time.Duration(x) * time.Microsecond
	case blob:
		return string(x)
	case stringSet:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	case json.RawMessage:
		var out any
		if json.Unmarshal(x, &out) == nil {
			return out
		}
		return nil
	}
	return v
}

// ruleEnv is what rules run over: self, the row by field name.
func ruleEnv(row map[string]any) map[string]any {
	self := make(map[string]any, len(row))
	for k, v := range row {
		self[k] = ruleValue(v)
	}
	return map[string]any{"self": self}
}

// evalRules runs the resource's rules over row and returns the broken ones.
// A rule that fails to evaluate (null in arithmetic, say) counts as broken.
func evalRules(res *Resource, row map[string]any) []fieldProblem {
	if len(res.Rules) == 0 {
		return nil
	}
	env := ruleEnv(row)
	var out []fieldProblem
	for _, r := range res.Rules {
		val, err := expr.Run(r.prog, env)
		if err == nil && val == true {
			continue
		}
		name := ""
		if f := res.field(r.Field); f != nil {
			name = f.JSON
		}
		msg := r.Message
		if err != nil {
			msg += " (" + oneLine(err.Error()) + ")"
		}
		out = append(out, fieldProblem{Field: name, Message: msg})
	}
	return out
}
