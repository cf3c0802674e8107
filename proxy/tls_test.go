package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/demo"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf issues a certificate for 127.0.0.1 with serial, and returns it and
// its key as PEM.
func (ca *testCA) leaf(t testing.TB, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// writePair writes a leaf with serial to dir's cert.pem and key.pem, with
// a modification time of at, and returns their paths.
func (ca *testCA) writePair(t testing.TB, dir string, serial int64, at time.Time) (string, string) {
	t.Helper()
	c, k := ca.leaf(t, serial)
	cp, kp := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for p, b := range map[string][]byte{cp: c, kp: k} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return cp, kp
}

// dialTLS dials a wss:// URL trusting pool and returns the client and the
// TLS state.
func dialTLS(t *testing.T, url string, cfg *tls.Config) (*client, tls.ConnectionState, error) {
	t.Helper()
	var state tls.ConnectionState
	d := ws.Dialer{TLSConfig: cfg, Timeout: 5 * time.Second}
	nc, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		return nil, state, err
	}
	t.Cleanup(func() { nc.Close() })
	if tc, ok := nc.(*tls.Conn); ok {
		state = tc.ConnectionState()
	}
	return &client{t: t, nc: nc}, state, nil
}

// TestTLSListener: the listener terminates TLS 1.2+ with ALPN http/1.1,
// refuses TLS 1.1, and serves a renewed certificate once its files change,
// without a restart.
func TestTLSListener(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	cp, kp := ca.writePair(t, dir, 100, time.Now().Add(-time.Minute))
	cf, err := NewCertFile(cp, kp, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf.CheckEvery = 10 * time.Millisecond
	rt := plainRoute("chat", "/chat", demoBackend(demo.Agent{Prefix: "tls:"}))
	_, addr := startProxy(t, Config{Routes: []*Route{rt}, TLS: &tls.Config{GetCertificate: cf.GetCertificate}})

	c, st, err := dialTLS(t, "wss://"+addr+"/chat", &tls.Config{RootCAs: ca.pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.send("hello")
	if got := c.recv(); got != "tls:hello" {
		t.Errorf("reply %q", got)
	}
	if st.Version < tls.VersionTLS12 || st.NegotiatedProtocol != "http/1.1" || st.PeerCertificates[0].SerialNumber.Int64() != 100 {
		t.Errorf("version %x, ALPN %q, serial %v", st.Version, st.NegotiatedProtocol, st.PeerCertificates[0].SerialNumber)
	}
	if _, _, err := dialTLS(t, "wss://"+addr+"/chat", &tls.Config{RootCAs: ca.pool, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	// Renewal: new files, a later modification time.
	ca.writePair(t, dir, 200, time.Now())
	time.Sleep(20 * time.Millisecond)
	_, st, err = dialTLS(t, "wss://"+addr+"/chat", &tls.Config{RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.PeerCertificates[0].SerialNumber.Int64(); got != 200 {
		t.Errorf("after renewal the proxy serves serial %d, want 200", got)
	}

	// A broken renewal keeps the last good certificate.
	if err := os.WriteFile(cp, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	_, st, err = dialTLS(t, "wss://"+addr+"/chat", &tls.Config{RootCAs: ca.pool})
	if err != nil || st.PeerCertificates[0].SerialNumber.Int64() != 200 {
		t.Errorf("after a broken renewal: %v; want the last good certificate served", err)
	}
}

// TestWSSBackend: a wss:// backend is verified against the route's
// RootCAs; without them its certificate is refused (502).
func TestWSSBackend(t *testing.T) {
	ca := newTestCA(t)
	cp, kp := ca.leaf(t, 7)
	cert, err := tls.X509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := ws.Upgrade(c); err == nil {
					for {
						msg, _, err := wsutil.ReadClientData(c)
						if err != nil {
							return
						}
						_ = wsutil.WriteServerText(c, append([]byte("wss: "), msg...))
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	url := "wss://" + ln.Addr().String() + "/"

	trusted := plainBackend(url)
	trusted.RootCAs = ca.pool
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("trusted", "/trusted", trusted),
		plainRoute("untrusted", "/untrusted", plainBackend(url)),
	}})
	c := dial(t, wsURL(addr, "/trusted"))
	c.send("hi")
	if got := c.recv(); got != "wss: hi" {
		t.Errorf("reply %q", got)
	}
	if st, _ := dialRefused(t, wsURL(addr, "/untrusted"), nil); st != 502 {
		t.Errorf("an unverified backend certificate: status %d, want 502", st)
	}
}
