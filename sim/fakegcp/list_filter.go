package fakegcp

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// filterExpr is a parsed Compute list filter: comparisons joined by AND
// (also written as juxtaposition, "(a = 1) (b = 2)"), OR and NOT.
type filterExpr interface {
	match(item map[string]any) bool
}

type andExpr []filterExpr
type orExpr []filterExpr
type notExpr struct{ e filterExpr }
type comparison struct {
	field, op, value string
	re               *regexp.Regexp
}

func (a andExpr) match(it map[string]any) bool {
	for _, e := range a {
		if !e.match(it) {
			return false
		}
	}
	return true
}

func (o orExpr) match(it map[string]any) bool {
	for _, e := range o {
		if e.match(it) {
			return true
		}
	}
	return false
}

func (n notExpr) match(it map[string]any) bool { return !n.e.match(it) }

func (c comparison) match(it map[string]any) bool {
	v, ok := lookupPath(it, c.field)
	negated := c.op == "!=" || c.op == "ne" || c.op == "!~"
	if !ok {
		return negated
	}
	hit := false
	for _, s := range scalarStrings(v) {
		if c.matchOne(s) {
			hit = true
			break
		}
	}
	return hit != negated
}

func (c comparison) matchOne(s string) bool {
	switch c.op {
	case "=", "!=":
		if strings.Contains(c.value, "*") {
			ok, _ := path.Match(c.value, s)
			return ok
		}
		return s == c.value
	case "eq", "ne", "~", "!~":
		return c.re.MatchString(s)
	case ":":
		return c.value == "*" || strings.Contains(strings.ToLower(s), strings.ToLower(c.value))
	case "<", "<=", ">", ">=":
		a, aerr := strconv.ParseFloat(s, 64)
		b, berr := strconv.ParseFloat(c.value, 64)
		cmp := strings.Compare(s, c.value)
		if aerr == nil && berr == nil {
			cmp = map[bool]int{true: -1, false: 1}[a < b]
			if a == b {
				cmp = 0
			}
		}
		return map[string]bool{"<": cmp < 0, "<=": cmp <= 0, ">": cmp > 0, ">=": cmp >= 0}[c.op]
	}
	return false
}

// scalarStrings turns a JSON value into the strings a filter compares:
// one for a scalar, one per element for a list.
func scalarStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case json.Number:
		return []string{t.String()}
	case bool:
		return []string{strconv.FormatBool(t)}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, scalarStrings(e)...)
		}
		return out
	case nil:
		return nil
	default:
		return []string{fmt.Sprint(t)}
	}
}

func parseFilter(text string) (filterExpr, error) {
	toks, err := tokenizeFilter(text)
	if err != nil || len(toks) == 0 {
		return nil, err
	}
	p := &filterParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

type filterToken struct {
	text   string
	quoted bool
}

var filterOps = []string{"!=", "!~", "<=", ">=", "=", ":", "~", "<", ">"}

func tokenizeFilter(s string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			i++
		case ch == '(' || ch == ')':
			toks = append(toks, filterToken{text: string(ch)})
			i++
		case ch == '"' || ch == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != ch; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, filterToken{text: b.String(), quoted: true})
			i = j + 1
		default:
			if op := opAt(s, i); op != "" {
				toks = append(toks, filterToken{text: op})
				i += len(op)
				continue
			}
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()", rune(s[j])) && opAt(s, j) == "" {
				j++
			}
			toks = append(toks, filterToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

func opAt(s string, i int) string {
	for _, op := range filterOps {
		if strings.HasPrefix(s[i:], op) {
			return op
		}
	}
	return ""
}

type filterParser struct {
	toks []filterToken
	pos  int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.pos >= len(p.toks) {
		return filterToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *filterParser) keyword(word string) bool {
	t, ok := p.peek()
	if ok && !t.quoted && strings.EqualFold(t.text, word) {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) or() (filterExpr, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	terms := orExpr{first}
	for p.keyword("OR") {
		next, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return terms, nil
}

func (p *filterParser) and() (filterExpr, error) {
	var terms andExpr
	for {
		p.keyword("AND")
		t, ok := p.peek()
		if !ok || (!t.quoted && (t.text == ")" || strings.EqualFold(t.text, "OR"))) {
			break
		}
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) unary() (filterExpr, error) {
	if p.keyword("NOT") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	if t, _ := p.peek(); t.text == "(" && !t.quoted {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.text != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return e, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (filterExpr, error) {
	if p.pos+3 > len(p.toks) {
		return nil, fmt.Errorf("incomplete comparison")
	}
	field, op, value := p.toks[p.pos], p.toks[p.pos+1], p.toks[p.pos+2]
	p.pos += 3
	c := comparison{field: field.text, op: op.text, value: value.text}
	switch c.op {
	case "eq", "ne":
		re, err := regexp.Compile("^(?:" + c.value + ")$")
		if err != nil {
			return nil, err
		}
		c.re = re
	case "~", "!~":
		re, err := regexp.Compile(c.value)
		if err != nil {
			return nil, err
		}
		c.re = re
	case "=", "!=", ":", "<", "<=", ">", ">=":
	default:
		return nil, fmt.Errorf("unknown operator %q", c.op)
	}
	return c, nil
}
