// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

import (
	"errors"
	"fmt"
)

// Error codes. Each names a kind of failure the caller can act on; the web
// layer maps each to one HTTP status. Codes are stable strings: they may be
// logged, counted and compared.
const (
	EINVALID      = "invalid"      // the request is malformed or breaks a rule of the domain
	ENOTFOUND     = "not_found"    // no such object, or the caller may not know it exists
	ECONFLICT     = "conflict"     // the object's state does not allow the change
	EUNAUTHORIZED = "unauthorized" // the caller is not authenticated
	EFORBIDDEN    = "forbidden"    // the caller is authenticated but not allowed
	EUNAVAILABLE  = "unavailable"  // the server is sealed or overloaded; try again later
	EINTERNAL     = "internal"     // anything else: a bug or a failed dependency
)

// genericMessages are what a client sees for a code when the Error carries no
// message of its own, and always for EINTERNAL.
var genericMessages = map[string]string{
	EINVALID:      "Invalid request.",
	ENOTFOUND:     "Not found.",
	ECONFLICT:     "The request conflicts with the current state.",
	EUNAUTHORIZED: "Not signed in.",
	EFORBIDDEN:    "Not allowed.",
	EUNAVAILABLE:  "Temporarily unavailable.",
	EINTERNAL:     "Internal error.",
}

// Error is a failure of the domain, with a message safe to show to an
// operator or a provider. Wrap it with fmt.Errorf("...: %w", err) to add
// context for the log; [ErrorCode] and [ErrorMessage] still find it.
//
// Message is shown to clients as written: it must never contain personal
// data (a name, a number, message text) nor echo unvalidated input.
type Error struct {
	Code    string // one of the E* constants
	Message string // client-safe, a full sentence
	// Format and Args are what Errorf made Message of: a console
	// translates the format (its key) and formats the arguments itself.
	Format string
	Args   []any
}

// Error implements the error interface. The text is for logs.
func (e *Error) Error() string {
	return fmt.Sprintf("lifeline error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a message formatted with
// fmt.Sprintf. The arguments become part of a client-visible message; see
// [Error].
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// ErrorFormat returns the format and arguments of the message a client may
// see for err (see [ErrorMessage]): the format given to [Errorf], or the
// generic sentence for the code. A message of an Error built without
// Errorf comes back as its own format with no arguments. Translators key
// their words by the format, which is the English text.
func ErrorFormat(err error) (format string, args []any) {
	code := ErrorCode(err)
	switch code {
	case "":
		return "", nil
	case EINTERNAL:
		return genericMessages[EINTERNAL], nil
	}
	var e *Error
	errors.As(err, &e)
	switch {
	case e.Message == "":
		return genericMessages[code], nil
	case e.Format == "" || fmt.Sprintf(e.Format, e.Args...) != e.Message:
		// Built by hand, or its Message changed after Errorf.
		return e.Message, nil
	}
	return e.Format, e.Args
}

// GenericMessages returns the generic sentence of each code: what a client
// sees for an error without a message of its own.
func GenericMessages() map[string]string {
	out := make(map[string]string, len(genericMessages))
	for k, v := range genericMessages {
		out[k] = v
	}
	return out
}

// ErrorCode returns the code of the first *Error in err's chain (found with
// errors.As). It returns "" for a nil err, and EINTERNAL for an error that
// holds no *Error or whose code is not one of the E* constants.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		if _, known := genericMessages[e.Code]; known {
			return e.Code
		}
	}
	return EINTERNAL
}

// ErrorMessage returns the message a client may see for err: "" for nil,
// the *Error's own message for every code except EINTERNAL, a generic
// sentence for the code when that message is empty, and "Internal error."
// for EINTERNAL and for any error that is not a lifeline *Error. Internal
// details belong in the log, never in the response.
func ErrorMessage(err error) string {
	code := ErrorCode(err)
	switch code {
	case "":
		return ""
	case EINTERNAL:
		return genericMessages[EINTERNAL]
	}
	var e *Error
	errors.As(err, &e) // Succeeds: ErrorCode found it.
	if e.Message == "" {
		return genericMessages[code]
	}
	return e.Message
}
