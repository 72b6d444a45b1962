// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import "time"

// dayLayout is how a Day is written: ISO 8601 calendar date.
const dayLayout = "2006-01-02"

// Day is a calendar date in UTC, with no time of day. Workflow dates stored
// in plaintext (created, last activity, closed, retention deadline) are Days,
// never instants: exact times would help correlate a case with provider or
// network records, so they live only inside ciphertext (SECURITY.md §2.4).
//
// The zero Day means "not set". Days are comparable with == and usable as
// map keys.
type Day struct {
	year  int
	month time.Month
	day   int
}

// DayOf returns the UTC calendar date of t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day{y, m, d}
}

// NewDay returns the given date. It fails with EINVALID unless the date
// exists (no 31 April) and the year is in 1..9999.
func NewDay(year int, month time.Month, day int) (Day, error) {
	if year < 1 || year > 9999 {
		return Day{}, Errorf(EINVALID, "Invalid date.")
	}
	d := Day{year, month, day}
	if DayOf(d.Time()) != d {
		return Day{}, Errorf(EINVALID, "Invalid date.")
	}
	return d, nil
}

// ParseDay parses a date written as YYYY-MM-DD, the form [Day.String]
// returns. It fails with EINVALID.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return Day{}, Errorf(EINVALID, "Invalid date.")
	}
	return NewDay(t.Date())
}

// Date returns the year, month and day of d.
func (d Day) Date() (year int, month time.Month, day int) { return d.year, d.month, d.day }

// IsZero reports whether d is the zero Day ("not set").
func (d Day) IsZero() bool { return d == Day{} }

// Time returns midnight UTC at the start of d.
func (d Day) Time() time.Time { return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC) }

// AddDays returns d plus n days (n may be negative).
func (d Day) AddDays(n int) Day { return DayOf(d.Time().AddDate(0, 0, n)) }

// Compare returns -1 if d is before e, 0 if they are equal and +1 if d is
// after e.
func (d Day) Compare(e Day) int { return d.Time().Compare(e.Time()) }

// Before reports whether d is before e.
func (d Day) Before(e Day) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Day) After(e Day) bool { return d.Compare(e) > 0 }

// String returns d as YYYY-MM-DD, or "" for the zero Day.
func (d Day) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(dayLayout)
}

// MarshalText implements encoding.TextMarshaler: YYYY-MM-DD, or empty for
// the zero Day.
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Empty text gives the
// zero Day; anything else must be a valid YYYY-MM-DD.
func (d *Day) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Day{}
		return nil
	}
	v, err := ParseDay(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
