package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestJWTKeyFiles(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkix := func(pub crypto.PublicKey) *pem.Block {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.ec.PublicKey, k.ec)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{
		write("rsa.pem", pkix(&k.rsa.PublicKey), pkix(k.ed.Public())),
		write("pkcs1.pem", &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa2.PublicKey)}),
		write("cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cert}),
	}
	clk := newFakeClock()
	j, err := NewJWT(JWTConfig{Name: "sso", Algorithms: []string{"RS256", "ES256", "EdDSA"}, KeyFiles: files, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	for name, tok := range map[string]string{
		"PKIX RSA":       sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(now, nil)),
		"PKIX Ed25519":   sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(now, nil)),
		"PKCS #1 RSA":    sign(t, jwt.SigningMethodRS256, k.rsa2, "", claims(now, nil)),
		"certificate EC": sign(t, jwt.SigningMethodES256, k.ec, "", claims(now, nil)),
	} {
		if _, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]string{
		"private key": write("private.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"no PEM":      write("empty.pem"),
		"bad DER":     write("bad.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}),
	} {
		_, err := NewJWT(JWTConfig{Algorithms: []string{"ES256"}, KeyFiles: []string{f}})
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("%s: error quotes the file: %v", name, err)
		}
	}
}
