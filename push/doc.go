// Package push parses the messages and events WeChat pushes to a mini
// program's message-push URL (protocol §d): Parse turns an XML or JSON
// push (plaintext, the envelope of compatible and safe modes, or the
// decrypted inner message) into a Message whose Fields keep every field of
// the push as a JSON object, so unknown types survive.
//
// It is standard library only and usable by any Go program. miniback's own
// endpoint, queue consumer, router and handlers are in internal/inbox; the
// signatures and ciphers are in wxcrypto.
package push
