package demand

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// value is a document's tree, read from JSON or YAML, before it is decoded
// into a legal.Demand. Both formats go through it, so both are held to the
// same rules: unknown fields, fields given twice and values of the wrong
// type are reported the same way, with the same field names.
type value struct {
	kind    kind
	text    string   // scalars: the string, the number as written, "true" or "false"
	yamlNum bool     // a YAML plain scalar that reads as a number: a string field takes it as written
	members []member // an object's fields, in document order
	items   []value  // a list's items
}

type member struct {
	key string
	val value
}

type kind uint8

const (
	null kind = iota
	str
	num
	boolean
	object
	list
)

func (k kind) String() string {
	switch k {
	case str:
		return "a string"
	case num:
		return "a number"
	case boolean:
		return "true or false"
	case object:
		return "an object"
	case list:
		return "a list"
	}
	return "null"
}

// maxDepth bounds how deeply a document may nest. A demand nests three
// deep (documents, a document, its fields); anything much deeper is not a
// demand, and reading it would only cost stack.
const maxDepth = 16

var errDepth = errors.Str("the document nests too deeply to be a demand")

// readJSON reads one JSON value (RFC 8259) and nothing after it.
func readJSON(data []byte) (value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return value{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return value{}, errors.Str("JSON: data after the demand's closing brace")
	}
	return v, nil
}

func jsonValue(dec *json.Decoder, depth int) (value, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return value{}, errors.Str("JSON: the document ends early")
	}
	if err != nil {
		return value{}, errors.Errorf("JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return value{}, errDepth
		}
		v := value{kind: list}
		if t == '{' {
			v.kind = object
		}
		for dec.More() {
			var key string
			if v.kind == object {
				kt, err := dec.Token()
				if err != nil {
					return value{}, errors.Errorf("JSON: %v", err)
				}
				key, _ = kt.(string) // the decoder allows only strings here
			}
			item, err := jsonValue(dec, depth+1)
			if err != nil {
				return value{}, err
			}
			if v.kind == object {
				v.members = append(v.members, member{key, item})
			} else {
				v.items = append(v.items, item)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return value{}, errors.Errorf("JSON: %v", err)
		}
		return v, nil
	case string:
		return value{kind: str, text: t}, nil
	case json.Number:
		return value{kind: num, text: string(t)}, nil
	case bool:
		return value{kind: boolean, text: strconv.FormatBool(t)}, nil
	}
	return value{kind: null}, nil
}

// readYAML reads exactly one YAML document.
func readYAML(data []byte) (value, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return value{}, errors.Str("the document is empty")
		}
		return value{}, errors.Errorf("YAML: %v", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); err {
	case io.EOF:
	case nil:
		return value{}, errors.Str("YAML: more than one document; a demand is one")
	default:
		return value{}, errors.Errorf("YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return value{}, errors.Str("YAML: the document is empty")
	}
	return yamlValue(doc.Content[0], 0)
}

func yamlValue(n *yaml.Node, depth int) (value, error) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return value{}, errors.Errorf("YAML: line %d: anchors and aliases are not allowed in a demand", n.Line)
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		if depth >= maxDepth {
			return value{}, errDepth
		}
		if n.Kind == yaml.SequenceNode {
			v := value{kind: list, items: make([]value, 0, len(n.Content))}
			for _, c := range n.Content {
				item, err := yamlValue(c, depth+1)
				if err != nil {
					return value{}, err
				}
				v.items = append(v.items, item)
			}
			return v, nil
		}
		v := value{kind: object, members: make([]member, 0, len(n.Content)/2)}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Anchor != "" || k.ShortTag() == "!!merge" {
				return value{}, errors.Errorf("YAML: line %d: a field name must be a plain word", k.Line)
			}
			item, err := yamlValue(n.Content[i+1], depth+1)
			if err != nil {
				return value{}, err
			}
			v.members = append(v.members, member{k.Value, item})
		}
		return v, nil
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str", "!!timestamp":
			return value{kind: str, text: n.Value}, nil
		case "!!int", "!!float":
			return value{kind: num, text: n.Value, yamlNum: true}, nil
		case "!!bool":
			return value{kind: boolean, text: n.Value}, nil
		case "!!null":
			return value{kind: null}, nil
		default:
			return value{}, errors.Errorf("YAML: line %d: tag %s is not allowed in a demand", n.Line, tag)
		}
	}
	return value{}, errors.Errorf("YAML: line %d: unexpected node", n.Line)
}

