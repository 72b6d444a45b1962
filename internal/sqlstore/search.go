// SPDX-License-Identifier: AGPL-3.0-or-later

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lifeline-hotline/lifeline"
)

// The bounds of a search's words: the newest conversations in the caller's
// reach whose messages it reads, and how long it may read. A search that
// reaches either says so (SearchResult.Partial); the filters narrow it.
const (
	SearchScanConversations = 500
	SearchBudget            = 2 * time.Second
	searchCandidates        = 5000 // rows of routing fields read to find the newest in reach
	searchMaxHits           = 100
	searchMinWords          = 2 // runes: shorter text is searched as a number or a code name only
	searchMaxText           = 200
)

// The kinds of search, as the result and the audit entry name them.
const (
	SearchByCode   = "code"   // a case's code name
	SearchByNumber = "number" // a conversation's id, or the short number the console shows (#ABC123)
	SearchByHandle = "handle" // a contact's phone number or Telegram or WhatsApp id, through the blind index
	SearchByWords  = "words"  // words in messages and notes
)

// SearchQuery is one search of conversations. Text is searched as every
// kind it can be; the filters narrow every kind. Who is the caller: only
// conversations he may read (lifeline.Reaches) are searched.
type SearchQuery struct {
	Who      lifeline.Reacher
	Text     string
	Kind     lifeline.ChannelKind // "" for every channel kind
	Stream   string
	Language string
	State    string // "open" (not closed), "closed", or "" for both
	Label    string // a label's id
	Operator lifeline.OperatorID
	From, To lifeline.Day // the conversation was active on a day in [From, To]; zero days leave an end open

	// The bounds; zero means SearchScanConversations and SearchBudget
	// (tests lower them).
	Scan   int
	Budget time.Duration
}

// SearchHit is one conversation found.
type SearchHit struct {
	InboxItem
	Labels  []string           // the names of its labels
	Matched []string           // the kinds it was found by
	Snippet lifeline.Sensitive // for words: the text around the first match
}

// SearchResult is what a search found.
type SearchResult struct {
	Hits    []SearchHit
	Kinds   []string // what the text was searched as
	Scanned int      // conversations whose messages were read
	Partial bool     // the bounds stopped the words search before the oldest conversation in reach
}

// searchKinds returns what text may be searched as, and the values: the
// code name, the id or short number.
func searchKinds(text string) (kinds []string, code, number string) {
	if up := strings.ToUpper(text); lifeline.ValidCodeName(up) {
		kinds, code = append(kinds, SearchByCode), up
	}
	n := strings.ToLower(strings.TrimPrefix(text, "#"))
	if len(n) >= 4 && len(n) <= 26 && strings.Trim(n, "abcdefghijklmnopqrstuvwxyz234567") == "" {
		kinds, number = append(kinds, SearchByNumber), n
	}
	for _, k := range []lifeline.ChannelKind{lifeline.ChannelTelegram, lifeline.ChannelWhatsApp, lifeline.ChannelSMS} {
		if _, _, ok := handleValue(k, text); ok {
			kinds = append(kinds, SearchByHandle)
			break
		}
	}
	if utf8.RuneCountInString(text) >= searchMinWords {
		kinds = append(kinds, SearchByWords)
	}
	return kinds, code, number
}

