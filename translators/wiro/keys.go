package wiro

import "github.com/agentbridge/agentbridge/translators"

// The configuration keys of Wiro backends. A Wiro backend has no url: its
// socket and API, shared by every route and session, are its own keys.

var backendKeys = []translators.Key{
	{Name: "api_url", Kind: translators.KeyURL, Values: []string{"http", "https"}, Required: true,
		Doc: "the http(s) base URL of the Wiro REST API"},
	{Name: "socket_url", Kind: translators.KeyURL, Values: []string{"ws", "wss"}, Required: true,
		Doc: "the ws(s) URL of the Wiro socket"},
	{Name: "api_key", Kind: translators.KeySecret, Required: true,
		Doc: `the Wiro API key, like "${WIRO_KEY}"`},
	{Name: "useragent_guid", Kind: translators.KeyString, Required: true,
		Doc: "the GUID of the Wiro agent to talk to"},
}

func endpoint(_ string, s translators.Settings) translators.Endpoint {
	return translators.Endpoint{
		URL:     s.String("socket_url"),
		APIURL:  s.String("api_url"),
		APIKey:  s.String("api_key"),
		AgentID: s.String("useragent_guid"),
		Options: translators.Options{Settings: s},
	}
}
