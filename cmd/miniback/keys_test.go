package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/session"
)

// writeKeyFiles writes a fresh Ed25519 PEM key and a base64 seal key into
// dir and returns their paths and the signing key's id.
func writeKeyFiles(t *testing.T, dir string) (signing, seal, kid string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	signing, seal = filepath.Join(dir, "signing.pem"), filepath.Join(dir, "seal.key")
	if err := os.WriteFile(signing, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(seal, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return signing, seal, session.NewSigningKey(priv).ID
}

// TestKeyFilesArePaths: auth.signing_key_file and auth.seal_key_file name
// files, as SPEC shows; two instances given the same files publish the
// same JWKS and generate nothing in data_dir (issue #6 item 11).
func TestKeyFilesArePaths(t *testing.T) {
	signing, seal, kid := writeKeyFiles(t, t.TempDir())
	withKeys := func(c *config.Config) { c.Auth.SigningKeyFile, c.Auth.SealKeyFile = signing, seal }
	a, b := startMain(t, withKeys), startMain(t, withKeys)
	var jwksA, jwksB struct{ Keys []struct{ Kid, X string } }
	a.do("GET", "/.well-known/jwks.json", "", nil, &jwksA)
	b.do("GET", "/.well-known/jwks.json", "", nil, &jwksB)
	if len(jwksA.Keys) != 1 || len(jwksB.Keys) != 1 || jwksA.Keys[0].Kid != kid || jwksB.Keys[0] != jwksA.Keys[0] {
		t.Fatalf("jwks %+v and %+v, want both with kid %s", jwksA, jwksB, kid)
	}
	l := a.login("kim")
	var me struct{ OpenID string }
	if st, _ := a.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, &me); st != 200 || me.OpenID != l.User.OpenID {
		t.Fatalf("me: %d %+v", st, me)
	}
	for _, e := range []*testEnv{a, b} {
		for _, name := range []string{"signing_key.pem", "seal.key"} {
			if _, err := os.Stat(filepath.Join(e.m.Config.DataDir, name)); err == nil {
				t.Errorf("%s was generated in data_dir although a key file was given", name)
			}
		}
	}
}

// TestKeyFileErrors: a missing or wrong key file exits 2 naming the key,
// and never prints the file's content.
func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	signing, seal, _ := writeKeyFiles(t, dir)
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not-a-key-but-a-secret-looking-string"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"MINIBACK_LISTEN=127.0.0.1:0", "MINIBACK_DATA_DIR=" + filepath.Join(dir, "data")}
	tests := []struct {
		name, env, key string
	}{
		{"missing signing key file", "MINIBACK_AUTH_SIGNING_KEY_FILE=" + filepath.Join(dir, "none.pem"), "auth.signing_key_file"},
		{"signing key file without PEM", "MINIBACK_AUTH_SIGNING_KEY_FILE=" + garbage, "auth.signing_key_file"},
		{"seal key file given the signing key", "MINIBACK_AUTH_SEAL_KEY_FILE=" + signing, "auth.seal_key_file"},
		{"missing seal key file", "MINIBACK_AUTH_SEAL_KEY_FILE=" + seal + ".none", "auth.seal_key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{"serve"}, append(base, tt.env), &out, &errb)
			if got := exitCode(err, &errb); got != 2 || !strings.Contains(errb.String(), tt.key) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", got, errb.String(), tt.key)
			}
			if strings.Contains(errb.String(), "secret-looking") || strings.Contains(errb.String(), "PRIVATE KEY") {
				t.Fatalf("stderr shows the file's content: %q", errb.String())
			}
		})
	}
}
