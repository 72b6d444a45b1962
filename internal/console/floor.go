// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// coverageDays is how far ahead the coverage page looks.
const coverageDays = 7

// shiftsPage shows the next week's shifts, the form to add one, and each
// operator's routing profile.
func (c *Console) shiftsPage(w http.ResponseWriter, r *http.Request, s *session) {
	now := c.cfg.Now().UTC()
	shifts, err := c.store.Shifts(r.Context(), sqlstore.ShiftFilter{From: now, To: now.Add(coverageDays * 24 * time.Hour)})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	staff, err := c.store.RoutingProfiles(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names := map[lifeline.OperatorID]string{}
	var takers []sqlstore.Staff
	for _, st := range staff {
		names[st.Operator.ID] = st.Operator.Username
		if lifeline.TakesConversations(st.Operator.Role) && !st.Operator.Disabled {
			takers = append(takers, st)
		}
	}
	type row struct {
		lifeline.Shift
		Username string
	}
	rows := make([]row, len(shifts))
	for i, sh := range shifts {
		rows[i] = row{sh, names[sh.Operator]}
	}
	c.render(w, r, s, "shifts", http.StatusOK, map[string]any{
		"Shifts": rows, "Staff": takers, "Streams": streams,
		"DefaultStart": now.Truncate(time.Hour).Add(time.Hour),
	})
}

// addShift schedules a shift: operator, start (the operator's local time),
// length in hours, stream.
func (c *Console) addShift(w http.ResponseWriter, r *http.Request, s *session) {
	// The start is a wall-clock time in the operator's zone; the shift
	// is stored in UTC and lasts real hours, across a change of clocks too.
	start, err := parseLocal(c.view(r, s, nil).Zone, r.PostFormValue("start"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	hours, err := strconv.Atoi(r.PostFormValue("hours"))
	if err != nil || hours < 1 || hours > 24 {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "A shift lasts 1 to 24 hours."))
		return
	}
	sh := &lifeline.Shift{
		ID: lifeline.NewShiftID(), Operator: lifeline.OperatorID(r.PostFormValue("operator")),
		Start: start, End: start.Add(time.Duration(hours) * time.Hour), Stream: lifeline.Stream(r.PostFormValue("stream")),
	}
	if err := c.store.AddShift(context.WithoutCancel(r.Context()), s.actor(r), sh); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/shifts", http.StatusSeeOther)
}

func (c *Console) deleteShift(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := lifeline.ParseShiftID(r.PathValue("id"))
	if err == nil {
		err = c.store.DeleteShift(context.WithoutCancel(r.Context()), s.actor(r), id)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/shifts", http.StatusSeeOther)
}

// setProfile sets an operator's languages, streams and capacity.
func (c *Console) setProfile(w http.ResponseWriter, r *http.Request, s *session) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Unreadable form."))
		return
	}
	langs, err := lifeline.ParseLanguages(strings.Join(r.PostForm["languages"], ","))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	strs, err := lifeline.ParseStreams(strings.Join(r.PostForm["streams"], ","))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	capacity, err := strconv.Atoi(r.PostFormValue("capacity"))
	if err != nil {
		c.fail(w, r, s, lifeline.Errorf(lifeline.EINVALID, "Capacity is a number of conversations."))
		return
	}
	p := lifeline.RoutingProfile{Languages: langs, Streams: strs, Capacity: capacity}
	if err := c.store.SetRoutingProfile(context.WithoutCancel(r.Context()), s.actor(r), lifeline.OperatorID(r.PathValue("id")), p); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/shifts", http.StatusSeeOther)
}

// coveragePage shows, for the next seven days, every hour nobody is on
// duty for a stream and language: a strip of 168 hours per pair, and the
// gaps listed.
func (c *Console) coveragePage(w http.ResponseWriter, r *http.Request, s *session) {
	from := c.cfg.Now().UTC().Truncate(time.Hour)
	to := from.Add(coverageDays * 24 * time.Hour)
	gaps, err := c.store.Coverage(r.Context(), from, to)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	type cell struct {
		Hour  time.Time
		State string // covered, partial, gap
	}
	type strip struct {
		Stream   lifeline.Stream
		Language lifeline.Language
		Cells    []cell
		Gaps     int
	}
	idx := map[[2]string]int{}
	var strips []strip
	for _, st := range []lifeline.Stream{lifeline.StreamSurrender, lifeline.StreamRelatives} {
		for _, l := range lifeline.Languages() {
			cells := make([]cell, 0, coverageDays*24)
			for h := from; h.Before(to); h = h.Add(time.Hour) {
				cells = append(cells, cell{Hour: h, State: "covered"})
			}
			idx[[2]string{string(st), string(l)}] = len(strips)
			strips = append(strips, strip{Stream: st, Language: l, Cells: cells})
		}
	}
	for _, g := range gaps {
		i, ok := idx[[2]string{string(g.Stream), string(g.Language)}]
		if !ok {
			continue
		}
		n := int(g.Hour.Sub(from) / time.Hour)
		if n < 0 || n >= len(strips[i].Cells) {
			continue
		}
		strips[i].Cells[n].State = "partial"
		if g.Uncovered >= time.Hour {
			strips[i].Cells[n].State = "gap"
		}
		strips[i].Gaps++
	}
	// The gaps as ranges of consecutive hours, per stream and language.
	type span struct {
		Stream   lifeline.Stream
		Language lifeline.Language
		From, To time.Time
	}
	var spans []span
	for _, st := range strips {
		for i := 0; i < len(st.Cells); i++ {
			if st.Cells[i].State == "covered" {
				continue
			}
			j := i
			for j+1 < len(st.Cells) && st.Cells[j+1].State != "covered" {
				j++
			}
			spans = append(spans, span{st.Stream, st.Language, st.Cells[i].Hour, st.Cells[j].Hour.Add(time.Hour)})
			i = j
		}
	}
	c.render(w, r, s, "coverage", http.StatusOK, map[string]any{"Strips": strips, "From": from, "To": to, "Gaps": spans})
}
