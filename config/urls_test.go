package config

import (
	"strings"
	"testing"
)

// TestWiroURLParams: a "{param}" in a Wiro backend's URLs is refused, since
// nothing fills it in (it reached the backend as "%7Bagent%7D").
func TestWiroURLParams(t *testing.T) {
	for _, key := range []string{"api_url", "socket_url"} {
		urls := map[string]string{"api_url": "http://127.0.0.1:9002/v1", "socket_url": "ws://127.0.0.1:9002/v1"}
		urls[key] += "/{agent}"
		yml := `version: 1
backends:
  w: {dialect: wiro, api_url: "` + urls["api_url"] + `", socket_url: "` + urls["socket_url"] + `", api_key: k, useragent_guid: g}
routes:
  - {path: /w/:agent, dialect: wiro, auth: none, backend: w}
`
		_, err := Parse("t.yaml", []byte(yml), testDialects)
		if err == nil || !strings.Contains(err.Error(), "backends.w."+key) || !strings.Contains(err.Error(), "{agent}: route parameters are not filled in") {
			t.Errorf("%s with {agent}: %v", key, err)
		}
	}
}
