// Package protocol holds the public wire contract of the chat cluster
// (shared/PROTOCOL.md): the JSON types of the HTTP API and WebSocket frames,
// the contract's limits and their validation, and the one error type whose
// codes map onto the contract's error codes.
//
// It has no dependencies beyond the standard library, so any client, test or
// tool can import it.
package protocol
