package wsconn

import "time"

// Bucket is a token bucket: rate tokens a second, at most burst at once.
// The zero Bucket allows everything. It is owned by one goroutine and lives
// inside its owner (no allocation per connection): a connection's cap on
// its peer's control frames, a pump's message rate.
type Bucket struct {
	rate, burst float64
	tokens      float64
	last        mono // 0: no token taken yet
}

// MakeBucket returns a Bucket for rate a second (none when rate <= 0);
// burst is raised to rate if lower.
func MakeBucket(rate, burst int) Bucket {
	if rate <= 0 {
		return Bucket{}
	}
	if burst < rate {
		burst = rate
	}
	return Bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// Allow takes a token if there is one.
func (b *Bucket) Allow() bool {
	if b.rate == 0 {
		return true
	}
	now := monoNow()
	if b.last != 0 {
		b.tokens += time.Duration(now-b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
