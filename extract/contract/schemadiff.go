package contract

import (
	"encoding/json"
	"regexp"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// direction says which way a schema is read: answers are read by the
// client (the new side must not say more than the contract), requests and
// parameters by the server (the new side must accept what the contract
// accepted). Parameters are text on the wire.
type direction int

const (
	dirResponse direction = iota
	dirRequest
	dirParam
)

// maxDepth bounds the comparison of nested schemas, and maxCompared the
// schemas compared in one check (a document that shares one schema in many
// places is compared in each of them).
const (
	maxDepth    = 64
	maxCompared = 200_000
)

// pair is the two schemas compared at a place; the pairs on the way down
// to a place stop a recursive schema.
type pair struct{ o, n *openapi3.Schema }

// schema compares a schema of the contract side (o) with the new side's.
func (c *checker) schema(l loc, ptr string, o, n *openapi3.SchemaRef, dir direction) {
	c.schemaAt(l, ptr, o, n, dir, map[pair]bool{}, 0)
}

func (c *checker) schemaAt(l loc, ptr string, o, n *openapi3.SchemaRef, dir direction, seen map[pair]bool, depth int) {
	if depth > maxDepth || o == nil || o.Value == nil {
		return
	}
	var nv *openapi3.Schema
	if n != nil {
		nv = n.Value
	}
	key := pair{o.Value, nv}
	if seen[key] || c.budget <= 0 {
		return // a recursive schema, being compared further up; or enough
	}
	c.budget--
	seen[key] = true
	defer delete(seen, key)
	vo, vn := c.views.of(o), c.views.of(n)
	answer := dir == dirResponse
	add := func(sev Severity, kind Kind, oldV, newV, msg string) {
		c.add(l.change(sev, kind, ptr, oldV, newV, msg))
	}

	// Types: the reader of the value must know every type the writer uses.
	writer, reader := &vn, &vo
	if !answer {
		writer, reader = &vo, &vn
	}
	if !reader.covers(writer, dir == dirParam) {
		add(Breaking, TypeChanged, vo.typeText(), vn.typeText(), "type "+vo.typeText()+" -> "+vn.typeText())
		return
	}
	if vo.typeText() != vn.typeText() {
		word := "widened"
		if answer {
			word = "narrowed"
		}
		add(Info, TypeChanged, vo.typeText(), vn.typeText(), "type "+word+": "+vo.typeText()+" -> "+vn.typeText())
	}

	// Null.
	if !vo.any && !vn.any {
		switch {
		case !vo.nullable && vn.nullable:
			add(severity(answer), BecameNullable, "", "", "became nullable")
		case vo.nullable && !vn.nullable:
			add(severity(!answer), BecameNonNullable, "", "", "null no longer "+map[bool]string{true: "answered", false: "accepted"}[answer])
		}
	}

	// Formats of strings.
	if (vo.types["string"] || vo.any) && (vn.types["string"] || vn.any) {
		c.format(add, &vo, &vn, answer)
	}
	if vo.numFormat != "" && vn.numFormat != "" && vo.numFormat != vn.numFormat {
		widened := formatWidth(vn.numFormat) > formatWidth(vo.numFormat)
		sev := Info
		if widened == answer {
			sev = Breaking
		}
		add(sev, FormatChanged, vo.numFormat, vn.numFormat, "format "+vo.numFormat+" -> "+vn.numFormat)
	}

	// Enums.
	c.enums(add, &vo, &vn, answer)

	// Objects.
	if vo.describesProps() {
		c.object(l, ptr, &vo, &vn, dir, seen, depth)
	}

	// Arrays.
	if vo.items != nil {
		c.schemaAt(l, ptr+"[*]", vo.items, vn.items, dir, seen, depth+1)
	}
}

func severity(breaking bool) Severity {
	if breaking {
		return Breaking
	}
	return Info
}

func formatWidth(f string) int {
	switch f {
	case "int32", "float":
		return 32
	}
	return 64
}

type addFunc func(sev Severity, kind Kind, oldV, newV, msg string)

// format compares the kinds of strings: a kind changed breaks both ways;
// one dropped breaks answers when clients parse by it, one added breaks
// requests.
func (c *checker) format(add addFunc, vo, vn *view, answer bool) {
	if vo.kind == vn.kind {
		return
	}
	msg := "format " + kindText(vo.kind) + " -> " + kindText(vn.kind)
	switch {
	case vo.kind != "" && vn.kind != "":
		add(Breaking, FormatChanged, vo.kind, vn.kind, msg)
	case vn.kind == "": // dropped
		add(severity(answer && strongKind(vo.kind)), FormatChanged, vo.kind, "", msg)
	default: // added
		add(severity(!answer), FormatChanged, "", vn.kind, msg)
	}
}

func (c *checker) enums(add addFunc, vo, vn *view, answer bool) {
	switch {
	case !vo.hasEnum() && !vn.hasEnum():
	case !vo.hasEnum():
		add(severity(!answer), EnumAdded, "", describe(vn.enum), "restricted to "+describe(vn.enum))
	case !vn.hasEnum():
		add(severity(answer), EnumRemoved, describe(vo.enum), "", "no longer restricted to "+describe(vo.enum))
	default:
		var gone, added []string
		for _, e := range vo.enum {
			if !slices.Contains(vn.enum, e) {
				gone = append(gone, e)
			}
		}
		for _, e := range vn.enum {
			if !slices.Contains(vo.enum, e) {
				added = append(added, e)
			}
		}
		if len(gone) > 0 {
			add(Breaking, EnumMemberRemoved, describe(gone), "", "enum member removed: "+describe(gone))
		}
		if len(added) > 0 {
			add(severity(answer), EnumMemberAdded, "", describe(added), "enum member added: "+describe(added))
		}
	}
}

func (c *checker) object(l loc, ptr string, vo, vn *view, dir direction, seen map[pair]bool, depth int) {
	answer := dir == dirResponse
	add := func(p string, sev Severity, kind Kind, msg string) {
		c.add(l.change(sev, kind, p, "", "", msg))
	}
	if !vn.describesProps() {
		if vn.any || vn.types["object"] {
			add(ptr, severity(answer), FieldsUndescribed, "the new side describes none of its fields")
		}
		return
	}
	// skip says whether a property is left out of this direction.
	skip := func(p *openapi3.SchemaRef) bool {
		if p == nil || p.Value == nil {
			return false
		}
		return answer && p.Value.WriteOnly || !answer && p.Value.ReadOnly
	}
	for _, k := range sortedKeys(vo.props) {
		op := vo.props[k]
		if skip(op) {
			continue
		}
		at := ptr + member(k)
		np, ok := vn.props[k]
		if !ok || skip(np) {
			switch {
			case answer:
				add(at, Breaking, FieldRemoved, "field removed")
			case vn.closed:
				add(at, Breaking, FieldRemoved, "field no longer accepted")
			default:
				add(at, Info, FieldRemoved, "field no longer described: the new side may ignore it")
			}
			continue
		}
		or, nr := vo.required[k], vn.required[k]
		switch {
		case or && !nr:
			msg := "became optional"
			if answer {
				msg = "always present before, now optional"
			}
			add(at, severity(answer), BecameOptional, msg)
		case !or && nr:
			add(at, severity(!answer), BecameRequired, "became required")
		}
		c.schemaAt(l, at, op, np, dir, seen, depth+1)
	}
	for _, k := range sortedKeys(vn.props) {
		if _, ok := vo.props[k]; ok || skip(vn.props[k]) {
			continue
		}
		at := ptr + member(k)
		switch {
		case !answer && vn.required[k]:
			add(at, Breaking, FieldAdded, "new required field")
		case answer && vn.required[k]:
			add(at, Info, FieldAdded, "field added")
		default:
			add(at, Info, FieldAdded, "optional field added")
		}
	}
}

var reIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// member is the JSONPath step to property k.
func member(k string) string {
	if reIdent.MatchString(k) {
		return "." + k
	}
	b, _ := json.Marshal(k)
	return "[" + string(b) + "]"
}
