// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

// PersonID identifies a person in a case.
type PersonID string

// NewPersonID returns a new random person id.
func NewPersonID() PersonID { return PersonID(newID()) }

// Valid reports whether id is well formed.
func (id PersonID) Valid() bool { return validID(string(id)) }

// Relation is a person's place in a case.
type Relation string

// Relations.
const (
	RelationApplicant Relation = "applicant"
	RelationSpouse    Relation = "spouse"
	RelationChild     Relation = "child"
	RelationParent    Relation = "parent"
	RelationSibling   Relation = "sibling"
	RelationOther     Relation = "other"
)

// Valid reports whether r is one of the relations.
func (r Relation) Valid() bool {
	switch r {
	case RelationApplicant, RelationSpouse, RelationChild, RelationParent, RelationSibling, RelationOther:
		return true
	}
	return false
}

// A Person is a human in a case: the applicant or a relative. Every field
// but the ids and the relation identifies or locates them, so it is
// Sensitive here and sealed (identity compartment) in the store.
type Person struct {
	ID       PersonID
	CaseID   CaseID
	Relation Relation

	Name           Sensitive // as the person gives it, any script
	BirthDate      Sensitive // as given; not parsed, not indexed
	Unit           Sensitive
	Rank           Sensitive
	ServiceNumber  Sensitive // blind-indexed for duplicate checks
	DocumentNumber Sensitive // blind-indexed for duplicate checks
	Whereabouts    Sensitive
	Phone          Sensitive
}

// Direction says which way a message went.
type Direction string

// Directions.
const (
	Inbound  Direction = "in"
	Outbound Direction = "out"
	Note     Direction = "note" // an operator's internal note: never sent to the contact
)

// A Contact is someone who reached a channel, known by an address on it.
type Contact struct {
	ID         ContactID
	Channel    ChannelKind
	Handle     Sensitive // phone number, Telegram user id or wa_id, normalized
	CaseID     CaseID    // empty until linked to a case
	CreatedDay Day
}

// A Message is one text to or from a contact.
type Message struct {
	ID         MessageID
	ContactID  ContactID
	Direction  Direction
	Body       Sensitive
	Author     OperatorID // who wrote an outbound message or a note; "" for a contact or the system
	Hold       Hold       // inbound only: what its sender's flood budget made of it
	CreatedDay Day
}

// Hold is what a sender's flood budget (SECURITY.md §2.12) made of an
// inbound message. Every authenticated message from a sender who is not
// blocked is stored; the budget decides only whether it causes automatic
// work, and past the storage cap whether it is shown.
type Hold string

// Holds.
const (
	// HoldNone: within the budget; the message causes the usual work
	// (greeting, bot step, notifications).
	HoldNone Hold = ""
	// HoldDeferred: over the budget; stored and shown, without automatic
	// work of its own. A released message is deferred too.
	HoldDeferred Hold = "deferred"
	// HoldQuarantined: over the storage cap; stored sealed like any
	// message, not shown in the conversation but counted on it, until an
	// operator who may reply there releases it.
	HoldQuarantined Hold = "quarantined"
)
