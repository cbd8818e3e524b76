package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Sealer encrypts WeChat session keys at rest with AES-256-GCM. The sealed
// form is nonce || ciphertext || tag; the additional data binds it to the
// user, so a sealed key copied to another user's row does not open. Safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("session: seal key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session: seal key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for the owner named by ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("session: seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts what Seal produced for the same ad.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("session: open: sealed value too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("session: open: %w", err)
	}
	return out, nil
}

// LoadOrCreateSealKey reads a 32-byte key (base64 or hex text) from path,
// or generates one there when the file does not exist.
func LoadOrCreateSealKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("session: generate seal key: %w", err)
		}
		if err := writeNew(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
			return nil, err
		}
		return LoadOrCreateSealKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("session: read seal key: %w", err)
	}
	return ParseSealKey(string(raw))
}

// LoadSealKey reads the 32-byte key, in base64 or hex, in the file at path
// (auth.seal_key_file). A missing or unreadable file, or one that does not
// hold such a key, is an error; nothing is created.
func LoadSealKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session: read seal key: %w", err)
	}
	return ParseSealKey(string(raw))
}

// ParseSealKey decodes a 32-byte key written as base64 or hex.
func ParseSealKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if k, err := base64.StdEncoding.DecodeString(text); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := hex.DecodeString(text); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, errors.New("session: seal key must be 32 bytes in base64 or hex")
}
