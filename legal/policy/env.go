package policy

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// The CEL variables' types. Rules read their fields by the `cel` tag names;
// a misspelt field is a compile error in Parse, not a surprise in Decide.
type demandVars struct {
	Instrument         string   `cel:"instrument"`
	Country            string   `cel:"country"`
	RequestingCountry  string   `cel:"requesting_country"`
	Origin             string   `cel:"origin"`
	Authority          string   `cel:"authority"`
	Court              string   `cel:"court"`
	LegalBasis         string   `cel:"legal_basis"`
	Reference          string   `cel:"reference"`
	Categories         []string `cel:"categories"`
	Targets            int      `cel:"targets"`
	From               string   `cel:"from"`
	To                 string   `cel:"to"`
	Received           string   `cel:"received"`
	NondisclosureUntil string   `cel:"nondisclosure_until"`
}

type regionVars struct {
	ID            string   `cel:"id"`
	Name          string   `cel:"name"`
	Country       string   `cel:"country"`
	Zones         []string `cel:"zones"`
	Entity        string   `cel:"entity"`
	EntityCountry string   `cel:"entity_country"`
}

type agreementVars struct {
	Name        string   `cel:"name"`
	Kind        string   `cel:"kind"`
	Parties     []string `cel:"parties"`
	Categories  []string `cel:"categories"`
	Instruments []string `cel:"instruments"`
	Zones       []string `cel:"zones"`
}

type instrumentVars struct {
	Name    string   `cel:"name"`
	Compels []string `cel:"compels"`
}

// costLimit bounds one evaluation of one expression (CEL's cost units,
// roughly one per operation), so that an operator's rule with a runaway
// comprehension fails, naming the rule, instead of stalling Decide.
const costLimit = 100_000

// celEnv holds the CEL environments: one per stage, with or without the
// agreement variable `a`. Screening has no `category`, so a screening rule
// that reads it fails to compile.
type celEnv struct {
	envs    [3][2]*cel.Env
	adapter types.Adapter
}

func newEnv() (*celEnv, error) {
	native := ext.NativeTypes(
		reflect.TypeFor[demandVars](),
		reflect.TypeFor[regionVars](),
		reflect.TypeFor[agreementVars](),
		reflect.TypeFor[instrumentVars](),
		ext.ParseStructTags(true),
	)
	base := []cel.EnvOption{
		native,
		ext.Strings(),
		ext.Sets(),
		cel.Variable("demand", cel.ObjectType("policy.demandVars")),
		cel.Variable("region", cel.ObjectType("policy.regionVars")),
		cel.Variable("target", cel.StringType),
		cel.Variable("agreements", cel.ListType(cel.ObjectType("policy.agreementVars"))),
		cel.Variable("instruments", cel.MapType(cel.StringType, cel.ObjectType("policy.instrumentVars"))),
	}
	ce := &celEnv{}
	for st := range ce.envs {
		for withA := range 2 {
			opts := append([]cel.EnvOption(nil), base...)
			if stage(st) != screening {
				opts = append(opts, cel.Variable("category", cel.StringType))
			}
			if withA == 1 {
				opts = append(opts, cel.Variable("a", cel.ObjectType("policy.agreementVars")))
			}
			env, err := cel.NewEnv(opts...)
			if err != nil {
				return nil, err
			}
			ce.envs[st][withA] = env
		}
	}
	ce.adapter = ce.envs[0][0].CELTypeAdapter()
	return ce, nil
}

// compile compiles a boolean condition for a stage, and reports whether it
// reads `target` (then outcomes cannot be shared by a region's targets).
func (ce *celEnv) compile(st stage, withA bool, src string) (cel.Program, bool, error) {
	i := 0
	if withA {
		i = 1
	}
	env := ce.envs[st][i]
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, false, fmt.Errorf("%s", oneLine(iss.Err().Error()))
	}
	if ast.OutputType() != cel.BoolType {
		return nil, false, fmt.Errorf("the condition gives a %s, not true or false", ast.OutputType())
	}
	usesTarget := false
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == "target" {
			usesTarget = true
		}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		return nil, false, fmt.Errorf("%s", oneLine(err.Error()))
	}
	return prg, usesTarget, nil
}

// oneLine folds CEL's multi-line error (message, source line, caret) so
// that each problem stays on one line of Parse's error.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "ERROR: <input>:", "at ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

// activation supplies the variables to a CEL program without a map per
// evaluation. Every value is adapted to CEL once, when the facts are built.
type activation struct {
	demand, region, target, category, agreements, instruments, a ref.Val
}

var _ interpreter.Activation = (*activation)(nil)

func (v *activation) ResolveName(name string) (any, bool) {
	var r ref.Val
	switch name {
	case "demand":
		r = v.demand
	case "region":
		r = v.region
	case "target":
		r = v.target
	case "category":
		r = v.category
	case "agreements":
		r = v.agreements
	case "instruments":
		r = v.instruments
	case "a":
		r = v.a
	}
	return r, r != nil
}

func (v *activation) Parent() interpreter.Activation { return nil }

// evalBool runs a condition.
func evalBool(p cel.Program, act *activation) (bool, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the condition gave %v, not true or false", out)
	}
	return bool(b), nil
}