// Search finds the conversations q.Who may read that match q: by code
// name, number, handle (the blind index's candidates, confirmed by
// decrypting) and words in messages and notes (decrypted in memory, the
// newest conversations in reach first, within the bounds). Without text it
// lists the newest conversations in reach that pass the filters. Identity
// answers are not in conversations and are never searched.
//
// Every search is one audit entry (conversation.search) as by, naming the
// conversations found and the kinds and filters searched by, never the
// text; no entry, no result. EINVALID for a query it cannot run,
// EUNAVAILABLE while sealed.
func (db *DB) Search(ctx context.Context, by lifeline.Actor, q SearchQuery) (*SearchResult, error) {
	q.Text = strings.TrimSpace(q.Text)
	switch {
	case len(q.Text) > searchMaxText || !utf8.ValidString(q.Text):
		return nil, lifeline.Errorf(lifeline.EINVALID, "Search for at most %d characters.", searchMaxText)
	case q.Kind != "" && !q.Kind.Valid():
		return nil, lifeline.Errorf(lifeline.EINVALID, "Unknown channel kind.")
	case q.State != "" && q.State != "open" && q.State != "closed":
		return nil, lifeline.Errorf(lifeline.EINVALID, "A conversation is open or closed.")
	case !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From):
		return nil, lifeline.Errorf(lifeline.EINVALID, "The date range ends before it starts.")
	}
	if q.Scan <= 0 {
		q.Scan = SearchScanConversations
	}
	if q.Budget <= 0 {
		q.Budget = SearchBudget
	}
	if db.sealer == nil {
		return nil, errNoSealer
	}
	res := &SearchResult{}
	var code, number string
	if q.Text != "" {
		res.Kinds, code, number = searchKinds(q.Text)
	}
	deadline := time.Now().Add(q.Budget)
	err := db.Read(ctx, func(tx *Tx) error {
		teams, err := teamsOf(tx)
		if err != nil {
			return err
		}
		reach := func(items []InboxItem) []InboxItem {
			return slices.DeleteFunc(items, func(it InboxItem) bool {
				return !lifeline.Reaches(q.Who, lifeline.ActionReadConversation, it.Object())
			})
		}
		hits := map[lifeline.ConversationID]int{} // index in res.Hits
		add := func(it InboxItem, kind string, snippet lifeline.Sensitive) {
			i, ok := hits[it.ID]
			if !ok {
				i = len(res.Hits)
				hits[it.ID] = i
				res.Hits = append(res.Hits, SearchHit{InboxItem: it})
			}
			h := &res.Hits[i]
			if kind != "" && !slices.Contains(h.Matched, kind) {
				h.Matched = append(h.Matched, kind)
			}
			if h.Snippet.IsEmpty() {
				h.Snippet = snippet
			}
		}

		// Code name, number and handle: exact, over every conversation
		// that passes the filters.
		var contacts []lifeline.ContactID
		if slices.Contains(res.Kinds, SearchByHandle) {
			ik, err := db.sealer.IndexKeys()
			if err != nil {
				return err
			}
			for _, k := range []lifeline.ChannelKind{lifeline.ChannelTelegram, lifeline.ChannelWhatsApp, lifeline.ChannelSMS, lifeline.ChannelVoice} {
				if _, _, ok := handleValue(k, q.Text); !ok || q.Kind != "" && q.Kind != k {
					continue
				}
				id, err := db.contactByHandle(tx, ik, k, q.Text)
				if err != nil {
					return err
				}
				if id != "" {
					contacts = append(contacts, id)
				}
			}
		}
		if code != "" || number != "" || len(contacts) > 0 {
			cond, args := []string{}, []any{}
			if code != "" {
				cond, args = append(cond, `EXISTS (SELECT 1 FROM contacts k JOIN cases cs ON cs.id = k.case_id WHERE k.id = v.contact_id AND cs.code_name = ?)`), append(args, code)
			}
			if number != "" {
				cond, args = append(cond, `v.id LIKE ? OR v.contact_id LIKE ?`), append(args, number+"%", number+"%")
			}
			for _, c := range contacts {
				cond, args = append(cond, `v.contact_id = ?`), append(args, c)
			}
			items, err := searchRows(tx, q, teams, "("+strings.Join(cond, " OR ")+")", args, searchMaxHits*4)
			if err != nil {
				return err
			}
			for _, it := range reach(items) {
				if code != "" && it.CaseCode == code {
					add(it, SearchByCode, "")
				}
				if number != "" && (strings.HasPrefix(string(it.ID), number) || strings.HasPrefix(string(it.ContactID), number)) {
					add(it, SearchByNumber, "")
				}
				if slices.Contains(contacts, it.ContactID) {
					add(it, SearchByHandle, "")
				}
			}
		}

		// Words, or no text at all: the newest conversations in reach.
		words := slices.Contains(res.Kinds, SearchByWords)
		if !words && q.Text != "" {
			return nil
		}
		items, err := searchRows(tx, q, teams, "", nil, searchCandidates)
		if err != nil {
			return err
		}
		capped := len(items) == searchCandidates
		items = reach(items)
		if !words {
			for _, it := range items[:min(len(items), searchMaxHits)] {
				add(it, "", "")
			}
			res.Partial = len(items) > searchMaxHits || capped
			return nil
		}
		needle := lowerRunes(q.Text)
		for i, it := range items {
			if i >= q.Scan || time.Now().After(deadline) || len(res.Hits) >= searchMaxHits {
				res.Partial = true
				break
			}
			res.Scanned++
			snippet, err := db.searchMessages(tx, it, needle)
			if err != nil {
				return fmt.Errorf("search conversation %s: %w", it.ID, err)
			}
			if snippet != "" {
				add(it, SearchByWords, snippet)
			}
		}
		res.Partial = res.Partial || capped
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if err := db.searchLabels(ctx, res.Hits); err != nil {
		return nil, err
	}
	// One entry per search: what was found, and by what, never the text.
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = string(h.ID)
	}
	var filters []string
	for name, set := range map[string]bool{"channel": q.Kind != "", "stream": q.Stream != "", "language": q.Language != "", "state": q.State != "",
		"label": q.Label != "", "operator": q.Operator != "", "from": !q.From.IsZero(), "to": !q.To.IsZero()} {
		if set {
			filters = append(filters, name)
		}
	}
	slices.Sort(filters)
	reason := fmt.Sprintf("kinds=%s filters=%s hits=%d scanned=%d", strings.Join(res.Kinds, ","), strings.Join(filters, ","), len(res.Hits), res.Scanned)
	if res.Partial {
		reason += " partial"
	}
	if err := db.Audit(ctx, by, "conversation.search", strings.Join(ids, " "), reason); err != nil {
		return nil, err
	}
	return res, nil
}

