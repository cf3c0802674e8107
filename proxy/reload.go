package proxy

import (
	"errors"
	"fmt"
)

// table is what a new connection is routed with: the routes, their
// compiled router, the hubs of REST routes, the routes with HTTP
// endpoints, the ticket issuers and the base of ticket urls. A Server
// holds one at a time (Server.table); Reload swaps in another. A session
// keeps the *Route it started with, so a live session finishes on the
// configuration it began under.
type table struct {
	routes     []*Route
	router     *router
	hubs       map[*Route]*hub // routes whose clients use REST
	httpRoutes []*Route        // routes whose client dialect declares HTTP endpoints
	tickets    []*TicketIssuer
	public     string // base of ticket urls (wsBase of PublicURL), or ""
}

// newTable checks cfg's routes, fills in their defaults and builds the
// table for them. A REST route that old (the table in use, or nil) holds
// too keeps its hub, and with it its open conversations.
func (s *Server) newTable(cfg Config, old *table) (*table, error) {
	if len(cfg.Routes) == 0 {
		return nil, errors.New("proxy: no routes")
	}
	for _, rt := range cfg.Routes {
		if rt.Client.New == nil {
			return nil, fmt.Errorf("proxy: route %q: no client dialect", rt.Name)
		}
		b := rt.Backend
		if b == nil || b.Dialect.New == nil && b.Open == nil {
			return nil, fmt.Errorf("proxy: route %q: no backend", rt.Name)
		}
		if b.Open == nil && b.URL == "" {
			return nil, fmt.Errorf("proxy: route %q: backend %q has no URL", rt.Name, b.Name)
		}
	}
	public, err := wsBase(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	for _, rt := range cfg.Routes {
		s.metrics.route(rt)
		rt.Limits.setDefaults()
		rt.Session.setDefaults()
		rt.Backend.setDefaults()
	}
	tb := &table{
		routes:  cfg.Routes,
		router:  newRouter(cfg.Routes),
		hubs:    make(map[*Route]*hub),
		tickets: cfg.Tickets,
		public:  public,
	}
	for _, rt := range cfg.Routes {
		if rt.Client.REST != nil {
			h := (*hub)(nil)
			if old != nil {
				h = old.hubs[rt]
			}
			if h == nil {
				h = newHub(s, rt)
			}
			tb.hubs[rt] = h
		}
		if len(rt.Client.HTTP) > 0 {
			tb.httpRoutes = append(tb.httpRoutes, rt)
		}
	}
	return tb, nil
}

// Reload makes new connections use cfg's routes (with their auth providers
// and backends), ticket issuers and public URL. It checks cfg completely
// first: on an error nothing changes. Sessions already running finish on
// the routes they started with. The other fields of cfg (listener limits,
// keepalive, drain, logger, debug endpoints) are those given to New and
// stay: changing them takes a restart. cfg and its routes must not be
// changed afterwards; a route unchanged since the last configuration may
// be passed again as the same *Route, and a REST route then keeps its
// conversations.
func (s *Server) Reload(cfg Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	tb, err := s.newTable(cfg, s.table.Load())
	if err != nil {
		return err
	}
	s.table.Store(tb)
	return nil
}
