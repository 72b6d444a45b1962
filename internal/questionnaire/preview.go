// SPDX-License-Identifier: AGPL-3.0-or-later

package questionnaire

// PreviewItem is one message of a questionnaire as the contact reads it,
// with where its answers lead: the editor's preview.
type PreviewItem struct {
	Step  string // the step's id; a group's own question carries the group's
	Group string // the group the step belongs to, if any
	Text  string // the message, options numbered, as the bot sends it
	// Branches are the options that jump elsewhere: option number → step.
	Branches []Branch
	Next     string // where the step leads if not the one after it
	End      bool   // an end step: Text is the final message
	Outcome  string // an end step's outcome
}

// Branch is an option that leads to a step other than the following one.
type Branch struct {
	Option int
	Label  string
	To     string
}

// Preview lists the messages of d in the language lang, in order: the
// greeting, then every question (a group's yes-or-no question, its
// questions, and its "again" question), then the ends. It needs no
// validated definition: missing texts show empty.
func (d *Definition) Preview(lang string) []PreviewItem {
	out := []PreviewItem{{Step: "greeting", Text: d.Greeting[lang]}}
	var walk func(steps []Step, group *Step)
	walk = func(steps []Step, group *Step) {
		for i := range steps {
			s := &steps[i]
			it := PreviewItem{Step: s.ID, Next: s.Next}
			if group != nil {
				it.Group = group.ID
			}
			switch s.Type {
			case TypeGroup:
				it.Text = s.Text[lang] + "\n1. " + d.Messages.Yes[lang] + "\n2. " + d.Messages.No[lang]
				out = append(out, it)
				walk(s.Steps, s)
				out = append(out, PreviewItem{Step: s.ID, Text: s.Again[lang] + "\n1. " + d.Messages.Yes[lang] + "\n2. " + d.Messages.No[lang]})
				continue
			case TypeEnd:
				it.Text, it.End, it.Outcome = s.Text[lang], true, s.Outcome
			default:
				it.Text = d.render(s, lang)
			}
			for n, o := range s.Options {
				if o.Next != "" {
					it.Branches = append(it.Branches, Branch{Option: n + 1, Label: o.Label[lang], To: o.Next})
				}
			}
			out = append(out, it)
		}
	}
	walk(d.Steps, nil)
	return out
}
