// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"slices"
	"strings"
	"time"
)

// Language is a language a contact writes in and an operator answers in: an
// ISO 639-1 code in lower case.
type Language string

// The languages the hotline answers in.
const (
	LanguageRussian   Language = "ru"
	LanguageUkrainian Language = "uk"
	LanguageEnglish   Language = "en"
)

// Languages returns every language, in a fixed order.
func Languages() []Language { return []Language{LanguageRussian, LanguageUkrainian, LanguageEnglish} }

// Valid reports whether l is one of the languages.
func (l Language) Valid() bool {
	return l == LanguageRussian || l == LanguageUkrainian || l == LanguageEnglish
}

// ParseLanguage returns s as a Language; it is exact (lower case) and fails
// with EINVALID for anything else.
func ParseLanguage(s string) (Language, error) {
	if l := Language(s); l.Valid() {
		return l, nil
	}
	return "", Errorf(EINVALID, "Unknown language.")
}

// MaxCapacity is the most open conversations a routing profile may give one
// operator at once.
const MaxCapacity = 50

// RoutingProfile is what routing knows of an operator: the languages he
// answers in, the streams he serves and how many open conversations he
// carries at once. It is staff data, not personal data of a contact.
type RoutingProfile struct {
	Languages []Language // at least one, no repeats
	Streams   []Stream   // at least one, no repeats
	// Capacity is the most open conversations automatic routing gives him:
	// 0 to MaxCapacity. 0 takes him out of automatic routing while he stays
	// on shift; a supervisor may still assign to him by hand.
	Capacity int
}

// Validate reports with EINVALID whether p breaks an invariant of its
// fields.
func (p *RoutingProfile) Validate() error {
	if len(p.Languages) == 0 || len(p.Streams) == 0 {
		return Errorf(EINVALID, "A routing profile needs at least one language and one stream.")
	}
	for i, l := range p.Languages {
		if !l.Valid() {
			return Errorf(EINVALID, "Unknown language.")
		}
		if slices.Contains(p.Languages[:i], l) {
			return Errorf(EINVALID, "A language is listed twice.")
		}
	}
	for i, s := range p.Streams {
		if !s.Valid() {
			return Errorf(EINVALID, "Unknown stream.")
		}
		if slices.Contains(p.Streams[:i], s) {
			return Errorf(EINVALID, "A stream is listed twice.")
		}
	}
	if p.Capacity < 0 || p.Capacity > MaxCapacity {
		return Errorf(EINVALID, "Capacity is 0 to %d open conversations.", MaxCapacity)
	}
	return nil
}

// Serves reports whether the profile lists both the stream and the
// language. Capacity is not considered.
func (p *RoutingProfile) Serves(s Stream, l Language) bool {
	return slices.Contains(p.Streams, s) && slices.Contains(p.Languages, l)
}

// TakesConversations reports whether operators of role r answer contacts,
// and so are routed conversations and count towards coverage: the roles that
// may reply to a conversation of their own in SECURITY.md §2.5 (intake
// operators and case officers). A supervisor replies only through
// break-glass, so is escalated to, not routed to.
func TakesConversations(r Role) bool {
	switch Allowed(r, ActionReplyConversation) {
	case GrantOwn, GrantOwnUnassigned:
		return true
	}
	return false
}

// ShiftID identifies a [Shift]. See [ID] for the format.
type ShiftID string

// NewShiftID returns a fresh random ShiftID.
func NewShiftID() ShiftID { return ShiftID(newID()) }

// ParseShiftID is [ParseID] for shift ids; it fails with EINVALID.
func ParseShiftID(s string) (ShiftID, error) {
	if !validID(s) {
		return "", Errorf(EINVALID, "Invalid shift id.")
	}
	return ShiftID(s), nil
}

// Valid reports whether id is a canonical ID.
func (id ShiftID) Valid() bool { return validID(string(id)) }

// MaxShiftLength is the longest a single shift may last.
const MaxShiftLength = 24 * time.Hour

// Shift is a period when an operator is on duty for one stream, from Start
// (included) to End (excluded). During it he serves that stream in the
// languages of his [RoutingProfile]. Shift times are staff data and exact;
// they say nothing of any contact.
type Shift struct {
	ID       ShiftID
	Operator OperatorID
	Start    time.Time // UTC, a whole minute
	End      time.Time // UTC, a whole minute, after Start, at most MaxShiftLength later
	Stream   Stream
}

// Validate reports with EINVALID whether s breaks an invariant of its
// fields: valid ids and stream, whole minutes, End after Start and at most
// MaxShiftLength later. Overlaps with other shifts are [CheckOverlap]'s.
func (s *Shift) Validate() error {
	switch {
	case !s.ID.Valid():
		return Errorf(EINVALID, "Invalid shift id.")
	case !s.Operator.Valid():
		return Errorf(EINVALID, "Invalid operator id.")
	case !s.Stream.Valid():
		return Errorf(EINVALID, "Unknown stream.")
	case s.Start.IsZero() || s.End.IsZero():
		return Errorf(EINVALID, "A shift needs a start and an end.")
	case !s.Start.Equal(s.Start.Truncate(time.Minute)) || !s.End.Equal(s.End.Truncate(time.Minute)):
		return Errorf(EINVALID, "A shift starts and ends on a whole minute.")
	case !s.End.After(s.Start):
		return Errorf(EINVALID, "A shift ends after it starts.")
	case s.End.Sub(s.Start) > MaxShiftLength:
		return Errorf(EINVALID, "A shift lasts at most %d hours.", int(MaxShiftLength/time.Hour))
	}
	return nil
}

