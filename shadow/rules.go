package shadow

import (
	"errors"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/shadow/compare"
)

// Rules are the comparison rules of a route's shadow settings.
func Rules(rs *config.RouteShadow) compare.Rules {
	r := compare.Rules{
		Ignore: rs.Ignore, Sets: rs.Sets, Tolerance: rs.Tolerance, Headers: rs.Headers,
		NullEqualsMissing: rs.NullEqualsMissing,
	}
	for _, n := range rs.Normalize {
		r.Normalize = append(r.Normalize, compare.Normalize{Path: n.Path, Pattern: n.Pattern, Replace: n.Replace})
	}
	return r
}

// RuleChecker checks the comparison rules of a project file's routes with
// the differ that applies them: it is the config.ShadowRuleChecker that
// strangler's commands pass to config.Load beside the DSN parser.
type RuleChecker struct{}

var _ config.ShadowRuleChecker = RuleChecker{}

// CheckShadowRules returns every bad rule of rs, each naming its field
// ("ignore[1]") and the value.
func (RuleChecker) CheckShadowRules(rs *config.RouteShadow) []config.RuleProblem {
	_, err := compare.Compile(Rules(rs))
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []config.RuleProblem
	for _, err := range errs {
		var re *compare.RuleError
		if !errors.As(err, &re) {
			out = append(out, config.RuleProblem{Message: err.Error()})
			continue
		}
		// "ignore[2] \"$.a[\"": the field, then the value.
		field, value, _ := strings.Cut(re.Rule, " ")
		if value != "" {
			value += ": "
		}
		out = append(out, config.RuleProblem{Field: field, Message: value + re.Err.Error()})
	}
	return out
}
