// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-hotline/lifeline"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

func at(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }

func TestLanguage(t *testing.T) {
	for _, l := range lifeline.Languages() {
		got, err := lifeline.ParseLanguage(string(l))
		if err != nil || got != l || !l.Valid() {
			t.Errorf("ParseLanguage(%q) = %q, %v; want it back", l, got, err)
		}
	}
	for _, s := range []string{"", "RU", "ru ", "de", "ru,uk", "рус"} {
		if _, err := lifeline.ParseLanguage(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseLanguage(%q) = %v, want EINVALID", s, err)
		}
	}
	got, err := lifeline.ParseLanguages("ru, uk,en")
	if err != nil || !slices.Equal(got, []lifeline.Language{"ru", "uk", "en"}) {
		t.Errorf("ParseLanguages = %v, %v", got, err)
	}
	for _, s := range []string{"", "ru,", "ru,de"} {
		if _, err := lifeline.ParseLanguages(s); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("ParseLanguages(%q) = %v, want EINVALID", s, err)
		}
	}
	gotS, err := lifeline.ParseStreams("surrender,relatives")
	if err != nil || !slices.Equal(gotS, lifeline.Streams()) {
		t.Errorf("ParseStreams = %v, %v", gotS, err)
	}
	if _, err := lifeline.ParseStreams("surrender,soldiers"); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Errorf("ParseStreams with an unknown stream = %v, want EINVALID", err)
	}
}

func TestRoutingProfileValidate(t *testing.T) {
	ok := func() lifeline.RoutingProfile {
		return lifeline.RoutingProfile{Languages: []lifeline.Language{"ru", "uk"}, Streams: []lifeline.Stream{"surrender"}, Capacity: 5}
	}
	p := ok()
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for _, c := range []int{0, 1, lifeline.MaxCapacity} {
		p := ok()
		p.Capacity = c
		if err := p.Validate(); err != nil {
			t.Errorf("capacity %d: %v", c, err)
		}
	}
	for name, mutate := range map[string]func(*lifeline.RoutingProfile){
		"no languages":      func(p *lifeline.RoutingProfile) { p.Languages = nil },
		"no streams":        func(p *lifeline.RoutingProfile) { p.Streams = nil },
		"unknown language":  func(p *lifeline.RoutingProfile) { p.Languages = append(p.Languages, "de") },
		"repeated language": func(p *lifeline.RoutingProfile) { p.Languages = append(p.Languages, "ru") },
		"unknown stream":    func(p *lifeline.RoutingProfile) { p.Streams = append(p.Streams, "press") },
		"repeated stream":   func(p *lifeline.RoutingProfile) { p.Streams = append(p.Streams, "surrender") },
		"negative capacity": func(p *lifeline.RoutingProfile) { p.Capacity = -1 },
		"capacity too big":  func(p *lifeline.RoutingProfile) { p.Capacity = lifeline.MaxCapacity + 1 },
	} {
		p := ok()
		mutate(&p)
		if err := p.Validate(); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: Validate() = %v, want EINVALID", name, err)
		}
	}
}

func TestRoutingProfileServes(t *testing.T) {
	p := lifeline.RoutingProfile{Languages: []lifeline.Language{"ru", "en"}, Streams: []lifeline.Stream{"relatives"}, Capacity: 0}
	for _, c := range []struct {
		s    lifeline.Stream
		l    lifeline.Language
		want bool
	}{
		{"relatives", "ru", true},
		{"relatives", "en", true},
		{"relatives", "uk", false},
		{"surrender", "ru", false},
		{"surrender", "uk", false},
	} {
		if got := p.Serves(c.s, c.l); got != c.want {
			t.Errorf("Serves(%s, %s) = %v, want %v", c.s, c.l, got, c.want)
		}
	}
}

func TestTakesConversations(t *testing.T) {
	want := map[lifeline.Role]bool{lifeline.RoleIntake: true, lifeline.RoleCaseOfficer: true}
	for _, r := range lifeline.AllRoles() {
		if got := lifeline.TakesConversations(r); got != want[r] {
			t.Errorf("TakesConversations(%s) = %v, want %v", r, got, want[r])
		}
	}
	if lifeline.TakesConversations("nobody") {
		t.Error("TakesConversations of an unknown role = true")
	}
}

