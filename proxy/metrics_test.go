package proxy

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/demo"
)

// scrape GETs url with an optional bearer token and returns the status and
// body (the metrics, or any other GET of these tests).
func scrape(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample returns the value of the series line starting with series (name
// and labels as the text format writes them), or -1.
func sample(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return -1
}

// TestMetrics: sessions open and total by route and dialect pair, bytes
// of live sessions, messages and close codes once they end, refusals by
// status and reason, dial latency, and tickets.
func TestMetrics(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	tk, err := auth.NewTickets(auth.TicketsConfig{Name: "tickets", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	team := secretAuth(t, "team-secret")
	locked := plainRoute("locked", "/locked", demoBackend(demo.Agent{}))
	locked.Auth = []Authenticator{tk}
	_, addr := startProxy(t, Config{
		Routes:  []*Route{plainRoute("relay", "/relay", plainBackend(url)), locked},
		Tickets: []*TicketIssuer{{Tickets: tk, IssueWith: team}},
	})
	metricsURL := "http://" + addr + "/metrics"

	c := dial(t, wsURL(addr, "/relay"))
	for range 3 {
		c.send("hello")
		c.recv()
	}
	// A write is counted once its system call returns, which may be just
	// after the client read it: the scrape is tried again for a moment.
	var body string
	for deadline := time.Now().Add(2 * time.Second); ; {
		_, body = scrape(t, metricsURL, "")
		if sample(body, `agentbridge_bytes_total{direction="out",leg="client",route="relay"}`) >= float64(3*len("echo: hello")) &&
			sample(body, `agentbridge_bytes_total{direction="out",leg="backend",route="relay"}`) >= float64(3*len("hello")) ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := sample(body, `agentbridge_connections_open{backend_dialect="plain",client_dialect="plain",route="relay"}`); v != 1 {
		t.Errorf("connections_open = %v, want 1 while the session lives:\n%s", v, body)
	}
	if v := sample(body, `agentbridge_bytes_total{direction="out",leg="client",route="relay"}`); v < float64(3*len("echo: hello")) {
		t.Errorf("bytes out to the live client = %v, want at least the three replies", v)
	}
	if v := sample(body, `agentbridge_bytes_total{direction="out",leg="backend",route="relay"}`); v < float64(3*len("hello")) {
		t.Errorf("bytes out to the live backend = %v", v)
	}
	c.closeNormally()

	_, m := postTicket(t, addr, "team-secret", `{"route":"locked"}`)
	d := dial(t, wsURL(addr, "/locked?ticket="+m["ticket"]))
	d.send("x")
	d.recv()
	if st, _ := dialRefused(t, wsURL(addr, "/locked?ticket="+m["ticket"]), nil); st != 401 {
		t.Errorf("a used ticket: %d", st)
	}
	if st, _ := dialRefused(t, wsURL(addr, "/locked"), nil); st != 401 {
		t.Errorf("no ticket: %d", st)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body = scrape(t, metricsURL, "")
		if sample(body, `agentbridge_connections_open{backend_dialect="plain",client_dialect="plain",route="relay"}`) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for series, want := range map[string]float64{
		`agentbridge_connections_open{backend_dialect="plain",client_dialect="plain",route="relay"}`:  0,
		`agentbridge_connections_total{backend_dialect="plain",client_dialect="plain",route="relay"}`: 1,
		`agentbridge_connections_open{backend_dialect="demo",client_dialect="plain",route="locked"}`:  1,
		`agentbridge_messages_total{direction="from_client",route="relay"}`:                           3,
		`agentbridge_messages_total{direction="from_backend",route="relay"}`:                          3,
		`agentbridge_closes_total{closed_by="client",code="1000",route="relay"}`:                      1,
		`agentbridge_upgrades_refused_total{reason="unauthorized",route="locked",status="401"}`:       2,
		`agentbridge_tickets_total{result="minted"}`:                                                  1,
		`agentbridge_tickets_total{result="redeemed"}`:                                                1,
		`agentbridge_tickets_total{result="refused"}`:                                                 1,
		`agentbridge_backend_dial_seconds_count{route="relay"}`:                                       1,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if !regexp.MustCompile(`(?m)^go_goroutines `).MatchString(body) {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsOnAdmin: with MetricsOnAdmin, /metrics leaves the main
// listener for the admin one, where a scrape needs a credential.
func TestMetricsOnAdmin(t *testing.T) {
	srv, addr := startProxy(t, Config{
		Routes:         []*Route{plainRoute("p", "/p", demoBackend(demo.Agent{}))},
		MetricsOnAdmin: true,
		AdminAuth:      secretAuth(t, "scrape-secret"),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeAdmin(ln) }()
	admin := "http://" + ln.Addr().String()
	if st, _ := scrape(t, "http://"+addr+"/metrics", "scrape-secret"); st != 404 {
		t.Errorf("/metrics on the main listener: %d, want 404", st)
	}
	if st, _ := scrape(t, admin+"/metrics", ""); st != 401 {
		t.Errorf("a scrape without a credential: %d, want 401", st)
	}
	if st, _ := scrape(t, admin+"/metrics", "wrong"); st != 401 {
		t.Errorf("a scrape with a wrong credential: %d, want 401", st)
	}
	st, body := scrape(t, admin+"/metrics", "scrape-secret")
	if st != 200 || !strings.Contains(body, `agentbridge_connections_open{backend_dialect="demo",client_dialect="plain",route="p"} 0`) {
		t.Errorf("scrape: %d\n%s", st, body)
	}
	if st, _ := scrape(t, admin+"/healthz", ""); st != 200 {
		t.Errorf("/healthz on the admin listener: %d", st)
	}
}

// TestMetricsTranslationResumePoller: upgrade times by route, client
// messages a dialect refused, sessions kept for a resume, and the poller's
// figures. (Dropped frames: TestFramesDroppedAreCounted.)
func TestMetricsTranslationResumePoller(t *testing.T) {
	ag := agentsRoute(demoBackend(demo.Agent{}))
	oh := ohRoute(30 * time.Second)
	_, addr := startProxy(t, Config{Routes: []*Route{ag, oh}})
	metricsURL := "http://" + addr + "/metrics"

	a := dialAgents(t, addr, "/agents/a/m")
	a.send(`{"type":"cf_agent_use_chat_request","init":{"body":"{}"}}`) // no id: refused
	a.recv()

	o := dialOH(t, addr, "conv-m", -1)
	o.event()
	o.nc.Close() // kept for session.resume_window

	want := map[string]float64{
		`agentbridge_translation_errors_total{dialect="agents",route="agents"}`: 1,
		`agentbridge_sessions_resumable{route="oh"}`:                            1,
		`agentbridge_handshake_seconds_count{route="agents"}`:                   1,
		`agentbridge_handshake_seconds_count{route="oh"}`:                       1,
	}
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body = scrape(t, metricsURL, "")
		ok := true
		for series, v := range want {
			ok = ok && sample(body, series) == v
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for series, v := range want {
		if got := sample(body, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	for _, name := range []string{"agentbridge_poller_parked_connections", "agentbridge_poller_handoffs_total"} {
		if !regexp.MustCompile(`(?m)^` + name + ` `).MatchString(body) {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsCountTakenOverSessions: when a socket takes a session over
// (resume), what the old socket was sent stays in the totals and what the
// new one is sent is added: the bytes out to the route's clients grow by
// at least the replay.
func TestMetricsCountTakenOverSessions(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{ohRoute(30 * time.Second)}})
	metricsURL := "http://" + addr + "/metrics"
	const series = `agentbridge_bytes_total{direction="out",leg="client",route="oh"}`
	o1 := dialOH(t, addr, "conv-bytes", -1)
	o1.event()
	var before float64
	for deadline := time.Now().Add(2 * time.Second); ; {
		_, body := scrape(t, metricsURL, "")
		if before = sample(body, series); before > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	o1.nc.Close()
	o2 := dialOH(t, addr, "conv-bytes", -1) // takes the session over: the open packet, then the replay
	if ev := o2.event(); ev.ID != 1 {
		t.Fatalf("replayed %+v, want event 1", ev)
	}
	var after float64
	for deadline := time.Now().Add(2 * time.Second); ; {
		_, body := scrape(t, metricsURL, "")
		if after = sample(body, series); after > before || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after <= before {
		t.Fatalf("%s = %v after the take-over, %v before: the new socket's bytes are not counted", series, after, before)
	}
}
