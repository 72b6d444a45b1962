// SPDX-License-Identifier: AGPL-3.0-or-later

package console

import (
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

// TestLocalTimesAcrossClockChanges: a wall-clock time typed in Kyiv is
// stored as the right UTC instant around the last Sundays of March and
// October (2026: the 29th and the 25th); the hour the clocks skip is
// refused, the hour they repeat is its first pass; shown back, the UTC
// instant reads as typed, labelled with the zone.
func TestLocalTimesAcrossClockChanges(t *testing.T) {
	kyiv, label := zoneOf("uk", "Europe/Kyiv")
	if label != "Київ" {
		t.Errorf("label %q", label)
	}
	for _, c := range []struct {
		typed string
		utc   string // "" for refused
	}{
		{"2026-03-28T22:00", "2026-03-28T20:00"}, // winter time, UTC+2
		{"2026-03-29T02:59", "2026-03-29T00:59"},
		{"2026-03-29T03:00", ""}, // 03:00–03:59 does not happen
		{"2026-03-29T03:30", ""},
		{"2026-03-29T04:00", "2026-03-29T01:00"}, // summer time, UTC+3
		{"2026-03-29T22:00", "2026-03-29T19:00"},
		{"2026-10-24T22:00", "2026-10-24T19:00"}, // summer time
		{"2026-10-25T02:59", "2026-10-24T23:59"},
		{"2026-10-25T03:00", "2026-10-25T00:00"}, // 03:00–03:59 happens twice: the first
		{"2026-10-25T03:30", "2026-10-25T00:30"},
		{"2026-10-25T04:00", "2026-10-25T02:00"}, // winter time again
		{"2026-10-25T22:00", "2026-10-25T20:00"},
		{"2026-13-01T00:00", ""},
		{"tomorrow", ""},
	} {
		got, err := parseLocal(kyiv, c.typed)
		switch {
		case c.utc == "" && err == nil:
			t.Errorf("%s: %v, want refused", c.typed, got)
		case c.utc == "":
			if lifeline.ErrorCode(err) != lifeline.EINVALID {
				t.Errorf("%s: %v, want EINVALID", c.typed, err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.typed, err)
		case got.Format(localLayout) != c.utc || got.Location() != time.UTC:
			t.Errorf("%s: %s, want %s UTC", c.typed, got.Format(localLayout+" MST"), c.utc)
		default:
			if back := got.In(kyiv).Format(localLayout); back != c.typed {
				t.Errorf("%s shows back as %s", c.typed, back)
			}
		}
	}
	// A night shift of 8 hours across each change lasts 8 real hours and
	// ends at the wall-clock time the clocks make of it.
	v := view{Zone: kyiv, ZoneLabel: label}
	at := zoneFuncs()["at"].(func(view, time.Time) string)
	for _, c := range []struct{ start, end string }{
		{"2026-03-28T22:00", "2026-03-29 07:00 (Київ)"},
		{"2026-10-24T22:00", "2026-10-25 05:00 (Київ)"},
	} {
		s, err := parseLocal(kyiv, c.start)
		if err != nil {
			t.Fatal(err)
		}
		if got := at(v, s.Add(8*time.Hour)); got != c.end {
			t.Errorf("8 hours from %s end %s, want %s", c.start, got, c.end)
		}
	}
	if _, l := zoneOf("en", "Nowhere/Atlantis"); l != "Kyiv" {
		t.Errorf("an unknown zone shows as %q, want Kyiv's", l)
	}
}
