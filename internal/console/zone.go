// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // the zones, on a host without a zoneinfo database too

	"github.com/lifeline-hotline/lifeline"
)

// DefaultZone is the time zone of an operator who chose none.
const DefaultZone = "Europe/Kyiv"

// zones are the time zones the settings page offers, with their names in
// Ukrainian and English; the label of a time says which one it is in.
var zones = []struct {
	Name  string
	Label [2]string // {uk, en}
}{
	{"Europe/Kyiv", [2]string{"Київ", "Kyiv"}},
	{"Europe/Warsaw", [2]string{"Варшава", "Warsaw"}},
	{"Europe/Vilnius", [2]string{"Вільнюс", "Vilnius"}},
	{"Europe/Berlin", [2]string{"Берлін", "Berlin"}},
	{"Europe/London", [2]string{"Лондон", "London"}},
	{"UTC", [2]string{"UTC", "UTC"}},
}

// zoneOf is the location and label of a zone name, Kyiv's for an unknown
// one.
func zoneOf(lang, name string) (*time.Location, string) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		name = DefaultZone
		loc, _ = time.LoadLocation(DefaultZone)
	}
	for _, z := range zones {
		if z.Name == name {
			if lang == "en" {
				return loc, z.Label[1]
			}
			return loc, z.Label[0]
		}
	}
	return loc, strings.ReplaceAll(name[strings.LastIndex(name, "/")+1:], "_", " ")
}

// localLayout is how a datetime-local input gives a wall-clock time.
const localLayout = "2006-01-02T15:04"

// parseLocal reads a wall-clock time in loc, as a person types it. A time
// the clocks skip (the hour lost on the last Sunday of March) is refused;
// a time they pass twice (the hour repeated in October) is the first of
// the two, as a person who means "03:30 that night" means the first.
func parseLocal(loc *time.Location, s string) (time.Time, error) {
	w, err := time.ParseInLocation(localLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, lifeline.Errorf(lifeline.EINVALID, "Give the start as a date and time.")
	}
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, loc)
	if wall(t) != wall(w) {
		return time.Time{}, lifeline.Errorf(lifeline.EINVALID, "The clocks skip %s on that day: choose another time.", w.Format("15:04"))
	}
	// The earlier of two instants with this wall clock.
	for _, d := range []time.Duration{-2 * time.Hour, -time.Hour, -30 * time.Minute} {
		if e := t.Add(d); wall(e.In(loc)) == wall(w) {
			return e.UTC(), nil
		}
	}
	return t.UTC(), nil
}

// wall is a time's wall clock, zone aside.
func wall(t time.Time) string { return t.Format(localLayout) }

// zoneFuncs are the template functions of times in the reader's zone:
// at (date, time and the zone's label), hm (hours and minutes), date (the
// day), local (the wall clock for a datetime-local input), zone (the
// label).
func zoneFuncs() map[string]any {
	return map[string]any{
		"at": func(v view, t time.Time) string {
			return t.In(v.Zone).Format("2006-01-02 15:04") + " (" + v.ZoneLabel + ")"
		},
		"hm":    func(v view, t time.Time) string { return t.In(v.Zone).Format("15:04") },
		"date":  func(v view, t time.Time) string { return t.In(v.Zone).Format("2006-01-02") },
		"local": func(v view, t time.Time) string { return t.In(v.Zone).Format(localLayout) },
		"zone":  func(v view) string { return v.ZoneLabel },
	}
}

// settingsPage shows the operator's own settings: language and time zone.
func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, r, s, "settings", http.StatusOK, map[string]any{"Zones": zones, "Zone": s.TimeZone, "Now": c.cfg.Now()})
}

// setZone sets the operator's time zone.
func (c *Console) setZone(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.store.SetTimeZone(r.Context(), s.Operator.ID, r.PostFormValue("zone")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}
