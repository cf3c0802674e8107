package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/agentbridge/agentbridge/config"
)

// healthcheck asks the proxy running with f for /healthz, on its own
// listener (an unspecified host is this machine), as a container's
// HEALTHCHECK does where no curl exists. Over TLS the certificate is not
// verified: the check reaches the local process by address, not by the
// name the certificate is for.
func healthcheck(f *config.File) error {
	host, port, err := net.SplitHostPort(f.Listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if f.TLS != nil {
		scheme = "https"
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a local liveness probe (see above)
	}}
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}
