// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/questionnaire"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// questionnairePage shows the registration questionnaire as a form to
// edit (questions, options, branches, every language) with a preview of
// what the contact reads, its JSON for import and export, and the versions
// saved: supervisors (floor.manage).
func (c *Console) questionnairePage(w http.ResponseWriter, r *http.Request, s *session) {
	data, err := c.questionnaireData(r)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "questionnaire", http.StatusOK, data)
}

func (c *Console) questionnaireData(r *http.Request) (map[string]any, error) {
	data := map[string]any{"Editor": true, "Saved": r.URL.Query().Get("saved")}
	cur, err := c.store.Questionnaire(r.Context())
	switch lifeline.ErrorCode(err) {
	case "":
		data["Version"], data["Definition"] = cur.Version, string(cur.Definition)
	case lifeline.ENOTFOUND:
		data["Version"], data["Definition"] = 0, string(questionnaire.DefaultJSON)
	default:
		return nil, err
	}
	versions, err := c.store.QuestionnaireVersions(r.Context())
	if err != nil {
		return nil, err
	}
	data["Versions"] = versions
	lang := r.FormValue("preview_lang")
	if lang == "" {
		lang = r.URL.Query().Get("preview")
	}
	setForm(data, []byte(data["Definition"].(string)), lang)
	return data, nil
}

// setForm lays def out for the editor's form and preview, the preview in
// lang (the questionnaire's first language if it has no such one).
func setForm(data map[string]any, def []byte, lang string) {
	d := looseDefinition(def)
	if !slices.Contains(d.Languages, lang) {
		lang = d.Languages[0]
	}
	data["Definition"] = string(def)
	data["Form"], data["FormSteps"], data["FormMessages"] = d, formSteps(d.Steps, "steps", 0), messageTexts(d)
	data["MessageKeys"], data["StepTypes"], data["Outcomes"] = messageKeys, stepTypes, outcomes
	data["Preview"], data["PreviewLang"] = d.Preview(lang), lang
}

var (
	stepTypes = []string{questionnaire.TypeLanguage, questionnaire.TypeChoice, questionnaire.TypeText, questionnaire.TypeDate, questionnaire.TypeGroup, questionnaire.TypeEnd}
	outcomes  = []string{questionnaire.OutcomeRegister, questionnaire.OutcomeHandoff}
)

// saveQuestionnaire checks a definition whole and saves it as the next
// version (audited); a definition with problems is shown again with every
// problem listed, nothing saved.
//
// The editor's form (editor=form) posts its fields instead, and an action:
// save; preview (shown, not saved); or add:PATH, an empty question or
// option appended to the list at PATH (shown, not saved).
func (c *Console) saveQuestionnaire(w http.ResponseWriter, r *http.Request, s *session) {
	text := r.PostFormValue("definition")
	action := "save"
	if r.PostFormValue("editor") == "form" {
		action = r.PostFormValue("action")
		add, adding := strings.CutPrefix(action, "add:")
		if !adding {
			add = ""
		}
		b, err := formDefinition(r.PostForm, add)
		if err != nil {
			c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "%s", err.Error()))
			return
		}
		text = string(b)
		if adding || action == "preview" {
			data, derr := c.questionnaireData(r)
			if derr != nil {
				c.fail(w, r, s, derr)
				return
			}
			setForm(data, b, r.PostFormValue("preview_lang"))
			data["Edited"] = true
			if _, err := questionnaire.Parse(b); err != nil && !adding {
				data["Problems"] = problemsOf(err)
			}
			c.render(w, r, s, "questionnaire", http.StatusOK, data)
			return
		}
	}
	if action != "save" {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Unknown action."))
		return
	}
	if _, err := questionnaire.Parse([]byte(text)); err != nil {
		var ve *questionnaire.ValidationError
		problems := []string{err.Error()}
		if errors.As(err, &ve) {
			problems = ve.Problems
		}
		data, derr := c.questionnaireData(r)
		if derr != nil {
			c.fail(w, r, s, derr)
			return
		}
		setForm(data, []byte(text), r.PostFormValue("preview_lang"))
		data["Problems"], data["Edited"] = problems, true
		c.render(w, r, s, "questionnaire", http.StatusBadRequest, data)
		return
	}
	v, err := c.store.SaveQuestionnaire(context.WithoutCancel(r.Context()), s.actor(r), []byte(text))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/questionnaire?saved="+strconv.Itoa(v), http.StatusSeeOther)
}

func problemsOf(err error) []string {
	var ve *questionnaire.ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return []string{err.Error()}
}

// botPage shows the bot's session in a conversation, with pause and
// resume: operators who may answer it.
func (c *Console) botPage(w http.ResponseWriter, r *http.Request, s *session) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data := map[string]any{"Conversation": conv}
	switch st, err := c.store.QuestionnaireStatus(r.Context(), conv.ID); lifeline.ErrorCode(err) {
	case "":
		data["Session"] = st
		data["Running"] = st.State == sqlstore.QuestionnaireActive || st.State == sqlstore.QuestionnaireCompleting
		data["CanResume"] = st.State == sqlstore.QuestionnairePaused || (st.State == sqlstore.QuestionnaireDone && st.Outcome == sqlstore.QuestionnaireSkipped)
		// A hand-off is for a person to answer, then resume: not to pause.
		data["CanPause"] = st.State == sqlstore.QuestionnaireActive || (st.State == sqlstore.QuestionnairePaused && st.PausedBy == questionnaire.PausedByContact)
		if st.State != sqlstore.QuestionnaireDone {
			data["Place"] = c.botPlace(r, s, st.Version, st.Step)
		}
	case lifeline.ENOTFOUND:
		data["CanResume"] = true // the bot has not looked at it yet: an operator may start it
	default:
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "questionnaire", http.StatusOK, data)
}

// botPlace is where a session stands, for people: its question's number
// and short title in the operator's language; nil if the session's
// definition or cursor cannot say.
type botPlace struct {
	N, Of int
	Title string
}

func (c *Console) botPlace(r *http.Request, s *session, version int, step string) *botPlace {
	cur, err := questionnaire.ParseCursor(step)
	if version == 0 || step == "" || err != nil {
		return nil
	}
	var d *questionnaire.Definition
	if v, ok := c.defs.Load(version); ok {
		d = v.(*questionnaire.Definition)
	} else {
		v, err := c.store.QuestionnaireVersion(r.Context(), version)
		if err != nil {
			return nil
		}
		if d, err = questionnaire.Parse(v.Definition); err != nil {
			return nil
		}
		c.defs.Store(version, d)
	}
	lang := "uk"
	if s.UILanguage == "en" {
		lang = "en"
	}
	n, of, title := d.Place(cur, lang)
	if n == 0 {
		return nil
	}
	return &botPlace{n, of, title}
}

func (c *Console) pauseBot(w http.ResponseWriter, r *http.Request, s *session) {
	c.setBot(w, r, s, false)
}

func (c *Console) resumeBot(w http.ResponseWriter, r *http.Request, s *session) {
	c.setBot(w, r, s, true)
}

// setBot pauses or resumes the bot in a conversation (audited by the store).
func (c *Console) setBot(w http.ResponseWriter, r *http.Request, s *session, resume bool) {
	conv, err := c.conversationFor(r, s, lifeline.ActionReplyConversation)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	if resume {
		err = c.store.ResumeQuestionnaire(ctx, s.actor(r), conv.ID)
	} else {
		err = c.store.PauseQuestionnaire(ctx, s.actor(r), conv.ID)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.changed(conv.ID, "message")
	http.Redirect(w, r, "/c/"+string(conv.ID)+"/bot", http.StatusSeeOther)
}