func TestShiftID(t *testing.T) {
	id := lifeline.NewShiftID()
	if got, err := lifeline.ParseShiftID(string(id)); err != nil || got != id || !id.Valid() {
		t.Fatalf("ParseShiftID(%q) = %q, %v", id, got, err)
	}
	if _, err := lifeline.ParseShiftID("x"); lifeline.ErrorCode(err) != lifeline.EINVALID {
		t.Fatalf("ParseShiftID(x) = %v, want EINVALID", err)
	}
}

func TestShiftValidate(t *testing.T) {
	op := lifeline.NewOperatorID()
	ok := func() lifeline.Shift {
		return lifeline.Shift{ID: lifeline.NewShiftID(), Operator: op, Start: at(8, 0), End: at(16, 0), Stream: lifeline.StreamSurrender}
	}
	for name, mutate := range map[string]func(*lifeline.Shift){
		"as is":          func(*lifeline.Shift) {},
		"one minute":     func(s *lifeline.Shift) { s.End = at(8, 1) },
		"exactly 24 h":   func(s *lifeline.Shift) { s.End = at(32, 0) },
		"relatives":      func(s *lifeline.Shift) { s.Stream = lifeline.StreamRelatives },
		"other timezone": func(s *lifeline.Shift) { s.Start = s.Start.In(time.FixedZone("EET", 2*3600)) },
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
		}
	}
	for name, mutate := range map[string]func(*lifeline.Shift){
		"bad id":             func(s *lifeline.Shift) { s.ID = "x" },
		"no operator":        func(s *lifeline.Shift) { s.Operator = "" },
		"system operator":    func(s *lifeline.Shift) { s.Operator = lifeline.SystemOperator },
		"unknown stream":     func(s *lifeline.Shift) { s.Stream = "press" },
		"no stream":          func(s *lifeline.Shift) { s.Stream = "" },
		"no start":           func(s *lifeline.Shift) { s.Start = time.Time{} },
		"no end":             func(s *lifeline.Shift) { s.End = time.Time{} },
		"end equals start":   func(s *lifeline.Shift) { s.End = s.Start },
		"end before start":   func(s *lifeline.Shift) { s.Start, s.End = s.End, s.Start },
		"24 h and a minute":  func(s *lifeline.Shift) { s.End = at(32, 1) },
		"seconds in start":   func(s *lifeline.Shift) { s.Start = s.Start.Add(time.Second) },
		"nanos in end":       func(s *lifeline.Shift) { s.End = s.End.Add(1) },
		"a week":             func(s *lifeline.Shift) { s.End = s.Start.Add(7 * 24 * time.Hour) },
		"negative one hour":  func(s *lifeline.Shift) { s.End = s.Start.Add(-time.Hour) },
		"zero-length at end": func(s *lifeline.Shift) { s.Start = s.End },
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: Validate() = %v, want EINVALID", name, err)
		}
	}
}

func TestShiftCovers(t *testing.T) {
	s := lifeline.Shift{Start: at(8, 0), End: at(16, 0)}
	for _, c := range []struct {
		t    time.Time
		want bool
	}{
		{at(7, 59), false},
		{at(8, 0).Add(-1), false},
		{at(8, 0), true},
		{at(12, 0), true},
		{at(16, 0).Add(-1), true},
		{at(16, 0), false},
		{at(23, 0), false},
	} {
		if got := s.Covers(c.t); got != c.want {
			t.Errorf("Covers(%s) = %v, want %v", c.t.Format(time.RFC3339Nano), got, c.want)
		}
	}
}

