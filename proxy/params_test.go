package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// uriBackend is a plain WebSocket backend that records the request URI of
// every handshake it gets, then echoes.
func uriBackend(t testing.TB) (addr string, uris chan string) {
	uris = make(chan string, 16)
	addr = serveTCP(t, func(c net.Conn) {
		u := ws.Upgrader{OnRequest: func(uri []byte) error {
			uris <- string(uri)
			return nil
		}}
		if _, err := u.Upgrade(c); err == nil {
			echoBackend(c)
		}
	})
	return addr, uris
}

// rawUpgrade sends a WebSocket handshake for target exactly as written (no
// client library re-escapes it) and returns the response.
func rawUpgrade(t testing.TB, addr, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if resp.StatusCode != http.StatusSwitchingProtocols {
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		body.Write(buf[:n])
	}
	return resp, body.String()
}

// TestRouteParamsRefused: a parameter holding '?', '#', '/' or a control
// character once decoded is refused with 400 before any backend is dialed
// (it was pasted into the backend URL as is: "%3F" injected a query, "%23"
// cut the configured token off).
func TestRouteParamsRefused(t *testing.T) {
	addr, uris := uriBackend(t)
	b := plainBackend("ws://" + addr + "/agents/{agent}?token=T")
	_, proxyAddr := startProxy(t, Config{Routes: []*Route{
		plainRoute("pt", "/pt/:agent", b),
		plainRoute("two", "/two/:a/:b", plainBackend("ws://"+addr+"/{a}/{b}")),
	}})
	for _, target := range []string{
		"/pt/a3%3Ftoken=attacker%26x",
		"/pt/a3%23",
		"/pt/a%3fb",
		"/two/a%2Fb",
		"/two/a%2fb",
		"/pt/a%00b",
		"/pt/a%0D%0AX-Injected:%201",
		"/pt/a%7Fb",
		"/pt/a%5Cb",
	} {
		resp, body := rawUpgrade(t, proxyAddr, target)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"bad_parameter"`) ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q, want 400 with a JSON bad_parameter body", target, resp.StatusCode, body)
		}
	}
	select {
	case uri := <-uris:
		t.Errorf("backend was dialed with %q", uri)
	default:
	}
}

// TestRouteParamsEscaped: a parameter lands escaped for its place in the
// backend URL (path segment or query value), the backend decodes it back to
// what the client sent, and the configured query arrives intact.
func TestRouteParamsEscaped(t *testing.T) {
	addr, uris := uriBackend(t)
	_, proxyAddr := startProxy(t, Config{Routes: []*Route{
		plainRoute("pt", "/pt/:agent", plainBackend("ws://"+addr+"/agents/{agent}?token=T&as={agent}")),
	}})
	for _, tt := range []struct{ target, want string }{
		{"/pt/bob", "bob"},
		{"/pt/hello%20w%C3%B6rld", "hello wörld"},
		{"/pt/h%C3%A9llo", "héllo"},
		{"/pt/a&b=c;d,e+f%25", "a&b=c;d,e+f%"},
		{"/pt/%7Bagent%7D", "{agent}"},
	} {
		resp, body := rawUpgrade(t, proxyAddr, tt.target)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("%s: %d %s", tt.target, resp.StatusCode, body)
			continue
		}
		var uri string
		select {
		case uri = <-uris:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: backend not dialed", tt.target)
		}
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			t.Errorf("%s: backend got unparsable %q: %v", tt.target, uri, err)
			continue
		}
		q := u.Query()
		if u.Path != "/agents/"+tt.want || len(q) != 2 || q.Get("token") != "T" || q.Get("as") != tt.want {
			t.Errorf("%s: backend got %q (path %q, query %v); want path /agents/%s, token=T, as=%s",
				tt.target, uri, u.Path, q, tt.want, tt.want)
		}
	}
}

func TestExpandParams(t *testing.T) {
	ps := []Param{{Name: "a", Value: "x y/?#@:"}}
	tests := []struct{ in, want string }{
		{"ws://h/p/{a}", "ws://h/p/x%20y%2F%3F%23@:"},
		{"ws://h/p?q={a}", "ws://h/p?q=x+y%2F%3F%23%40%3A"},
		{"ws://h?q={a}", "ws://h?q=x+y%2F%3F%23%40%3A"},
		{"ws://{a}.h/p", "ws://x+y%2F%3F%23%40%3A.h/p"},
		{"ws://h/p", "ws://h/p"},
	}
	for _, tt := range tests {
		if got := expandParams(tt.in, ps); got != tt.want {
			t.Errorf("expandParams(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBadParam(t *testing.T) {
	for _, v := range []string{".", "..", "a/b", `a\b`, "a?b", "a#b", "a\x00", "a\tb", "\x7f"} {
		if !badParam([]Param{{Name: "p", Value: v}}, nil) {
			t.Errorf("%q accepted", v)
		}
	}
	for _, v := range []string{"a", "...", "a.b", "héllo", "a b", "a%2Fb"} {
		if badParam([]Param{{Name: "p", Value: v}}, []byte("/x/"+v)) != (v == "a%2Fb") {
			t.Errorf("%q: wrong answer", v)
		}
	}
	if badParam(nil, []byte("/a%2Fb")) {
		t.Error("a route without parameters refused %2F")
	}
}
