package gpu

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Source is what a Poller samples: a *Sampler, or a fake in tests.
type Source interface {
	Sample() ([]Device, error)
	XIDs() map[XIDKey]uint64
}

// Poller samples a Source at a fixed interval in the background and keeps the latest
// Snapshot, so readers (a Prometheus scrape, the terminal view) never wait on NVML.
type Poller struct {
	src      Source
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	latest  Snapshot
	lastErr string
}

// NewPoller returns a poller of src every interval (flag --collector.gpu.interval). log
// receives sample errors, each distinct error once (and when they clear); nil discards.
func NewPoller(src Source, interval time.Duration, log *slog.Logger) (*Poller, error) {
	if src == nil {
		return nil, errors.New("gpu poller: no source")
	}
	if interval <= 0 {
		return nil, errors.New("gpu poller: interval must be positive, got " + interval.String())
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{src: src, interval: interval, log: log, now: time.Now}, nil
}

// Run samples at once, then every interval, until ctx is done.
func (p *Poller) Run(ctx context.Context) {
	p.Poll()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Poll()
		}
	}
}

// Poll samples once now, stores the result as the latest snapshot and returns it.
func (p *Poller) Poll() Snapshot {
	devs, err := p.src.Sample()
	xids := p.src.XIDs()
	now := p.now()

	p.mu.Lock()
	defer p.mu.Unlock()
	failures := p.latest.Failures
	if err != nil {
		failures++
	}
	p.latest = Snapshot{Time: now, Devices: devs, XIDs: xids, Err: err, Failures: failures}
	p.report(err)
	return p.latest
}

// report logs err when it differs from the previous sample's, and says when errors clear.
func (p *Poller) report(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case msg == p.lastErr:
	case err == nil:
		p.log.Info("gpu sample errors cleared")
	default:
		p.log.Warn("gpu sample", "err", err)
	}
	p.lastErr = msg
}

// Latest returns the last snapshot; its Time is zero before the first sample.
func (p *Poller) Latest() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latest
}
