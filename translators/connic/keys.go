package connic

import "github.com/agentbridge/agentbridge/translators"

// The configuration keys of Connic backends. Connic routes have none of
// their own: session.streaming, which every route has, picks chunks or one
// response.

var backendKeys = []translators.Key{
	{Name: "secret", Kind: translators.KeySecret,
		Doc: "the backend's own secret, presented to it; never a client's"},
	{Name: "secret_in", Kind: translators.KeyEnum, Values: []string{"header", "query", "first_frame"}, Default: "header",
		Doc: `where secret goes: header (X-Connic-Secret), query, or first_frame ({"secret": ...})`},
}

func checkBackend(s translators.Settings) []translators.KeyError {
	if s.Written("secret_in") && !s.Written("secret") {
		return []translators.KeyError{{Key: "secret_in", Msg: "has no effect without secret"}}
	}
	return nil
}

func endpoint(url string, s translators.Settings) translators.Endpoint {
	return translators.Endpoint{
		URL:      url,
		Secret:   s.String("secret"),
		SecretIn: s.String("secret_in"),
		Options:  translators.Options{Settings: s},
	}
}
