// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
)

// The questionnaire editor's form names each input by its JSON path under
// "q." (q.steps.3.options.1.label.uk); formDefinition rebuilds the JSON
// from them, and questionnaire.Parse checks it as it checks imported JSON.
// The JSON stays on the page for import and export.
const formPrefix = "q."

// Keys whose form values are not strings.
var (
	formBools = map[string]bool{"required": true, "identity": true}
	formInts  = map[string]bool{"min_len": true, "max_len": true, "max": true}
	// formLists are one entry a line (keywords) or comma-separated
	// (languages).
	formLists = map[string]bool{"languages": true, "pause": true, "resume": true, "skip": true}
)

// Bounds on what a form may post: a questionnaire is dozens of steps.
const (
	formMaxDepth = 8
	formMaxIndex = 500
)

// formNode is a JSON value being rebuilt: an object (keys), or an array
// (items by index, in order of index).
type formNode struct {
	keys  map[string]*formNode
	items map[int]*formNode
	value any // a leaf
	set   bool
}

func (n *formNode) child(seg string) (*formNode, error) {
	if i, err := strconv.Atoi(seg); err == nil {
		if i < 0 || i > formMaxIndex || n.keys != nil {
			return nil, fmt.Errorf("the form has an unexpected field")
		}
		if n.items == nil {
			n.items = map[int]*formNode{}
		}
		if n.items[i] == nil {
			n.items[i] = &formNode{}
		}
		return n.items[i], nil
	}
	if n.items != nil {
		return nil, fmt.Errorf("the form has an unexpected field")
	}
	if n.keys == nil {
		n.keys = map[string]*formNode{}
	}
	if n.keys[seg] == nil {
		n.keys[seg] = &formNode{}
	}
	return n.keys[seg], nil
}

// build turns the node into JSON values: items marked "remove" are left
// out, empty leaves and empty objects are omitted.
func (n *formNode) build() (any, bool) {
	switch {
	case n.set:
		return n.value, true
	case n.items != nil:
		idx := make([]int, 0, len(n.items))
		for i := range n.items {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		out := []any{}
		for _, i := range idx {
			if r := n.items[i].keys["remove"]; r != nil && r.value == true {
				continue
			}
			if v, ok := n.items[i].build(); ok {
				out = append(out, v)
			} else {
				out = append(out, map[string]any{}) // an added, still empty entry
			}
		}
		return out, true
	case n.keys != nil:
		out := map[string]any{}
		for k, c := range n.keys {
			if k == "remove" {
				continue
			}
			if v, ok := c.build(); ok {
				out[k] = v
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

// formDefinition rebuilds a questionnaire's JSON from the editor's form,
// with an empty entry appended to the list at add (a path such as
// "steps.3.options"), if given.
func formDefinition(form url.Values, add string) ([]byte, error) {
	root := &formNode{}
	keys := make([]string, 0, len(form))
	for k := range form {
		if strings.HasPrefix(k, formPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := strings.Split(strings.TrimPrefix(k, formPrefix), ".")
		if len(path) > formMaxDepth {
			return nil, fmt.Errorf("the form has an unexpected field")
		}
		n := root
		for _, seg := range path {
			var err error
			if n, err = n.child(seg); err != nil {
				return nil, err
			}
		}
		leaf := path[len(path)-1]
		v := strings.TrimSpace(form.Get(k))
		switch {
		case leaf == "remove" || formBools[leaf]:
			if v != "" {
				n.value, n.set = true, true
			}
		case formInts[leaf]:
			if v != "" {
				i, err := strconv.Atoi(v)
				if err != nil || i < 0 {
					return nil, fmt.Errorf("%s: want a whole number", strings.TrimPrefix(k, formPrefix))
				}
				n.value, n.set = i, true
			}
		case formLists[leaf]:
			list := []any{}
			for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' }) {
				if w = strings.TrimSpace(w); w != "" {
					list = append(list, w)
				}
			}
			n.value, n.set = list, true
		default:
			if v != "" {
				n.value, n.set = v, true
			}
		}
	}
	if add != "" {
		n := root
		path := strings.Split(add, ".")
		if len(path) > formMaxDepth {
			return nil, fmt.Errorf("the form has an unexpected field")
		}
		for _, seg := range path {
			var err error
			if n, err = n.child(seg); err != nil {
				return nil, err
			}
		}
		if n.keys != nil {
			return nil, fmt.Errorf("the form has an unexpected field")
		}
		if n.items == nil {
			n.items = map[int]*formNode{}
		}
		next := 0
		for i := range n.items {
			next = max(next, i+1)
		}
		n.items[next] = &formNode{}
	}
	v, _ := root.build()
	return json.MarshalIndent(v, "", "  ")
}

// formStep is one step as the editor lays it out: its path in the form,
// and its depth (a group's questions are indented).
type formStep struct {
	Path    string
	Depth   int
	Step    questionnaire.Step
	Options []formOption
}

// formOption is an option with its index and the number the contact sees.
type formOption struct {
	I, N int
	questionnaire.Option
}

// formSteps flattens the steps, a group's own after it.
func formSteps(steps []questionnaire.Step, prefix string, depth int) []formStep {
	var out []formStep
	for i, s := range steps {
		p := prefix + "." + strconv.Itoa(i)
		fs := formStep{Path: p, Depth: depth, Step: s}
		for j, o := range s.Options {
			fs.Options = append(fs.Options, formOption{I: j, N: j + 1, Option: o})
		}
		out = append(out, fs)
		if s.Type == questionnaire.TypeGroup {
			out = append(out, formSteps(s.Steps, p+".steps", depth+1)...)
		}
	}
	return out
}

// messageKeys are the bot's own messages, in the editor's order.
var messageKeys = []string{"invalid", "required", "choose", "date", "too_long", "text_only", "optional", "paused", "resumed", "yes", "no", "handoff"}

// messageTexts are d's messages by key, for the editor.
func messageTexts(d *questionnaire.Definition) map[string]questionnaire.Text {
	m := d.Messages
	return map[string]questionnaire.Text{"invalid": m.Invalid, "required": m.Required, "choose": m.Choose, "date": m.Date,
		"too_long": m.TooLong, "text_only": m.TextOnly, "optional": m.Optional, "paused": m.Paused, "resumed": m.Resumed,
		"yes": m.Yes, "no": m.No, "handoff": m.Handoff}
}

// looseDefinition reads JSON into a definition without checking it: the
// editor shows what it can of one with problems.
func looseDefinition(b []byte) *questionnaire.Definition {
	var d questionnaire.Definition
	json.Unmarshal(b, &d)
	if len(d.Languages) == 0 {
		d.Languages = []string{"ru", "uk", "en"}
	}
	return &d
}
