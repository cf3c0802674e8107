package proxy

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// serverTLS returns a copy of c with the proxy's floor: TLS 1.2 at least,
// and HTTP/1.1 as the only application protocol (a WebSocket upgrade is an
// HTTP/1.1 request; RFC 8441's HTTP/2 upgrade is not served).
func serverTLS(c *tls.Config) *tls.Config {
	c = c.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	c.NextProtos = []string{"http/1.1"}
	return c
}

// tlsConfig is the client side of TLS to backend b, for the server name
// host ("" : the client sets it from the address).
func (b *Backend) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: b.RootCAs}
}

// CertFile serves the certificate of a PEM certificate file and key file,
// and reads them again when either file's modification time or size
// changes, so a renewed certificate (certbot, cert-manager) is served
// without a restart. The files are looked at on a handshake at most once
// per CheckEvery; a pair that fails to load (a renewal half written) is
// logged and the last good one is kept. Use GetCertificate as
// tls.Config.GetCertificate.
type CertFile struct {
	CertPath, KeyPath string
	// CheckEvery is the least time between two looks at the files.
	// Default 1s.
	CheckEvery time.Duration
	// Logger receives reloads and failures. Nil means slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCertFile loads the pair now: an error here is a configuration error.
func NewCertFile(certPath, keyPath string, logger *slog.Logger) (*CertFile, error) {
	c := &CertFile{CertPath: certPath, KeyPath: keyPath, Logger: logger}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = time.Second
	}
	st, err := c.stamps()
	if err != nil {
		return nil, err
	}
	if err := c.load(st); err != nil {
		return nil, err
	}
	c.checked = time.Now()
	return c, nil
}

func (c *CertFile) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, p := range [2]string{c.CertPath, c.KeyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return st, err
		}
		st[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return st, nil
}

func (c *CertFile) load(st [2]fileStamp) error {
	cert, err := tls.LoadX509KeyPair(c.CertPath, c.KeyPath)
	if err != nil {
		return fmt.Errorf("tls: %s and %s: %w", c.CertPath, c.KeyPath, err)
	}
	c.cert, c.stamp = &cert, st
	return nil
}

// GetCertificate returns the current certificate, first reading the files
// again if they changed since the last look (at most once per CheckEvery).
func (c *CertFile) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.CheckEvery {
		c.checked = now
		st, err := c.stamps()
		switch {
		case err != nil:
			c.Logger.Warn("tls: certificate files unreadable; serving the last one loaded", "err", err)
		case st != c.stamp:
			if err := c.load(st); err != nil {
				c.Logger.Warn("tls: certificate not reloaded; serving the last one loaded", "err", err)
				c.stamp = st // tried: not again until the files change again
			} else {
				c.Logger.Info("tls: certificate reloaded", "cert_file", c.CertPath)
			}
		}
	}
	return c.cert, nil
}
