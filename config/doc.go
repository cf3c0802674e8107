// Package config loads agentbridge's YAML configuration into a File.
//
// A file goes through four steps, and every problem found on the way is
// collected so that one run reports them all, each with its line:
//
//  1. Decode. yaml.v3 decodes the text with KnownFields(true) into raw types
//     that mirror the YAML schema (raw.go), so a misspelt key is an error
//     rather than a silently ignored setting. The raw types keep every leaf
//     as a yaml.Node, which remembers its line and column. A route's or
//     backend's other keys are its dialect's: they are kept aside and
//     checked against what the dialects of the table given to Load declare
//     (translators.Key), so this package names no dialect (dialects.go).
//  2. Expand. Each scalar value is expanded before it is converted:
//     ${VAR} becomes the environment variable VAR, ${VAR:-default} falls back
//     to default when VAR is unset or empty, and $$ is a literal $. An unset
//     VAR without a default is an error (expand.go).
//  3. Convert and validate. Durations are Go durations ("30s", "1h"); sizes
//     are whole bytes with an optional unit ("512", "64KiB", "1MB"; see
//     ParseSize). Each section is checked on its own (validate*.go), then
//     the names routes use are checked against the auth providers and
//     backends defined, and routes against each other.
//  4. Default. Keys left out keep the documented defaults (defaults.go); a
//     route's limits are the global limits with the route's keys applied.
//
// Problems come back as one *Error whose lines read
//
//	config.yaml:12:11: routes[0].auth: required: list providers or write "auth: none"
//
// Every route must write its auth out: either a list of provider names,
// any of which admits a client, or the word none. There is no implicit
// default, so forgetting auth never opens a route to everyone.
//
// A loaded File holds secrets in clear text; print File.Redacted instead.
package config
