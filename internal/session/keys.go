package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SigningKey is the Ed25519 key that signs access tokens, with its key id.
type SigningKey struct {
	ID      string
	Private ed25519.PrivateKey
}

// Public returns the verifying half.
func (k *SigningKey) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// NewSigningKey wraps priv and derives its key id from the public key, so
// every instance that shares the key agrees on the id.
func NewSigningKey(priv ed25519.PrivateKey) *SigningKey {
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return &SigningKey{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), Private: priv}
}

// ParseSigningKey reads a PKCS#8 PEM-encoded Ed25519 private key.
func ParseSigningKey(pemBytes []byte) (*SigningKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("session: signing key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("session: signing key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("session: signing key: not an Ed25519 key")
	}
	return NewSigningKey(priv), nil
}

// LoadSigningKey reads the PKCS#8 PEM Ed25519 key in the file at path
// (auth.signing_key_file: instances that share the file share the key). A
// missing or unreadable file, or one that does not hold such a key, is an
// error; nothing is created.
func LoadSigningKey(path string) (*SigningKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session: read signing key: %w", err)
	}
	return ParseSigningKey(raw)
}

// LoadOrCreateSigningKey reads the key at path, or, when the file does not
// exist, generates one and writes it there with mode 0600. A key that exists
// but cannot be parsed is an error, never silently replaced.
func LoadOrCreateSigningKey(path string) (*SigningKey, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return ParseSigningKey(raw)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("session: read signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("session: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("session: encode signing key: %w", err)
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return LoadOrCreateSigningKey(path) // re-read: another process may have won the race
}

// writeNew creates path exclusively; losing a creation race is not an error.
func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("session: create key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: create key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("session: write key file: %w", err)
	}
	return f.Close()
}

// JWK is one public key in a JSON Web Key Set (RFC 8037 OKP).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKSOf returns the key set holding the public halves of keys.
func JWKSOf(keys ...*SigningKey) JWKS {
	set := JWKS{Keys: []JWK{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public()), Kid: k.ID, Use: "sig", Alg: "EdDSA"})
	}
	return set
}