func TestShiftOverlaps(t *testing.T) {
	a, b := lifeline.NewOperatorID(), lifeline.NewOperatorID()
	base := lifeline.Shift{ID: lifeline.NewShiftID(), Operator: a, Start: at(8, 0), End: at(16, 0), Stream: lifeline.StreamSurrender}
	for _, c := range []struct {
		name       string
		start, end time.Time
		op         lifeline.OperatorID
		sameID     bool
		want       bool
	}{
		{"identical", at(8, 0), at(16, 0), a, false, true},
		{"inside", at(9, 0), at(10, 0), a, false, true},
		{"around", at(7, 0), at(17, 0), a, false, true},
		{"overlaps the start", at(6, 0), at(8, 1), a, false, true},
		{"overlaps the end", at(15, 59), at(20, 0), a, false, true},
		{"ends as it starts", at(0, 0), at(8, 0), a, false, false},
		{"starts as it ends", at(16, 0), at(20, 0), a, false, false},
		{"before", at(0, 0), at(7, 0), a, false, false},
		{"after", at(17, 0), at(20, 0), a, false, false},
		{"another operator", at(8, 0), at(16, 0), b, false, false},
		{"the shift itself", at(9, 0), at(10, 0), a, true, false},
	} {
		o := lifeline.Shift{ID: lifeline.NewShiftID(), Operator: c.op, Start: c.start, End: c.end, Stream: lifeline.StreamRelatives}
		if c.sameID {
			o.ID = base.ID
		}
		if got := base.Overlaps(&o); got != c.want {
			t.Errorf("%s: Overlaps = %v, want %v", c.name, got, c.want)
		}
		if got := o.Overlaps(&base); got != c.want {
			t.Errorf("%s: Overlaps (reversed) = %v, want %v", c.name, got, c.want)
		}
		err := lifeline.CheckOverlap(&o, []lifeline.Shift{{ID: lifeline.NewShiftID(), Operator: b, Start: at(0, 0), End: at(1, 0)}, base})
		if c.want {
			if lifeline.ErrorCode(err) != lifeline.ECONFLICT || !strings.Contains(lifeline.ErrorMessage(err), "2026-03-02 08:00 to 2026-03-02 16:00 UTC") {
				t.Errorf("%s: CheckOverlap = %v, want ECONFLICT naming the shift", c.name, err)
			}
		} else if err != nil {
			t.Errorf("%s: CheckOverlap = %v, want nil", c.name, err)
		}
	}
	if err := lifeline.CheckOverlap(&base, nil); err != nil {
		t.Errorf("CheckOverlap with no shifts = %v", err)
	}
}

// staff builds profiles for CoverageGaps tests.
type staff map[lifeline.OperatorID]lifeline.RoutingProfile

func profile(streams string, langs ...lifeline.Language) lifeline.RoutingProfile {
	ss, _ := lifeline.ParseStreams(streams)
	return lifeline.RoutingProfile{Languages: langs, Streams: ss, Capacity: 5}
}