// searchRows reads the conversations that pass q's filters and cond,
// newest first, at most limit.
func searchRows(tx *Tx, q SearchQuery, teams map[lifeline.OperatorID][]lifeline.Team, cond string, args []any, limit int) ([]InboxItem, error) {
	if cond == "" {
		cond = "1 = 1"
	}
	state := ""
	switch q.State {
	case "open":
		state = `v.state <> 'closed'`
	case "closed":
		state = `v.state = 'closed'`
	default:
		state = "1 = 1"
	}
	all := append([]any{q.Kind, q.Kind, q.Stream, q.Stream, q.Language, q.Language, q.Label, q.Label, q.Operator, q.Operator,
		dayOrEmpty(q.To), dayOrEmpty(q.To), dayOrEmpty(q.From), dayOrEmpty(q.From)}, args...)
	all = append(all, limit)
	return queryAll(tx, func(rows *sql.Rows) (it InboxItem, err error) {
		var opened, last string
		var sc scope
		err = rows.Scan(append([]any{&it.ID, &it.ContactID, &it.Kind, &it.Channel, &it.State, &it.Campaign, &it.AssignedTo,
			&it.AssignedName, &it.Stream, &it.Language, &it.Escalated, &opened, &last, &it.CaseCode}, sc.dest()...)...)
		if err != nil {
			return it, err
		}
		sc.apply(&it.ConversationSummary, teams)
		if it.OpenedDay, err = lifeline.ParseDay(opened); err == nil {
			it.LastActivityDay, err = lifeline.ParseDay(last)
		}
		return it, err
	}, `SELECT v.id, v.contact_id, v.channel_kind, v.channel_name, v.state, v.campaign, COALESCE(v.assigned_to, ''),
			COALESCE(o.username, ''), v.stream, v.language, v.escalated, v.opened_day, v.last_activity_day,
			COALESCE((SELECT cs.code_name FROM contacts k JOIN cases cs ON cs.id = k.case_id WHERE k.id = v.contact_id), ''),
			`+scopeColumns+`
		FROM conversations v LEFT JOIN operators o ON o.id = v.assigned_to
		WHERE (? = '' OR v.channel_kind = ?) AND (? = '' OR v.stream = ?) AND (? = '' OR v.language = ?)
			AND (? = '' OR EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = v.id AND l.label_id = ?))
			AND (? = '' OR v.assigned_to = ?) AND (? = '' OR v.opened_day <= ?) AND (? = '' OR v.last_activity_day >= ?)
			AND `+state+` AND `+cond+`
		ORDER BY v.last_activity_day DESC, v.rowid DESC LIMIT ?`, all...)
}

