// SPDX-License-Identifier: AGPL-3.0-or-later

package whatsapp

import "encoding/json"

// Wire structs of the WhatsApp Cloud API, named as in Meta's webhook and
// messages references (WIRE-FORMATS.md §2). Only the fields lifeline reads
// are declared; unknown fields are tolerated. Fields whose type Meta has
// been seen to vary, or that hostile input may vary (timestamp, location
// coordinates), are json.RawMessage and validated by hand.

// notification is the body of a webhook POST.
type notification struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"`
	Value *value `json:"value"`
}

type value struct {
	MessagingProduct string      `json:"messaging_product"`
	Metadata         *metadata   `json:"metadata"`
	Contacts         []contact   `json:"contacts"`
	Messages         []message   `json:"messages"`
	Statuses         []status    `json:"statuses"`
	Errors           []graphData `json:"errors"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID   string `json:"wa_id"`
	UserID string `json:"user_id"`
}

type message struct {
	From       string          `json:"from"`
	FromUserID string          `json:"from_user_id"`
	ID         string          `json:"id"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Type       string          `json:"type"`

	Text        *text         `json:"text"`
	Image       *media        `json:"image"`
	Audio       *media        `json:"audio"`
	Video       *media        `json:"video"`
	Document    *media        `json:"document"`
	Sticker     *media        `json:"sticker"`
	Location    *location     `json:"location"`
	Contacts    []sharedCard  `json:"contacts"`
	Interactive *interactive  `json:"interactive"`
	Button      *button       `json:"button"`
	Errors      []graphData   `json:"errors"`
	Unsupported *unsupportedT `json:"unsupported"`
	Edit        *edit         `json:"edit"`
}

// edit is the object of an edit message: the new content (a message of its
// own, without sender or id) of the message original_message_id names.
type edit struct {
	OriginalMessageID string   `json:"original_message_id"`
	Message           *message `json:"message"`
}

type text struct {
	Body string `json:"body"`
}

// media is the object of image, audio, video, document and sticker
// messages. url, when present, is never fetched: media is fetched only by
// id through the Graph API (HOSTILE-INPUTS G-03).
type media struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
}

type location struct {
	Latitude  json.RawMessage `json:"latitude"`
	Longitude json.RawMessage `json:"longitude"`
	Name      string          `json:"name"`
	Address   string          `json:"address"`
}

// sharedCard is one entry of a contacts message (a vCard-like object).
type sharedCard struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
	} `json:"name"`
	Phones []struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id"`
	} `json:"phones"`
}

type interactive struct {
	Type        string `json:"type"`
	ButtonReply *reply `json:"button_reply"`
	ListReply   *reply `json:"list_reply"`
}

type reply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type button struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

type unsupportedT struct {
	Type string `json:"type"`
}

type status struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	Timestamp   json.RawMessage `json:"timestamp"`
	RecipientID string          `json:"recipient_id"`
	Errors      []graphData     `json:"errors"`
}

// graphData is an entry of an errors[] array in a webhook.
type graphData struct {
	Code  int    `json:"code"`
	Title string `json:"title"`
}

// Sending.

type sendRequest struct {
	MessagingProduct string        `json:"messaging_product"`
	RecipientType    string        `json:"recipient_type,omitempty"`
	To               string        `json:"to,omitempty"`
	Recipient        string        `json:"recipient,omitempty"` // a business-scoped user id
	Type             string        `json:"type,omitempty"`
	Text             *sendText     `json:"text,omitempty"`
	Template         *sendTemplate `json:"template,omitempty"`
	// Mark as read.
	Status    string `json:"status,omitempty"`
	MessageID string `json:"message_id,omitempty"`
}

type sendText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

type sendTemplate struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
}

type sendResponse struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	Success bool `json:"success"`
}

// graphError is the Graph API's error envelope.
type graphError struct {
	Error *struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
	} `json:"error"`
}

// mediaInfo is the answer to GET /{media-id}.
type mediaInfo struct {
	URL      string `json:"url"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
	ID       string `json:"id"`
}
