// Package session issues and checks the credentials of mini-program users
// (SPEC §4): Ed25519-signed JWT access tokens with a JWKS, opaque refresh
// tokens stored hashed, and the AES-GCM sealer that keeps WeChat session
// keys encrypted at rest.
package session