// searchMessages reads a conversation's messages and notes, newest first,
// for needle (lower-cased runes); it returns the text around the first
// match, or "". Quarantined messages, and identity answers (taken or
// awaiting the bot), are not read, as the conversation page does not show
// them.
func (db *DB) searchMessages(tx *Tx, it InboxItem, needle string) (lifeline.Sensitive, error) {
	type row struct {
		id lifeline.MessageID
		ct []byte
	}
	rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
		return r, rows.Scan(&r.id, &r.ct)
	}, `SELECT m.id, m.body FROM messages m
		WHERE m.conversation_id = ? AND m.hold <> 'quarantined' AND m.answer = ''
			AND NOT (m.direction = 'in' AND m.hold = '' AND EXISTS (SELECT 1 FROM questionnaire_sessions q
				WHERE q.conversation_id = m.conversation_id AND q.state = 'active' AND q.awaits_identity = 1 AND m.rowid > q.last_rowid))
		ORDER BY m.rowid DESC`, it.ID)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		b, err := db.openMessage(tx, r.id, it.ContactID, it.ID, r.ct)
		if err != nil {
			return "", fmt.Errorf("message %s: %w", r.id, err)
		}
		text := string(b)
		clear(b)
		if s := snippet(text, needle); s != "" {
			return lifeline.Sensitive(s), nil
		}
	}
	return "", nil
}

// lowerRunes lower-cases s rune by rune, so that rune offsets in the
// result are those of s.
func lowerRunes(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// snippet returns the words of text around the first match of needle
// (lower-cased by lowerRunes), or "" if there is none.
func snippet(text, needle string) string {
	lower := lowerRunes(text)
	i := strings.Index(lower, needle)
	if i < 0 {
		return ""
	}
	const around = 40
	runes := []rune(text)
	at := utf8.RuneCountInString(lower[:i])
	from, to := max(0, at-around), min(len(runes), at+utf8.RuneCountInString(needle)+around)
	s := string(runes[from:to])
	if from > 0 {
		s = "…" + s
	}
	if to < len(runes) {
		s += "…"
	}
	return strings.Join(strings.Fields(s), " ")
}

// searchLabels fills in the names of the hits' labels.
func (db *DB) searchLabels(ctx context.Context, hits []SearchHit) error {
	if len(hits) == 0 {
		return nil
	}
	at := map[lifeline.ConversationID]int{}
	args := make([]any, len(hits))
	for i, h := range hits {
		at[h.ID], args[i] = i, h.ID
	}
	return db.Read(ctx, func(tx *Tx) error {
		type row struct {
			conv lifeline.ConversationID
			name string
		}
		rs, err := queryAll(tx, func(rows *sql.Rows) (r row, err error) {
			return r, rows.Scan(&r.conv, &r.name)
		}, `SELECT c.conversation_id, l.name FROM conversation_labels c JOIN labels l ON l.id = c.label_id
			WHERE c.conversation_id IN (?`+strings.Repeat(", ?", len(args)-1)+`) ORDER BY l.name`, args...)
		if err != nil {
			return err
		}
		for _, r := range rs {
			hits[at[r.conv]].Labels = append(hits[at[r.conv]].Labels, r.name)
		}
		return nil
	})
}