func TestCoverageGaps(t *testing.T) {
	ru, uk := lifeline.LanguageRussian, lifeline.LanguageUkrainian
	sur, rel := lifeline.StreamSurrender, lifeline.StreamRelatives
	a, b, c := lifeline.NewOperatorID(), lifeline.NewOperatorID(), lifeline.NewOperatorID()
	shift := func(op lifeline.OperatorID, st lifeline.Stream, start, end time.Time) lifeline.Shift {
		return lifeline.Shift{ID: lifeline.NewShiftID(), Operator: op, Stream: st, Start: start, End: end}
	}
	gap := func(h int, st lifeline.Stream, l lifeline.Language, min int) lifeline.CoverageGap {
		return lifeline.CoverageGap{Hour: at(h, 0), Stream: st, Language: l, Uncovered: time.Duration(min) * time.Minute}
	}
	for _, tc := range []struct {
		name      string
		from, to  time.Time
		shifts    []lifeline.Shift
		profiles  staff
		streams   []lifeline.Stream
		languages []lifeline.Language
		want      []lifeline.CoverageGap
	}{
		{
			name: "nobody", from: at(0, 0), to: at(2, 0), streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 60), gap(1, sur, ru, 60)},
		},
		{
			name: "one shift covers all", from: at(0, 0), to: at(3, 0),
			shifts: []lifeline.Shift{shift(a, sur, at(0, 0), at(3, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
		},
		{
			name: "a shift longer than the window", from: at(2, 0), to: at(4, 0),
			shifts: []lifeline.Shift{shift(a, sur, at(0, 0), at(10, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
		},
		{
			name: "partial hours at both ends", from: at(0, 0), to: at(3, 0),
			shifts: []lifeline.Shift{shift(a, sur, at(0, 30), at(2, 15))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 30), gap(2, sur, ru, 45)},
		},
		{
			name: "two operators hand over", from: at(0, 0), to: at(4, 0),
			shifts:   []lifeline.Shift{shift(a, sur, at(0, 0), at(1, 40)), shift(b, sur, at(1, 40), at(4, 0))},
			profiles: staff{a: profile("surrender", ru), b: profile("surrender", ru)},
			streams:  []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
		},
		{
			name: "a hole between two shifts", from: at(0, 0), to: at(2, 0),
			shifts:   []lifeline.Shift{shift(a, sur, at(0, 0), at(0, 20)), shift(b, sur, at(0, 25), at(2, 0))},
			profiles: staff{a: profile("surrender", ru), b: profile("surrender", ru)},
			streams:  []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 5)},
		},
		{
			name: "overlapping shifts of two operators count once", from: at(0, 0), to: at(1, 0),
			shifts:   []lifeline.Shift{shift(a, sur, at(0, 0), at(0, 40)), shift(b, sur, at(0, 10), at(0, 50))},
			profiles: staff{a: profile("surrender", ru), b: profile("surrender", ru)},
			streams:  []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 10)},
		},
		{
			name: "language matters", from: at(0, 0), to: at(1, 0),
			shifts: []lifeline.Shift{shift(a, sur, at(0, 0), at(1, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru, uk},
			want: []lifeline.CoverageGap{gap(0, sur, uk, 60)},
		},
		{
			name: "the shift's stream matters", from: at(0, 0), to: at(1, 0),
			shifts:   []lifeline.Shift{shift(a, rel, at(0, 0), at(1, 0))},
			profiles: staff{a: profile("surrender,relatives", ru)},
			streams:  []lifeline.Stream{sur, rel}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 60)},
		},
		{
			name: "a shift for a stream the profile lacks covers nothing", from: at(0, 0), to: at(1, 0),
			shifts: []lifeline.Shift{shift(a, rel, at(0, 0), at(1, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur, rel}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 60), gap(0, rel, ru, 60)},
		},
		{
			name: "an operator without a profile covers nothing", from: at(0, 0), to: at(1, 0),
			shifts: []lifeline.Shift{shift(c, sur, at(0, 0), at(1, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			want: []lifeline.CoverageGap{gap(0, sur, ru, 60)},
		},
		{
			name: "capacity 0 still covers", from: at(0, 0), to: at(1, 0),
			shifts:   []lifeline.Shift{shift(a, sur, at(0, 0), at(1, 0))},
			profiles: staff{a: {Languages: []lifeline.Language{ru}, Streams: []lifeline.Stream{sur}}},
			streams:  []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
		},
		{
			name: "from is truncated to the hour, to is not", from: at(1, 30), to: at(2, 10),
			shifts: []lifeline.Shift{shift(a, sur, at(1, 0), at(2, 0))}, profiles: staff{a: profile("surrender", ru)},
			streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru},
			// The last hour is cut at 2:10: its 10 minutes are all uncovered.
			want: []lifeline.CoverageGap{gap(2, sur, ru, 50+10)},
		},
		{
			name: "order: hour, stream, language", from: at(0, 0), to: at(2, 0),
			shifts:   []lifeline.Shift{shift(a, sur, at(0, 0), at(1, 0)), shift(b, rel, at(1, 0), at(2, 0))},
			profiles: staff{a: profile("surrender", ru, uk), b: profile("relatives", uk)},
			streams:  []lifeline.Stream{sur, rel}, languages: []lifeline.Language{ru, uk},
			want: []lifeline.CoverageGap{
				gap(0, rel, ru, 60), gap(0, rel, uk, 60),
				gap(1, sur, ru, 60), gap(1, sur, uk, 60), gap(1, rel, ru, 60),
			},
		},
		{name: "empty period", from: at(3, 0), to: at(3, 0), streams: []lifeline.Stream{sur}, languages: []lifeline.Language{ru}},
		{name: "no streams", from: at(0, 0), to: at(5, 0), languages: []lifeline.Language{ru}},
	} {
		got, err := lifeline.CoverageGaps(tc.from, tc.to, tc.shifts, tc.profiles, tc.streams, tc.languages)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
}

func TestCoverageGapsErrors(t *testing.T) {
	for name, c := range map[string]struct{ from, to time.Time }{
		"backwards":   {at(5, 0), at(4, 0)},
		"too long":    {at(0, 0), at(0, 0).Add(lifeline.MaxCoverageSpan + time.Hour)},
		"a year long": {at(0, 0), at(0, 0).AddDate(1, 0, 0)},
	} {
		if _, err := lifeline.CoverageGaps(c.from, c.to, nil, nil, lifeline.Streams(), lifeline.Languages()); lifeline.ErrorCode(err) != lifeline.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := lifeline.CoverageGaps(at(0, 0), at(0, 0).Add(lifeline.MaxCoverageSpan), nil, nil, lifeline.Streams(), lifeline.Languages()); err != nil {
		t.Errorf("the longest span: %v", err)
	}
}

// TestCoverageGapsAgainstBruteForce compares CoverageGaps with a
// minute-by-minute count over random schedules of whole-minute shifts.
func TestCoverageGapsAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := make([]lifeline.OperatorID, 6)
	for i := range ops {
		ops[i] = lifeline.NewOperatorID()
	}
	streams, langs := lifeline.Streams(), lifeline.Languages()
	for round := range 200 {
		profiles := staff{}
		for _, op := range ops[:5] { // the last operator has no profile
			p := lifeline.RoutingProfile{Capacity: rng.IntN(3)}
			for _, l := range langs {
				if rng.IntN(2) == 0 {
					p.Languages = append(p.Languages, l)
				}
			}
			for _, s := range streams {
				if rng.IntN(3) > 0 {
					p.Streams = append(p.Streams, s)
				}
			}
			profiles[op] = p
		}
		var shifts []lifeline.Shift
		for range rng.IntN(12) {
			start := at(0, 0).Add(time.Duration(rng.IntN(30*60)-120) * time.Minute)
			shifts = append(shifts, lifeline.Shift{
				ID: lifeline.NewShiftID(), Operator: ops[rng.IntN(len(ops))], Stream: streams[rng.IntN(len(streams))],
				Start: start, End: start.Add(time.Duration(1+rng.IntN(10*60)) * time.Minute),
			})
		}
		from := at(0, rng.IntN(120))
		to := from.Add(time.Duration(rng.IntN(26*60)) * time.Minute)
		got, err := lifeline.CoverageGaps(from, to, shifts, profiles, streams, langs)
		if err != nil {
			t.Fatal(err)
		}
		var want []lifeline.CoverageGap
		for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
			for _, s := range streams {
				for _, l := range langs {
					uncovered := 0
					for m := h; m.Before(h.Add(time.Hour)); m = m.Add(time.Minute) {
						served := false
						for i := range shifts {
							p, ok := profiles[shifts[i].Operator]
							if ok && m.Before(to) && shifts[i].Stream == s && p.Serves(s, l) && shifts[i].Covers(m) {
								served = true
							}
						}
						if !served {
							uncovered++
						}
					}
					if uncovered > 0 {
						want = append(want, lifeline.CoverageGap{Hour: h, Stream: s, Language: l, Uncovered: time.Duration(uncovered) * time.Minute})
					}
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: from %s to %s, shifts %v, profiles %v:\n got %v\nwant %v", round, from, to, shifts, profiles, got, want)
		}
	}
}
