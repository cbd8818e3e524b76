package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves a certificate pair that it re-reads whenever either
// file changes (size or modification time), so a rotated certificate is
// used by the next handshake without a restart. A pair that does not load
// (half written, mismatched) is logged once and the previous one kept.
// Safe for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded stamp // files as last loaded
	failed stamp // files as last refused
}

type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewCertReloader loads the pair once; it fails when the pair cannot be
// loaded now.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	c := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	st, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the certificate pair: %w", err)
	}
	c.cert, c.loaded = &cert, st
	return c, nil
}

func (c *CertReloader) stat() (stamp, error) {
	ci, err1 := os.Stat(c.certFile)
	ki, err2 := os.Stat(c.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return stamp{}, err
	}
	return stamp{certMod: ci.ModTime(), keyMod: ki.ModTime(), certSize: ci.Size(), keySize: ki.Size()}, nil
}

// GetCertificate is tls.Config.GetCertificate: the current pair, reloaded
// first when the files changed since it was loaded.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.stat()
	if err != nil || st == c.loaded || st == c.failed {
		return c.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.failed = st
		c.log.Error("tls: the new certificate pair does not load; keeping the previous one", "error", err.Error())
		return c.cert, nil
	}
	c.cert, c.loaded = &cert, st
	c.log.Info("tls: certificate pair reloaded", "cert_file", c.certFile)
	return c.cert, nil
}
