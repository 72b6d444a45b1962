// SPDX-License-Identifier: AGPL-3.0-or-later

package lifeline

// An Actor is whoever performs an action, for its audit entry: a logged-in
// operator, the command line run by whoever holds the server, or the server
// itself.
type Actor struct {
	// ID is the operator's id, or ActorCLI or ActorSystem.
	ID string
	// Role is the operator's role at the time; empty for the CLI and system.
	Role Role
	// RequestID ties the entry to the request's log lines; may be empty.
	RequestID string
}

// Actors that are not operators.
const (
	ActorCLI    = "cli"    // a command run on the server by its administrator
	ActorSystem = "system" // the server on its own (watchdogs, sweepers)
)

// CLIActor is the actor of commands run on the server.
var CLIActor = Actor{ID: ActorCLI}