// Covers reports whether t falls within the shift: Start <= t < End.
func (s *Shift) Covers(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// Overlaps reports whether s and o are different shifts of the same
// operator that share some time. A shift that starts when another ends does
// not overlap it.
func (s *Shift) Overlaps(o *Shift) bool {
	return s.ID != o.ID && s.Operator == o.Operator && s.Start.Before(o.End) && o.Start.Before(s.End)
}

// CheckOverlap returns ECONFLICT, naming the first shift it meets, if s
// overlaps any of existing (see [Shift.Overlaps]): an operator is on one
// shift at a time.
func CheckOverlap(s *Shift, existing []Shift) error {
	for i := range existing {
		if o := &existing[i]; s.Overlaps(o) {
			return Errorf(ECONFLICT, "The operator is already on a shift from %s to %s UTC.",
				o.Start.UTC().Format("2006-01-02 15:04"), o.End.UTC().Format("2006-01-02 15:04"))
		}
	}
	return nil
}

// MaxCoverageSpan is the longest period [CoverageGaps] reports on.
const MaxCoverageSpan = 31 * 24 * time.Hour

// CoverageGap is an hour in which part or all of the time nobody serves a
// stream in a language.
type CoverageGap struct {
	Hour     time.Time // the start of the hour, UTC
	Stream   Stream
	Language Language
	// Uncovered is how much of the hour nobody serves: time.Hour when
	// nobody is on duty at all, less when shifts cover part of it.
	Uncovered time.Duration
}

// CoverageGaps reports, for each hour from from (truncated to the hour) up
// to to, each of streams and each of languages, whether the hour is covered:
// at every instant of it, some operator is on a shift for the stream and
// his profile serves both the stream and the language (capacity does not
// matter: a schedule is planned, loads are not). Several operators may
// cover one hour between them. Only hours not wholly covered are returned,
// ordered by hour, then by the order of streams, then of languages.
//
// profiles holds the operators who take conversations (enabled, of a role
// for which [TakesConversations] holds); a shift of an operator missing from
// it covers nothing. It fails with EINVALID if to is before from or the
// span exceeds MaxCoverageSpan. CoverageGaps is pure: it reads no clock.
func CoverageGaps(from, to time.Time, shifts []Shift, profiles map[OperatorID]RoutingProfile, streams []Stream, languages []Language) ([]CoverageGap, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC()
	if to.Before(from) {
		return nil, Errorf(EINVALID, "The period ends before it starts.")
	}
	if to.Sub(from) > MaxCoverageSpan {
		return nil, Errorf(EINVALID, "Coverage is shown for at most %d days at once.", int(MaxCoverageSpan/(24*time.Hour)))
	}
	type span struct{ start, end time.Time }
	// covered[i][j] is the merged time during which streams[i] in
	// languages[j] is served, within [from, to).
	covered := make([][][]span, len(streams))
	for i, st := range streams {
		covered[i] = make([][]span, len(languages))
		for j, l := range languages {
			var spans []span
			for k := range shifts {
				s := &shifts[k]
				p, ok := profiles[s.Operator]
				if !ok || s.Stream != st || !p.Serves(st, l) {
					continue
				}
				start, end := maxTime(s.Start.UTC(), from), minTime(s.End.UTC(), to)
				if start.Before(end) {
					spans = append(spans, span{start, end})
				}
			}
			slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
			var merged []span
			for _, sp := range spans {
				if n := len(merged); n > 0 && !sp.start.After(merged[n-1].end) {
					merged[n-1].end = maxTime(merged[n-1].end, sp.end)
					continue
				}
				merged = append(merged, sp)
			}
			covered[i][j] = merged
		}
	}
	var gaps []CoverageGap
	next := make([][]int, len(streams)) // per stream and language: the first span that may still reach the hour
	for i := range next {
		next[i] = make([]int, len(languages))
	}
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		end := h.Add(time.Hour)
		for i, st := range streams {
			for j, l := range languages {
				spans := covered[i][j]
				k := next[i][j]
				for k < len(spans) && !spans[k].end.After(h) {
					k++
				}
				next[i][j] = k
				var served time.Duration
				for ; k < len(spans) && spans[k].start.Before(end); k++ {
					served += minTime(spans[k].end, end).Sub(maxTime(spans[k].start, h))
				}
				if served < time.Hour {
					gaps = append(gaps, CoverageGap{Hour: h, Stream: st, Language: l, Uncovered: time.Hour - served})
				}
			}
		}
	}
	return gaps, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ParseLanguages parses a comma-separated list of languages ("ru,uk"), as
// stored, failing with EINVALID on an unknown one.
func ParseLanguages(s string) ([]Language, error) {
	var out []Language
	for _, part := range strings.Split(s, ",") {
		l, err := ParseLanguage(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ParseStreams parses a comma-separated list of streams, as stored,
// failing with EINVALID on an unknown one.
func ParseStreams(s string) ([]Stream, error) {
	var out []Stream
	for _, part := range strings.Split(s, ",") {
		st, err := ParseStream(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