// parser decodes a value into a legal.Demand, collecting every problem.
type parser struct {
	errs Errors
}

func (p *parser) demand(v value) legal.Demand {
	var d legal.Demand
	if v.kind != object {
		p.errs.add("", "a demand is an object (JSON) or a mapping (YAML), not %s", v.kind)
		return d
	}
	seen := make(map[string]bool, len(v.members))
	for _, m := range v.members {
		field := fieldName("", m.key)
		if seen[m.key] {
			p.errs.add(field, "given more than once")
			continue
		}
		seen[m.key] = true
		switch m.key {
		case "id":
			d.ID = p.str(field, m.val)
		case "reference":
			d.Reference = p.str(field, m.val)
		case "authority":
			d.Authority = p.str(field, m.val)
		case "country":
			d.Country = p.str(field, m.val)
		case "court":
			d.Court = p.str(field, m.val)
		case "instrument":
			d.Instrument = legal.Instrument(p.str(field, m.val))
		case "requesting_country":
			d.RequestingCountry = p.str(field, m.val)
		case "legal_basis":
			d.LegalBasis = p.str(field, m.val)
		case "targets":
			p.list(field, m.val, func(f string, item value) {
				d.Targets = append(d.Targets, p.str(f, item))
			}, func() { d.Targets = []string{} })
		case "categories":
			p.list(field, m.val, func(f string, item value) {
				d.Categories = append(d.Categories, legal.Category(p.str(f, item)))
			}, func() { d.Categories = []legal.Category{} })
		case "from":
			d.From = p.optDate(field, m.val)
		case "to":
			d.To = p.optDate(field, m.val)
		case "nondisclosure_until":
			d.NondisclosureUntil = p.optDate(field, m.val)
		case "received":
			if r := p.optDate(field, m.val); r != nil {
				d.Received = *r
			}
		case "documents":
			p.list(field, m.val, func(f string, item value) {
				d.Documents = append(d.Documents, p.document(f, item))
			}, func() { d.Documents = []legal.Document{} })
		default:
			p.errs.add(field, "unknown field")
		}
	}
	return d
}

func (p *parser) document(prefix string, v value) legal.Document {
	var doc legal.Document
	if v.kind != object {
		p.errs.add(prefix, "must be an object with name, sha256 and size, not %s", v.kind)
		return doc
	}
	seen := make(map[string]bool, len(v.members))
	for _, m := range v.members {
		field := fieldName(prefix, m.key)
		if seen[m.key] {
			p.errs.add(field, "given more than once")
			continue
		}
		seen[m.key] = true
		switch m.key {
		case "name":
			doc.Name = p.str(field, m.val)
		case "sha256":
			doc.SHA256 = p.str(field, m.val)
		case "size":
			doc.Size = p.int(field, m.val)
		default:
			p.errs.add(field, "unknown field")
		}
	}
	return doc
}

// str reads a string; null reads as "" (an absent optional field).
func (p *parser) str(field string, v value) string {
	switch {
	case v.kind == str, v.yamlNum:
		return v.text
	case v.kind == null:
		return ""
	}
	p.errs.add(field, "must be a string, not %s", v.kind)
	return ""
}

// list reads a list, calling each for every item and, for an empty list,
// empty (so that [] and null stay distinct). Null is an absent list.
func (p *parser) list(field string, v value, each func(field string, item value), empty func()) {
	switch v.kind {
	case null:
		return
	case list:
	default:
		p.errs.add(field, "must be a list, not %s", v.kind)
		return
	}
	if len(v.items) == 0 {
		empty()
	}
	for i, item := range v.items {
		each(field+"["+strconv.Itoa(i)+"]", item)
	}
}

// optDate reads a date written YYYY-MM-DD; null reads as nil.
func (p *parser) optDate(field string, v value) *legal.Date {
	switch v.kind {
	case null:
		return nil
	case str:
		d, err := legal.ParseDate(v.text)
		if err == nil {
			return &d
		}
	}
	p.errs.add(field, "must be a date written YYYY-MM-DD")
	return nil
}

// int reads a whole number: decimal in JSON, any YAML 1.2 integer form in
// YAML.
func (p *parser) int(field string, v value) int64 {
	if v.kind == num {
		base := 10
		if v.yamlNum {
			base = 0 // 0x1f, 0o17, 1_000
		}
		if n, err := strconv.ParseInt(v.text, base, 64); err == nil {
			return n
		}
	}
	p.errs.add(field, "must be a whole number of bytes")
	return 0
}
